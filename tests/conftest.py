"""Shared fixtures: emulated AWS (in-process for unit tests, the locked moto server for
threads), resources from infra/, the Chalice test client and dev tokens."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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

from chalicelib import aws, identity  # noqa: E402
from devtools.provision import provision  # noqa: E402


def _reset_clients():
    aws.client.cache_clear()


@pytest.fixture
def stage_env(monkeypatch):
    """The test stage's variables in os.environ, for calling chalicelib directly."""
    for name, value in STAGE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def emulated_aws(stage_env):
    """In-process moto with the stage's resources created from infra/."""
    _reset_clients()
    with mock_aws():
        provision(STAGE)
        yield
    _reset_clients()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def emulator_server():
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
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


_stack_counter = iter(range(10_000))


@pytest.fixture
def server_aws(emulator_server, stage_env, monkeypatch):
    """Fresh resources from infra/ on the moto server, under a stage name of their own."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator_server)
    _reset_clients()
    stage = f"t{os.getpid()}x{next(_stack_counter)}"
    outputs = provision(stage)
    monkeypatch.setenv("TABLE_NAME", outputs["TableName"])
    monkeypatch.setenv("MEDIA_BUCKET", outputs["MediaBucketName"])
    yield outputs
    _reset_clients()


@pytest.fixture
def client(emulated_aws):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as test_client:
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
