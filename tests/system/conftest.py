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
import urllib.error
import urllib.parse
import urllib.request

import pytest

from devtools.provision import provision
from tests.conftest import ROOT, STAGE, STAGE_ENV, _reset_clients, _test_client, token


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
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # The stage's own address is where it serves the sandbox's payment pages (redirect_url).
    env = {**os.environ, **STAGE_ENV, "AWS_ENDPOINT_URL": emulator_server, "API_URL": base}
    provision_env = {"AWS_ENDPOINT_URL": emulator_server, **STAGE_ENV}
    subprocess.run(
        [sys.executable, "-c", f"from devtools.provision import provision; provision({STAGE!r})"],
        cwd=ROOT,
        env={**os.environ, **provision_env},
        check=True,
        capture_output=True,
    )
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


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    """Redirects answered as they are (a 303 to the pledge's return_url stays a 303)."""

    def redirect_request(self, *args, **kwargs):
        return None


def post_form(url: str, fields: dict[str, str], headers=None):
    """A form POST, as a browser sends it, redirects not followed; answers (status,
    headers, body text)."""
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(fields).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
    )
    try:
        with urllib.request.build_opener(_Unfollowed).open(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def pay(base: str, pledge: dict, outcome: str = "succeeded"):
    """The buttons of the sandbox's hosted page for a pledge just made (its answer):
    POST its `payment.redirect_url`, a page of the API at `base`, with the form field
    `outcome`. Answers post_form's."""
    page = pledge["payment"]["redirect_url"]
    assert page.startswith(f"{base}/sandbox/payments/"), page
    return post_form(page, {"outcome": outcome})


def payment_id(pledge: dict) -> str:
    """The provider's payment of a pledge just made: the last segment of its page."""
    return urllib.parse.urlsplit(pledge["payment"]["redirect_url"]).path.rsplit("/", 1)[1]


def _new_stage(emulator_url: str) -> None:
    """Reset the emulator at `emulator_url` and provision the test stage on it again."""
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


# --- pledges over HTTP, paid as a browser pays them ---------------------------------------


def signed_in(sub: str, **headers) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, name=sub.title())}", **headers}


def my_pledge(base: str, contributor: str, pledge_id: str) -> dict:
    """A pledge as its contributor now sees it in /me/pledges."""
    status, _, page = http_call("GET", f"{base}/me/pledges?limit=100", None, signed_in(contributor))
    assert status == 200, page
    return next(p for p in page["items"] if p["id"] == pledge_id)


def give(base: str, campaign_id: str, contributor: str, body: dict, key: str = "1", outcome="succeeded"):
    """A contributor's pledge as their browser makes it: asked for, then paid (or refused:
    `outcome` "failed") on the sandbox's hosted page; None leaves it waiting. Answers (the
    POST's status, the pledge as its contributor then sees it, or the error)."""
    url = f"{base}/campaigns/{campaign_id}/pledges"
    status, _, made = http_call("POST", url, body, signed_in(contributor, **{"Idempotency-Key": key}))
    if status != 201 or outcome is None:
        return status, made
    paid, _, page = pay(base, made, outcome)
    assert paid == 303, page  # back to the pledge's return_url
    return status, my_pledge(base, contributor, made["id"])


def escrow_money(campaign_id: str) -> tuple[int, int]:
    """A campaign's escrow as the ledger has it (its "paid" entries less its "refunded"
    ones) and as the sandbox provider holds it. Calls storage: AWS_ENDPOINT_URL must be
    the API's emulator."""
    from chalicelib import storage

    entries = list(storage.every(storage.ledger.entries, campaign_id))
    by_kind = {kind: sum(e.amount_cents for e in entries if e.kind == kind) for kind in ("paid", "refunded")}
    campaign = storage.campaigns.get(campaign_id)
    assert campaign is not None and campaign.escrow_id
    return by_kind["paid"] - by_kind["refunded"], storage.sandbox.wallet_balance(campaign.escrow_id) or 0
