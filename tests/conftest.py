"""Shared fixtures: emulated AWS (in-process moto, or the locked moto server for faults and
threads), resources from infra/, the Chalice test client and dev tokens.

The tiers (README, Tests): tests/unit (rules and records: no sockets, no emulator),
tests/storage (repository contracts on in-process moto), tests/api (the Chalice test
client), tests/system (`chalice local`, races, browser, packaging, fuzzing). Fixtures used
by one tier only live in that tier's conftest.py."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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
from devtools.provision import provision  # noqa: E402
from tests import aws_calls  # noqa: E402

# Least privilege (tests/system/test_infra.py): record the AWS operations that app.py and
# chalicelib perform in this process, before any boto3 session exists.
aws_calls.install()


def pytest_collection_modifyitems(items):
    aws_calls.move_last(items)  # the checks of what the whole run recorded


def _reset_clients():
    aws.client.cache_clear()


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
    """The stage's stack is still in moto (a test's own `mock_aws()` resets every backend)."""
    from moto.cloudformation.models import cloudformation_backends

    return any(
        stack.name == f"oze-{STAGE}" and stack.status == "CREATE_COMPLETE"
        for stack in cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION].stacks.values()
    )


_CLEANERS: dict = {}  # boto3 clients that empty the stack, made once


def _empty_stack() -> None:
    """Every item, object, message and sent mail gone; tables, bucket, queues and the SES
    identity kept: the next test starts from a new, empty stage. moto's backends say what
    holds something (free); the API deletes it."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.s3.models import s3_backends
    from moto.ses.models import ses_backends
    from moto.sqs.models import sqs_backends

    if not _CLEANERS:
        session = boto3.session.Session()
        _CLEANERS.update({service: session.client(service) for service in ("dynamodb", "s3", "sqs")})
    dynamodb, s3, sqs = _CLEANERS["dynamodb"], _CLEANERS["s3"], _CLEANERS["sqs"]
    for table in dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables.values():
        if not len(table):
            continue
        key = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        names = {f"#k{i}": name for i, name in enumerate(key)}
        keys = [
            item
            for page in dynamodb.get_paginator("scan").paginate(
                TableName=table.name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names
            )
            for item in page["Items"]
        ]
        for start in range(0, len(keys), 25):
            batch = [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            dynamodb.batch_write_item(RequestItems={table.name: batch})
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
    ses = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    ses.sent_messages.clear()
    ses.sent_message_count = ses.rejected_messages_count = 0
    if STAGE_ENV.get("SENDER_EMAIL") and STAGE_ENV["SENDER_EMAIL"] not in ses.email_identities:
        ses.verify_email_identity(STAGE_ENV["SENDER_EMAIL"])  # as provision() left it


SERVICES = ("dynamodb", "s3", "sqs", "ses")  # what app.py and chalicelib call


def _clients_reach_in_process_moto() -> bool:
    """The cached clients (chalicelib/aws.py) go to AWS's own endpoints in the stage's
    region, which in-process moto answers: none was made for a moto server."""
    return all(
        aws.client(service).meta.endpoint_url.endswith(f".{REGION}.amazonaws.com") for service in SERVICES
    )


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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _emulator():
    """The locked moto server in a subprocess, on a free loopback port."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.emulator", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.stdout.readline()  # "emulated AWS on …" once it listens
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def emulator_server():
    with _emulator() as url:
        yield url


@pytest.fixture
def server_aws(emulator_server, stage_env, monkeypatch):
    """The test stage's resources from infra/ on a freshly reset moto server."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{emulator_server}/moto-api/reset", method="POST")).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator_server)
    _reset_clients()
    yield provision(STAGE)
    _reset_clients()


def _test_client():
    from chalice.test import Client

    from app import app

    return Client(app, stage_name=STAGE, project_dir=str(ROOT))


@pytest.fixture
def client(emulated_aws):
    """The Chalice test client on in-process moto."""
    with _test_client() as test_client:
        yield test_client


@pytest.fixture
def server_client(server_aws):
    """The Chalice test client on the moto server: for faults injected in botocore, which
    in-process moto would answer anyway."""
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
