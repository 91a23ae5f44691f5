"""Shared fixtures: in-process moto with the stage's resources from infra/, the Chalice
test client on it, and dev tokens.

The tiers (README, Tests): tests/unit (rules and records: no sockets, no emulator),
tests/storage (repository contracts on in-process moto), tests/api (the Chalice test
client), tests/system (`chalice local` and the moto server, races, browser, packaging,
fuzzing). Fixtures used by one tier only live in that tier's conftest.py."""

import json
import os
import threading
import time
from pathlib import Path

import _pytest.runner
import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())
STAGE = "test"
STAGE_ENV = {**CONFIG["environment_variables"], **CONFIG["stages"][STAGE]["environment_variables"]}

# Fake credentials and no endpoint: nothing here can reach a real AWS account.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION=STAGE_ENV["AWS_DEFAULT_REGION"],
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from moto import mock_aws  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402

from chalicelib import aws, identity  # noqa: E402
from devtools import moto_backups  # noqa: E402
from devtools.provision import provision  # noqa: E402
from tests import aws_calls  # noqa: E402

# Least privilege (tests/system/test_infra.py): record the AWS operations that app.py and
# chalicelib perform in this process, before any boto3 session exists.
aws_calls.install()


def pytest_collection_modifyitems(items):
    aws_calls.move_last(items)  # the checks of what the whole run recorded


def _reset_clients():
    aws.client.cache_clear()


# CPython 3.11 keeps frames on a stack of 16 KiB chunks and unmaps a chunk as soon as the
# call depth falls back below it: code that recurses up and down across a chunk's edge (moto
# parsing, validating, deep-copying and serialising each request) maps and unmaps 16 KiB
# again and again, some 2,000 times a test (perf: most of the page faults of a run, a third
# of its CPU). Each test (setup, call, teardown) runs above one frame of ~260 KiB, for which
# Python allocates a 512 KiB chunk: the rest of it, ~250 KiB, holds a test's whole stack.
_ROOMY_LOCALS = 33_000
_roomy_namespace: dict = {}
exec(
    compile(
        "def roomy(call, *args):\n    if False:\n        "
        + "=".join(f"v{i}" for i in range(_ROOMY_LOCALS))
        + " = None\n    return call(*args)\n",
        "<tests/conftest.py: roomy frame>",
        "exec",
    ),
    _roomy_namespace,
)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """pytest's own protocol (every other implementation is a wrapper), in the roomy frame."""
    return _roomy_namespace["roomy"](_pytest.runner.pytest_runtest_protocol, item, nextitem)


moto_backups.lighten()


def _one_moto_request_at_a_time() -> None:
    """Settlement refunds on several threads (REFUND_CONCURRENCY); in-process moto is not
    safe for that (a transaction copies the table another thread is writing), DynamoDB
    is. The threads still race: moto answers their requests one at a time, as the
    emulator's lock does for the moto server (devtools/emulator.py)."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    process = BotocoreStubber.process_request

    def serialised(self, request):
        with lock:
            return process(self, request)

    BotocoreStubber.process_request = serialised


_one_moto_request_at_a_time()


@pytest.fixture
def stage_env(monkeypatch):
    """The test stage's variables in os.environ, for calling chalicelib directly."""
    for name, value in STAGE_ENV.items():
        monkeypatch.setenv(name, value)


REGION = STAGE_ENV["AWS_DEFAULT_REGION"]


class _InProcessMoto:
    """In-process moto, kept for the whole session: on while tests that ask for
    `emulated_aws` run one after the other, off (started without reset, stopped without
    removing data) from the first test that does not, so that their resources outlive each
    test and other tests may use their own `mock_aws()` or a moto server. boto3's default
    session is kept: a new one per test would load the service models again."""

    def __init__(self):
        from moto.core.config import default_user_config

        self.mock = mock_aws(config={"core": {**default_user_config["core"], "reset_boto3_session": False}})
        self.on = False

    def start(self):
        if not self.on:
            self.mock.start(reset=False)
            self.on = True

    def stop(self):
        if self.on:
            self.mock.stop(remove_data=False)
            self.on = False


_IN_PROCESS = _InProcessMoto()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if "emulated_aws" not in getattr(item, "fixturenames", ()):
        _IN_PROCESS.stop()


