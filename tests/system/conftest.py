"""The system tier: the API as web clients meet it (`chalice local` in a subprocess on its
own moto server), the Chalice test client on the moto server (faults injected in botocore,
real HTTP to S3), threaded races, the browser, packaging and fuzzing."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from devtools.provision import provision
from tests.conftest import ROOT, STAGE, STAGE_ENV, _reset_clients, _test_client


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


@pytest.fixture
def server_client(server_aws):
    """The Chalice test client on the moto server: for faults injected in botocore, which
    in-process moto would answer anyway."""
    with _test_client() as test_client:
        yield test_client


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


def _new_stage(emulator_url: str) -> None:
    """Reset the emulator at `emulator_url` and provision the test stage on it again."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{emulator_url}/moto-api/reset", method="POST")).close()
    with pytest.MonkeyPatch.context() as env:
        for name, value in STAGE_ENV.items():
            env.setenv(name, value)
        env.setenv("AWS_ENDPOINT_URL", emulator_url)
        _reset_clients()
        try:
            provision(STAGE)
        finally:
            _reset_clients()


@pytest.fixture
def empty_api_stage(api_server, api_emulator):
    """`api_server` on a new, empty stage (same table, bucket and queues, nothing in them).
    moto keeps every record of the table's stream and copies the table, stream included,
    for each item of each transaction: on a stage kept for the whole session, every race
    would be slower than the one before."""
    _new_stage(api_emulator)
    return api_server
