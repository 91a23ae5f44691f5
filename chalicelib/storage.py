"""DynamoDB access: the only module that knows table keys, indexes and expressions.

Key design (also in infra/template.yaml):

    item                pk                       sk           index attributes
    campaign            CAMPAIGN#<id>            CAMPAIGN     user_pk/user_sk (owner),
                                                              status_pk/status_sk (submitted, live),
                                                              public_pk (+ launched_at, ends_at, raised_cents)
    platform counters   STATS                    GLOBAL       -

A campaign's rewards live inside its item (map `rewards`), so one GetItem serves a
campaign page and one Query a list page, and a pledge updates stock and totals of one
item. Domain errors come out of here instead of botocore's ClientError.
"""

import base64
import binascii
import json
import random
import time
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from . import aws
from .errors import BadRequest, Conflict
from .settings import get_settings

STATS_KEY = {"pk": "STATS", "sk": "GLOBAL"}
# Partitions of the public_* indexes: the default public list shows live and ended
# campaigns in one Query; cancelled ones are listed only when asked for.
PUBLIC_PARTITIONS = {"live": "PUBLIC", "succeeded": "PUBLIC", "failed": "PUBLIC", "cancelled": "CANCELLED"}
# Partitions of by_status, with the attribute that orders each: the moderation queue by
# submission time, the campaigns due for closure by deadline.
WORK_PARTITIONS = {"submitted": ("SUBMITTED", "submitted_at"), "live": ("LIVE", "ends_at")}
PUBLIC_SORTS = {
    "newest": ("public_newest", False),
    "ending_soon": ("public_ending", True),
    "most_funded": ("public_funded", False),
}
KEY_ATTRIBUTES = ("pk", "sk", "user_pk", "user_sk", "status_pk", "status_sk", "public_pk")
MAX_READ_AHEAD = 5
TRANSACTION_ATTEMPTS = 5

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _dynamodb():
    return aws.client("dynamodb")


def _table() -> str:
    return get_settings().table_name