def pytest_sessionfinish(session):
    _IN_PROCESS.stop()


def _stack_exists() -> bool:
    """The stage's resources are still in moto (a test's own `mock_aws()` resets every
    backend, and removes their data when it stops)."""
    from moto.dynamodb.models import dynamodb_backends

    return STAGE_ENV["TABLE_NAME"] in dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables


_CLEANERS: dict = {}  # boto3 clients that empty the stack, made once


def _empty_stack() -> None:
    """Every item, object, message and sent mail gone; tables, bucket, queues and the SES
    identity kept: the next test starts from a new, empty stage. moto's backends say what
    holds something (free); the API deletes objects and messages."""
    from moto.core.model_instances import reset_model_data
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.ses.models import ses_backends
    from moto.sqs.models import sqs_backends

    if not _CLEANERS:
        session = boto3.session.Session()
        _CLEANERS.update({service: session.client(service) for service in ("s3", "sqs")})
    s3, sqs = _CLEANERS["s3"], _CLEANERS["sqs"]
    for table in dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables.values():
        # Dropped in moto itself: a Scan and deletes through the API cost as much as a short
        # test (moto serialises every answer), and would leave REMOVE records in the stream.
        # moto's GSIs are views of these items; its stream keeps every change (and moto
        # copies the whole table, stream included, for each item of a transaction).
        table.items.clear()
        if table.stream_shard is not None:
            table.stream_shard.items.clear()
        assert len(table) == 0
    for bucket in s3_backends[DEFAULT_ACCOUNT_ID]["global"].buckets.values():
        if not bucket.keys:
            continue
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket.name):
            versions = page.get("Versions", []) + page.get("DeleteMarkers", [])
            if versions:
                objects = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
                s3.delete_objects(Bucket=bucket.name, Delete={"Objects": objects})
    with pytest.MonkeyPatch.context() as env:  # moto refuses a second purge within 60 s
        env.setenv("MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR", "false")
        for queue in sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues.values():
            if queue._messages:
                sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=queue.name)["QueueUrl"])
    reset_model_data()  # moto's list of every object it made (for its dashboard), copies included
    ses = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    ses.sent_messages.clear()
    ses.sent_message_count = ses.rejected_messages_count = 0
    if STAGE_ENV.get("SENDER_EMAIL") and STAGE_ENV["SENDER_EMAIL"] not in ses.email_identities:
        ses.verify_email_identity(STAGE_ENV["SENDER_EMAIL"])  # as provision() left it


SERVICES = ("dynamodb", "s3", "sqs", "ses")  # what app.py and chalicelib call


def _clients_reach_in_process_moto() -> bool:
    """The cached clients (chalicelib/aws.py) go to AWS's own endpoints in the stage's
    region, which in-process moto answers: none was made for a moto server."""
    return all(aws.client(service).meta.endpoint_url.endswith(f".{REGION}.amazonaws.com") for service in SERVICES)


@pytest.fixture
def emulated_aws(stage_env):
    """In-process moto with the stage's resources created from infra/: provisioned once per
    session (again only if a test reset moto) and emptied after each test. The application's
    clients are kept from one such test to the next (making them is most of a short test);
    fixtures that point them elsewhere (server_aws) clear them before and after."""
    _IN_PROCESS.start()
    if not _clients_reach_in_process_moto():
        _reset_clients()
    if not _stack_exists():
        provision(STAGE)
    yield
    _empty_stack()


def _test_client():
    from chalice.test import Client

    from app import app

    return Client(app, stage_name=STAGE, project_dir=str(ROOT))


@pytest.fixture
def client(emulated_aws):
    """The Chalice test client on in-process moto."""
    with _test_client() as test_client:
        yield test_client


def token(sub: str, *, name: str = "", email: str = "", groups: tuple[str, ...] = ()) -> str:
    claims = {"sub": sub, "name": name, "email": email or f"{sub}@exemple.fr"}
    if groups:
        claims["cognito:groups"] = list(groups)
    return identity.sign_dev_token(STAGE_ENV["DEV_JWT_SECRET"], claims)


def bearer(sub: str, **claims) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, **claims)}", "Content-Type": "application/json"}


@pytest.fixture
def wait_for():
    def wait(predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return False

    return wait
