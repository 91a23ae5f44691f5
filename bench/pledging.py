"""Pledges per second against the locked emulator (issue 3): a figure to compare later,
not a target, since it measures moto's speed as much as ours.

    .venv/bin/python -m bench.pledging [--pledges 500] [--threads 8]

A pledge here is what a contributor's pledge costs the API since pledges are paid into
escrow: the pledge made (POST /campaigns/{id}/pledges: 201, pending_payment) and its
payment confirmed (the sandbox provider's hosted page, POST redirect_url with
outcome=succeeded: the sandbox completes the payment, then notifies the API in-process,
which reads the payment again and counts the pledge; 303 to the pledge's return_url, not
followed). Both requests are in each pledge's time; the sandbox's own requests (its PSP#
items, in the same table) with them, where a real provider would answer over HTTPS.

The locked emulator (devtools/emulator.py, moto's server serving one request at a time)
runs in a subprocess with the test stage's resources from infra/; then again with the
speed-ups of bench/moto_speed.py. On each, three measures, each on a freshly reset
emulator and a new live campaign, each pledge by another contributor with its own
Idempotency-Key:
- sequential, through the Chalice test client in this process (as the tests call the API);
- sequential, then with N threads, over HTTP to `chalice local` of the test stage in a
  subprocess (the test client swaps os.environ at each call: it cannot serve threads).
After each measure the campaign's total and pledge count must equal the pledges made
(only paid pledges count).
"""

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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bench import requests
from bench.requests import MODERATOR, OWNER, PAYOUT_ACCOUNT, ROOT, STAGE, STAGE_ENV, campaign_body, headers

AMOUNT_CENTS = 2_500


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _process(arguments: list[str], env: dict[str, str] | None = None, pipe: bool = False) -> Iterator[subprocess.Popen]:
    """A subprocess whose output goes to $OZE_BENCH_LOG (default: nowhere); with `pipe`, its
    stdout comes here instead, and must be read as long as it writes (a full pipe blocks it)."""
    log = open(os.environ.get("OZE_BENCH_LOG", os.devnull), "a")  # noqa: SIM115
    stdout = subprocess.PIPE if pipe else log
    process = subprocess.Popen([sys.executable, *arguments], cwd=ROOT, env=env, stdout=stdout, stderr=log, text=True)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


EMULATORS = {"stock moto": "devtools.emulator", "moto_speed": "bench.moto_speed"}


@contextlib.contextmanager
def emulator(module: str = "devtools.emulator") -> Iterator[str]:
    """The locked emulator on a free port, as tests/conftest.py starts it (or with the
    speed-ups of bench/moto_speed.py)."""
    port = _free_port()
    with _process(["-m", module, "--port", str(port)], pipe=True) as process:
        process.stdout.readline()  # "emulated AWS on …" once it listens, its only line
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def chalice_local(endpoint: str) -> Iterator[str]:
    """`chalice local` of the test stage, on the emulator at `endpoint`."""
    port = _free_port()
    env = {**os.environ, **STAGE_ENV, "AWS_ENDPOINT_URL": endpoint}
    arguments = ["-m", "devtools.chalice_local", "--stage", STAGE, "--no-autoreload", "--host", "127.0.0.1"]
    with _process([*arguments, "--port", str(port)], env):
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"


# --- two ways of calling the API ----------------------------------------------------------

Call = Callable[[str, str, dict | None, dict[str, str]], tuple[int, dict]]
Pay = Callable[[str], int]  # the payment page's "pay" button, by payment id: the status answered

PAID = urllib.parse.urlencode({"outcome": "succeeded"}).encode()
FORM = {"Content-Type": requests.FORM}


def test_client_call(client) -> Call:
    def call(method: str, path: str, body: dict | None, as_: dict[str, str]) -> tuple[int, dict]:
        payload = json.dumps(body).encode() if body is not None else b""
        with requests.app_logs_muted():
            answer = client.http.request(method, path, headers=as_, body=payload)
        return answer.status_code, answer.json_body

    return call


def test_client_pay(client) -> Pay:
    def pay(payment_id: str) -> int:
        with requests.app_logs_muted():
            return client.http.post(f"/sandbox/payments/{payment_id}", headers=FORM, body=PAID).status_code

    return pay


def http_call(base: str) -> Call:
    def call(method: str, path: str, body: dict | None, as_: dict[str, str]) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method, headers=as_)
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    return call


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # the 303 to the pledge's return_url (the site) is the answer


_opener = urllib.request.build_opener(_NoRedirect)


def http_pay(base: str) -> Pay:
    def pay(payment_id: str) -> int:
        request = urllib.request.Request(f"{base}/sandbox/payments/{payment_id}", data=PAID, headers=FORM)
        try:
            with _opener.open(request, timeout=60) as answer:
                answer.read()
                return answer.status
        except urllib.error.HTTPError as error:  # a redirect not followed comes as one
            error.read()
            return error.code

    return pay


def _expect(answer: tuple[int, dict], status: int, what: str) -> dict:
    if answer[0] != status:
        raise AssertionError(f"{what}: {answer[0]}, expected {status}: {answer[1]}")
    return answer[1]


