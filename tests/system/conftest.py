"""The system tier: the API as web clients meet it (`chalice local` in a subprocess on its
own moto server), threaded races, the browser, packaging and fuzzing."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, STAGE, STAGE_ENV, _emulator, _free_port


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
