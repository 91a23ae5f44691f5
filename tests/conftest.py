"""Shared fixtures: emulated AWS (in-process for unit tests, the locked moto server for
threads), resources from infra/, the Chalice test client and dev tokens."""

import contextlib
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
from tests import aws_calls  # noqa: E402

# Least privilege (tests/test_infra.py): record the AWS operations that app.py and
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


@pytest.fixture(scope="session")
def api_emulator():
    """The emulator behind `api_server`, apart from the one that tests reset."""
    with _emulator() as url:
        yield url


@pytest.fixture(scope="session")
def api_server(api_emulator):
    """`chalice local` of the test stage in a subprocess, on its own locked moto server:
    the API as web clients meet it, for black-box and threaded tests."""
    emulator_server = api_emulator
    env = {**os.environ, **STAGE_ENV, "AWS_ENDPOINT_URL": emulator_server}
    provision_env = {"AWS_ENDPOINT_URL": emulator_server, **STAGE_ENV}
    subprocess.run(
        [sys.executable, "-c", f"from devtools.provision import provision; provision({STAGE!r})"],
        cwd=ROOT,
        env={**os.environ, **provision_env},
        check=True,
        capture_output=True,
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devtools.chalice_local",
            "--stage",
            STAGE,
            "--no-autoreload",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("OZE_API_LOG", os.devnull), "w"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=10)


def http_call(method: str, url: str, body=None, headers=None):
    """One HTTP request; answers (status, headers, decoded JSON or None)."""
    import urllib.error
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, answer_headers, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, dict(error.headers), error.read()
    return status, answer_headers, json.loads(raw) if raw else None