def live_campaign(call: Call, title: str) -> str:
    created = _expect(call("POST", "/campaigns", campaign_body(title=title), OWNER), 201, "create")
    _expect(call("POST", f"/campaigns/{created['id']}/submit", None, OWNER), 200, "submit")
    if call("GET", "/me/payout-account", None, OWNER)[0] == 404:
        _expect(call("POST", "/me/payout-account", PAYOUT_ACCOUNT, OWNER), 201, "payout account")
    _expect(call("POST", f"/campaigns/{created['id']}/approve", None, MODERATOR), 200, "approve")
    return created["id"]


# --- the measure ----------------------------------------------------------------------------


@dataclass
class Rate:
    how: str
    emulator: str
    threads: int
    pledges: int
    seconds: float
    done: list[float]  # when each pledge was answered, seconds from the start, in order

    @property
    def per_second(self) -> float:
        return self.pledges / self.seconds

    def fifth(self, last: bool) -> float:
        """Pledges per second over the first or the last fifth of the pledges."""
        n = max(len(self.done) // 5, 1)
        span = self.done[-1] - self.done[-n - 1] if last else self.done[n - 1]
        return n / span


def pledge_many(call: Call, pay: Pay, how: str, count: int, threads: int, first: int, emulator_name: str = "") -> Rate:
    """`count` pledges on a new live campaign, each made then paid, by `threads` callers;
    checks the totals after."""
    campaign_id = live_campaign(call, f"Mesure « {how} »")
    contributors = [
        {**headers(f"mesure-{k}", name=f"Contributrice {k}"), "Idempotency-Key": f"mesure-{k}"}
        for k in range(first, first + count)
    ]  # tokens signed before the clock starts

    done: list[float] = []

    def one(as_: dict[str, str]) -> None:
        made = call("POST", f"/campaigns/{campaign_id}/pledges", {"amount_cents": AMOUNT_CENTS}, as_)
        status = pay(requests.payment_id(_expect(made, 201, "pledge")))
        if status != 303:  # paid, and back to the pledge's return_url
            raise AssertionError(f"payment page: {status}, expected 303")
        done.append(time.monotonic() - started)  # list.append is atomic

    started = time.monotonic()
    if threads == 1:
        for as_ in contributors:
            one(as_)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, contributors))
    seconds = time.monotonic() - started
    shown = _expect(call("GET", f"/campaigns/{campaign_id}", None, {}), 200, "campaign")
    if (shown["raised_cents"], shown["pledge_count"]) != (count * AMOUNT_CENTS, count):
        raise AssertionError(f"{how}: totals {shown['raised_cents']}, {shown['pledge_count']} after {count} pledges")
    return Rate(how, emulator_name, threads, count, seconds, sorted(done))


def fresh_resources(endpoint: str) -> None:
    """An empty emulator with the stage's resources: each measure starts from the same
    table (moto's cost of a transaction grows with the table; see bench/moto_speed.py)."""
    from devtools.provision import provision

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    provision(STAGE)


def measure(count: int, threads: int) -> list[Rate]:
    from chalice.test import Client

    from app import app

    rates = []
    for name, module in EMULATORS.items():
        with emulator(module) as endpoint, requests.stage_environment(AWS_ENDPOINT_URL=endpoint):
            fresh_resources(endpoint)
            with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:
                call, pay = test_client_call(client), test_client_pay(client)
                rates.append(progress(pledge_many(call, pay, "Chalice test client", count, 1, 0, name)))
            with chalice_local(endpoint) as base:
                for n, callers in enumerate((1, threads)):
                    fresh_resources(endpoint)
                    call, pay = http_call(base), http_pay(base)
                    rate = pledge_many(call, pay, "HTTP, chalice local", count, callers, n * count, name)
                    rates.append(progress(rate))
    return rates


def progress(rate: Rate) -> Rate:
    print(
        f"  … {rate.emulator}, {rate.how}, {rate.threads} thread(s): {rate.per_second:.1f} pledges/s",
        file=sys.stderr,
        flush=True,
    )
    return rate


def report(rates: list[Rate]) -> str:
    lines = [
        "Pledges per second against the locked emulator (moto's server, one request at a time; test stage,",
        "resources from infra/), on a new campaign, each pledge by another contributor, each made and paid: the",
        "pledge (BatchGetItem, TransactWriteItems; the sandbox's PutItem of the payment), then the payment page's",
        "pay button (the sandbox completes the payment, 5 requests of its own, and notifies in-process: GetItem,",
        "BatchGetItem, TransactWriteItems); pledges per second overall, over the first and the last fifth:",
        f"  {'emulator':<11} {'client':<20} {'threads':>7} {'pledges':>7} {'seconds':>7} {'pledges/s':>9} "
        f"{'first 1/5':>9} {'last 1/5':>8}",
    ]
    for r in rates:
        lines.append(
            f"  {r.emulator:<11} {r.how:<20} {r.threads:>7} {r.pledges:>7} {r.seconds:>7.1f} {r.per_second:>9.1f} "
            f"{r.fifth(last=False):>9.1f} {r.fifth(last=True):>8.1f}"
        )
    lines.append(
        "  (each measure on a freshly reset emulator. Stock moto's TransactWriteItems copies the whole table\n"
        "  once per item of the transaction, so that its rate falls as the table grows; bench/moto_speed.py\n"
        "  copies only the items written. One request at a time: threads overlap only HTTP and app work.)"
    )
    return "\n".join(lines)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pledges", type=int, default=500, help="pledges per measure")
    parser.add_argument("--threads", type=int, default=8, help="concurrent callers of the threaded measure")
    args = parser.parse_args()
    print(report(measure(args.pledges, args.threads)))


if __name__ == "__main__":
    main()
