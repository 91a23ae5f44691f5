"""Every AWS operation that the application performs while the tests run, as the IAM
actions it needs: the evidence for the least-privilege check in tests/system/test_infra.py.

botocore emits events for each call and each presigned request; the handlers below are
added to botocore's built-in handlers (as moto adds its own), so every client of every
session has them. A call counts when the innermost project frame on the stack is in
app.py or chalicelib/; calls from tests/ and devtools/ (provisioning, inspection) do not.

From an operation to IAM actions (AWS's Service Authorization Reference):
- by default the same name: dynamodb:Query, s3:PutObject, sqs:SendMessage…
- dynamodb TransactWriteItems is authorised item by item: Put → PutItem, Update →
  UpdateItem, Delete → DeleteItem, ConditionCheck → ConditionCheckItem;
  TransactGetItems → GetItem;
- s3 HeadObject → GetObject; with a VersionId, GetObject/HeadObject/DeleteObject →
  …ObjectVersion; CopyObject → GetObject (source) and PutObject; DeleteObjects →
  DeleteObject; ListObjects(V2) and HeadBucket → ListBucket; a presigned URL or POST
  needs the action it presigns, since it is signed with the function's role;
- sqs …Batch → the single action (SendMessageBatch → SendMessage);
- SES v1 and v2 share the prefix ses (v2 SendEmail → ses:SendEmail).
Each action is paired with the kind of resource it touches (table, index, object,
bucket, queue, identity): a policy must grant it on that kind of resource.
"""

import os
import sys
from pathlib import Path

from botocore.handlers import BUILTIN_HANDLERS

ROOT = Path(__file__).resolve().parent.parent
_PROJECT = str(ROOT) + os.sep
_APPLICATION = (str(ROOT / "chalicelib") + os.sep, str(ROOT / "app.py"))
_DEPENDENCIES = str(ROOT / ".venv") + os.sep

# (IAM action, kind of resource) pairs, and the DynamoDB indexes queried.
CALLS: set[tuple[str, str]] = set()
INDEXES: set[str] = set()

TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
S3_BUCKET_ACTIONS = {"ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "HeadBucket": "ListBucket"}
S3_OBJECT_ACTIONS = {"HeadObject": "GetObject", "DeleteObjects": "DeleteObject"}
S3_VERSIONED = {"GetObject", "DeleteObject"}


def iam_actions(prefix: str, operation: str, params: dict) -> set[tuple[str, str]]:
    """The (IAM action, resource kind) pairs that one call needs."""
    if prefix == "dynamodb":
        if operation == "TransactWriteItems":
            return {
                (f"dynamodb:{TRANSACT_ITEM_ACTIONS[kind]}", "table")
                for item in params.get("TransactItems", [])
                for kind in item
            }
        if operation == "TransactGetItems":
            return {("dynamodb:GetItem", "table")}
        return {(f"dynamodb:{operation}", "index" if params.get("IndexName") else "table")}
    if prefix == "s3":
        if operation in S3_BUCKET_ACTIONS:
            return {(f"s3:{S3_BUCKET_ACTIONS[operation]}", "bucket")}
        if operation == "CopyObject":
            return {("s3:GetObject", "object"), ("s3:PutObject", "object")}
        action = S3_OBJECT_ACTIONS.get(operation, operation)
        if action in S3_VERSIONED and params.get("VersionId"):
            action += "Version"
        return {(f"s3:{action}", "object")}
    if prefix == "sqs":
        return {(f"sqs:{operation.removesuffix('Batch')}", "queue")}
    if prefix == "ses":
        return {(f"ses:{operation}", "identity")}
    return {(f"{prefix}:{operation}", prefix)}


def _from_application() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(_PROJECT) and not filename.startswith(_DEPENDENCIES):
            return filename.startswith(_APPLICATION)
        frame = frame.f_back
    return False


def _on_params(params, model, context, **_) -> None:
    """provide-client-params: every call and every presigned URL, with its parameters."""
    if context.get("is_presign_request") and model.name == "CreateBucket":
        return  # generate_presigned_post borrows CreateBucket's model; _on_sign records it
    if _from_application():
        CALLS.update(iam_actions(model.service_model.signing_name, model.name, params))
        if model.service_model.signing_name == "dynamodb" and params.get("IndexName"):
            INDEXES.add(params["IndexName"])


def _on_sign(request, **_) -> None:
    """before-sign: a presigned POST has no parameters event; it presigns a PutObject."""
    if "s3-presign-post-policy" in request.context and _from_application():
        CALLS.add(("s3:PutObject", "object"))


def install() -> None:
    """Hook every botocore session created from now on."""
    BUILTIN_HANDLERS.append(("provide-client-params", _on_params))
    BUILTIN_HANDLERS.append(("before-sign", _on_sign))


def runs_last(test):
    """Mark a test that reads what the whole run recorded."""
    test.runs_last = True
    return test


def move_last(items: list) -> None:
    """pytest_collection_modifyitems: tests marked runs_last go to the end."""
    last = [item for item in items if getattr(getattr(item, "obj", None), "runs_last", False)]
    for item in last:
        items.remove(item)
        items.append(item)