def _to_ddb(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in value.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _from_ddb(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items() if k not in KEY_ATTRIBUTES}


def _campaign_key(campaign_id: str) -> dict[str, str]:
    return {"pk": f"CAMPAIGN#{campaign_id}", "sk": "CAMPAIGN"}


def _index_attributes(campaign: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Index attributes to set and to remove for a campaign in its current status."""
    status = campaign["status"]
    values: dict[str, Any] = {}
    removed: list[str] = []
    if status in WORK_PARTITIONS:
        partition, order = WORK_PARTITIONS[status]
        values["status_pk"], values["status_sk"] = partition, campaign[order]
    else:
        removed += ["status_pk", "status_sk"]
    if status in PUBLIC_PARTITIONS:
        values["public_pk"] = PUBLIC_PARTITIONS[status]
    else:
        removed.append("public_pk")
    return values, removed


# --- cursors -------------------------------------------------------------------------


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise BadRequest(
            "cursor: not a cursor given by this API", [{"field": "cursor", "message": "invalid cursor"}]
        ) from exc
    if not isinstance(key, dict) or not all(isinstance(v, dict) for v in key.values()):
        raise BadRequest("cursor: not a cursor given by this API", [{"field": "cursor", "message": "invalid cursor"}])
    return key


# --- low-level calls -------------------------------------------------------------------


def _cancellation_codes(error: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def transact(items: list[dict[str, Any]], conflict_detail: str) -> None:
    """TransactWriteItems, retried on transaction conflicts; a failed condition is a Conflict."""
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            _dynamodb().transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            code = error.response["Error"]["Code"]
            codes = _cancellation_codes(error)
            if code == "TransactionCanceledException" and "ConditionalCheckFailed" in codes:
                raise Conflict(conflict_detail) from error
            retryable = code in ("TransactionConflictException", "TransactionInProgressException") or (
                code == "TransactionCanceledException" and "TransactionConflict" in codes
            )
            if not retryable or attempt == TRANSACTION_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.05 * 2**attempt))


def _query(
    index: str | None,
    key_condition: str,
    values: dict[str, Any],
    *,
    limit: int,
    cursor: str | None,
    forward: bool = True,
    filter_expression: str | None = None,
    names: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a Query. Without a filter, exactly one request; with a filter, reads
    ahead (a bounded number of requests) until the page is full."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": _to_ddb(values),
        "ScanIndexForward": forward,
    }
    if index:
        request["IndexName"] = index
    if filter_expression:
        request["FilterExpression"] = filter_expression
    if names:
        request["ExpressionAttributeNames"] = names
    start_key = decode_cursor(cursor)
    items: list[dict[str, Any]] = []
    for _ in range(MAX_READ_AHEAD):
        request["Limit"] = limit - len(items)
        if start_key:
            request["ExclusiveStartKey"] = start_key
        try:
            answer = _dynamodb().query(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException" and start_key:
                raise BadRequest(
                    "cursor: not a cursor for this list", [{"field": "cursor", "message": "invalid cursor"}]
                ) from error
            raise
        items += [_from_ddb(item) for item in answer.get("Items", [])]
        start_key = answer.get("LastEvaluatedKey")
        if not start_key or len(items) >= limit:
            break
    return items, encode_cursor(start_key)


# --- campaigns -------------------------------------------------------------------------


def _counter_update(changes: dict[str, int]) -> dict[str, Any]:
    names = {f"#c{i}": f"count_{status}" for i, status in enumerate(changes)}
    values = {f":c{i}": delta for i, delta in enumerate(changes.values())}
    return {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(STATS_KEY),
            "UpdateExpression": "ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True)),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _to_ddb(values),
        }
    }


def create_campaign(campaign: dict[str, Any]) -> None:
    index_values, _ = _index_attributes(campaign)
    item = {
        **campaign,
        **_campaign_key(campaign["id"]),
        **index_values,
        "user_pk": f"USER#{campaign['owner_id']}",
        "user_sk": f"CAMPAIGN#{campaign['created_at']}#{campaign['id']}",
    }
    put = {
        "Put": {
            "TableName": _table(),
            "Item": _to_ddb(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    transact([put, _counter_update({campaign["status"]: 1})], "a campaign with this id exists")


def get_campaign(campaign_id: str) -> dict[str, Any] | None:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_campaign_key(campaign_id)), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def _update_expression(
    set_values: dict[str, Any], remove: list[str], map_entries: dict[str, dict[str, Any] | None]
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """SET/REMOVE clauses over plain attributes and over entries of map attributes
    (`map_entries` maps "rewards" -> {entry id: value, or None to remove it})."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets, removes = [], []
    for i, (name, value) in enumerate(set_values.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, value
        sets.append(f"#s{i} = :s{i}")
    for i, name in enumerate(remove):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    for i, (attribute, entries) in enumerate(map_entries.items()):
        names[f"#m{i}"] = attribute
        for j, (entry_id, value) in enumerate(entries.items()):
            names[f"#m{i}e{j}"] = entry_id
            if value is None:
                removes.append(f"#m{i}.#m{i}e{j}")
            else:
                values[f":m{i}e{j}"] = value
                sets.append(f"#m{i}.#m{i}e{j} = :m{i}e{j}")
    expression = ""
    if sets:
        expression += "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return expression.strip(), names, values


def _campaign_update(
    campaign_id: str,
    expected_status: str,
    set_values: dict[str, Any],
    remove: list[str] = (),
    map_entries: dict[str, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    expression, names, values = _update_expression(set_values, list(remove), map_entries or {})
    names["#status"] = "status"
    values[":expected"] = expected_status
    return {
        "TableName": _table(),
        "Key": _to_ddb(_campaign_key(campaign_id)),
        "UpdateExpression": expression,
        "ConditionExpression": "#status = :expected",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": _to_ddb(values),
    }


def update_draft(
    campaign_id: str, changes: dict[str, Any], map_entries: dict[str, dict[str, Any] | None] | None = None
) -> None:
    """Edit a campaign that must still be a draft when the write lands."""
    request = _campaign_update(campaign_id, "draft", changes, map_entries=map_entries)
    try:
        _dynamodb().update_item(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict("the campaign is no longer a draft") from error
        raise


def transition(campaign: dict[str, Any], new_status: str, changes: dict[str, Any], remove: list[str] = ()) -> None:
    """Move a campaign from its current status to `new_status`, with the platform
    counters in the same transaction; fails with Conflict if its status changed since read."""
    after = {**campaign, **changes, "status": new_status}
    index_values, index_removed = _index_attributes(after)
    update = _campaign_update(
        campaign["id"],
        campaign["status"],
        {**changes, "status": new_status, **index_values},
        [*remove, *index_removed],
    )
    counters = _counter_update({campaign["status"]: -1, new_status: 1})
    transact([{"Update": update}, counters], f"the campaign is no longer {campaign['status']}")


def list_public(
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    now: str,
    status: str | None,
    category: str | None,
    postcode: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    index, forward = PUBLIC_SORTS[sort]
    partition = PUBLIC_PARTITIONS.get(status or "live")
    values: dict[str, Any] = {":p": partition}
    key_condition = "public_pk = :p"
    if sort == "ending_soon":
        key_condition += " AND ends_at >= :now"
        values[":now"] = now
    filters, names = [], {}
    for name, value in (("status", status if partition == "PUBLIC" else None), ("category", category)):
        if value:
            names[f"#{name}"], values[f":{name}"] = name, value
            filters.append(f"#{name} = :{name}")
    if postcode:
        values[":postcode"] = postcode
        filters.append("begins_with(postcode, :postcode)")
    return _query(
        index,
        key_condition,
        values,
        limit=limit,
        cursor=cursor,
        forward=forward,
        filter_expression=" AND ".join(filters) or None,
        names=names or None,
    )


def list_by_owner(owner_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return _query(
        "by_user",
        "user_pk = :u AND begins_with(user_sk, :kind)",
        {":u": f"USER#{owner_id}", ":kind": "CAMPAIGN#"},
        limit=limit,
        cursor=cursor,
        forward=False,
    )


def list_by_status(
    status: str, *, limit: int, cursor: str | None, until: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Submitted campaigns by submission time, or live ones by deadline (up to `until`)."""
    partition, _ = WORK_PARTITIONS[status]
    key_condition, values = "status_pk = :p", {":p": partition}
    if until:
        key_condition += " AND status_sk <= :until"
        values[":until"] = until
    return _query("by_status", key_condition, values, limit=limit, cursor=cursor)


def get_counters() -> dict[str, int]:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(STATS_KEY))
    return _from_ddb(answer.get("Item", {}))
