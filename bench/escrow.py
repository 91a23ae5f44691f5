"""Escrow at the payment provider: provider calls per settlement, and refunding a failed
campaign at scale with a provider that takes its time.

    .venv/bin/python -m bench.escrow [--only calls|refunds] [--pledges 10000]
        [--concurrency 8 32] [--refund-ms 400] [--quick]

Both on in-process moto (bench/moto_speed.py), the test stage's resources from infra/, the
sandbox provider, under a fixed clock; the provider's port (chalicelib/escrow.py
`EscrowProvider`) counted on SandboxEscrow by `port_calls`.

calls: for 10 and 100 paid pledges, a campaign that succeeds and one that fails, each
closed and settled by its own finalisation.run (after its deadline and payment window):
the calls to the provider's port during the run. The goal: a succeeded campaign's
settlement makes a constant number of provider calls, not one per pledge. Pledges are
made and paid as bench/closure.py makes them (pledges.pledge, then the sandbox's page,
then the notification's confirmation).

refunds: a failed campaign of `--pledges` paid pledges refunded by finalisation.settle
with a provider whose refund answers in `--refund-ms` (SandboxEscrow.refund wrapped with a
time.sleep), at each REFUND_CONCURRENCY of `--concurrency` (the variable set in os.environ:
settings are read at each call). Each settle() call is what one SQS message does in AWS: it
lists SETTLEMENT_BATCH_COUNT pledges (2000), refunds the whole batch REFUND_CONCURRENCY at
once, each by its payment as recorded (one provider call: `refund`), then hands on; the
messages of a campaign are processed one after another, as here (finalisation.dispatch
with no queue). A run of each concurrency starts from a fresh emulator.

The pledges are seeded directly through storage, not through the API (10,000 pledges
through pledges.pledge, the sandbox's page and the confirmation take tens of minutes on
moto): the campaign is made through chalicelib (campaigns.create, submit, approve: its
escrow wallet opened at the sandbox); then, with BatchWriteItem, for each pledge the item
the API writes once it is paid (status paid, paid_at, payment_id, the escrow_id and
payer_id its refund needs, its user and campaign index keys; no pending keys) and its
ledger entry "paid", and for the sandbox provider its succeeded payment (PSP#PAYIN#<id>,
as chalicelib.storage.sandbox writes it, with its payer, campaign and contributor); the
wallet's balance and the campaign's totals (raised_cents, crowd_cents, pledge_count) are
then set to their sums. The campaign misses its goal: after its deadline and payment window,
finalisation.close makes it failed (not timed), then settle() is timed batch by batch.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bench import closure, moto_speed, requests

GOAL_SECONDS = 300  # the issue: a failed campaign of 10,000 paid pledges refunded within 5 minutes


# --- the provider's port, counted (and slowed) -------------------------------------------------


def port_methods() -> tuple[str, ...]:
    """The methods of chalicelib/escrow.py's provider port (EscrowProvider)."""
    from chalicelib import escrow

    return tuple(
        name
        for name, value in vars(escrow.EscrowProvider).items()
        if callable(value) and not name.startswith("_") and hasattr(escrow.SandboxEscrow, name)
    )


@contextmanager
def port_calls(latency: Mapping[str, float] | None = None) -> Iterator[Counter[str]]:
    """Calls to the sandbox provider's port methods made inside the block, by method (from
    any thread); with `latency`, a method named there first sleeps that many seconds, as a
    remote provider's answer would take."""
    from chalicelib import escrow

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    delays = dict(latency or {})
    originals = {name: getattr(escrow.SandboxEscrow, name) for name in port_methods()}

    def counted(name: str, real):
        def call(self, *args, **kwargs):
            with lock:
                calls[name] += 1
            if delays.get(name):
                time.sleep(delays[name])
            return real(self, *args, **kwargs)

        return call

    for name, real in originals.items():
        setattr(escrow.SandboxEscrow, name, counted(name, real))
    try:
        yield calls
    finally:
        for name, real in originals.items():
            setattr(escrow.SandboxEscrow, name, real)


@contextmanager
def emulated() -> Iterator[None]:
    """In-process moto (sped up, one request at a time) with the test stage's resources,
    the app's log lines muted."""
    with (
        moto_speed.faster_moto(),
        moto_speed.one_request_at_a_time(),
        requests.emulated_aws(),
        requests.app_logs_muted(),
    ):
        yield


def _ops(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{name} ×{n}" for name, n in sorted(counter.items(), key=lambda item: (-item[1], item[0])))


# --- figure 2: provider calls per settlement ---------------------------------------------------


@dataclass
class Settled:
    outcome: str  # succeeded | failed
    pledges: int
    port: Counter[str]
    dynamodb: int  # the platform's requests of the settlement step (the provider's own excluded)
    statuses: Counter[str]


def settlement_calls(sizes: tuple[int, ...] = (10, 100)) -> list[Settled]:
    """For each size, a campaign that succeeds and one that fails, with that many paid
    pledges, each closed and settled by its own finalisation.run."""
    from chalicelib import clock, payments, storage

    closure.quiet_moto()
    real_now = clock.now
    rows: list[Settled] = []
    try:
        with (
            moto_speed.faster_moto(),
            moto_speed.one_request_at_a_time(),
            requests.emulated_aws(),
            requests.app_logs_muted(),
        ):
            campaigns = []
            closure._at(closure.START)
            for n, (size, succeeds) in enumerate((s, ok) for s in sizes for ok in (True, False)):
                # a day apart: each closes alone; the failed ones' goal is never reached
                campaigns.append((closure._campaign(n, closure.DUE_DAYS + n, succeeds), size, succeeds))
            closure._at(closure.START + timedelta(hours=2))
            first = 0
            for campaign_id, size, _ in campaigns:
                closure._pledges(campaign_id, size, first)
                first += size
            for campaign_id, size, succeeds in campaigns:
                ends_at = clock.parse(storage.campaigns.get(campaign_id).ends_at)
                now = ends_at + payments.window() + timedelta(seconds=1)
                closure._at(now)
                with port_calls() as port:
                    report, phases, _ = closure.count_run(now)
                if report["closed"] != [campaign_id]:
                    raise AssertionError(f"closed {report['closed']}, expected {campaign_id} alone")
                ours = sum(closure.steps(phases)["settlement"].values())
                outcome = "succeeded" if succeeds else "failed"
                rows.append(Settled(outcome, size, port, ours, closure.statuses([campaign_id])))
    finally:
        clock.now = real_now
    return rows


def settlement_report(rows: list[Settled]) -> str:
    lines = [
        "Provider calls during a campaign's closure and settlement (one finalisation.run per campaign, after its",
        "deadline and payment window; calls to the escrow port of chalicelib/escrow.py, counted on the sandbox):",
        f"  {'campaign':<10} {'paid pledges':>12}  {'pledges after':<22} {'settlement: DynamoDB (ours)':>27}  "
        "provider calls",
    ]
    for r in rows:
        after = ", ".join(f"{n} {status}" for status, n in sorted(r.statuses.items()))
        lines.append(f"  {r.outcome:<10} {r.pledges:>12}  {after:<22} {r.dynamodb:>27}  {_ops(r.port) or 'none'}")
    succeeded = {r.pledges: sum(r.port.values()) for r in rows if r.outcome == "succeeded"}
    constant = len(set(succeeded.values())) == 1
    shown = ", ".join(f"{calls} for {size} pledges" for size, calls in sorted(succeeded.items()))
    lines.append(
        f"  goal: a succeeded campaign's settlement makes a constant number of provider calls, not one per pledge: "
        f"{shown} — {'met' if constant else 'NOT met'}"
    )
    lines.append(
        "  (collected pledges are marked in the table only: the escrow goes to the owner whole, by the payout,\n"
        "  which settlement does not call; a failed campaign's paid pledges are each refunded (refund) by their\n"
        "  payment as recorded when it was paid, not read again at the provider: one call per pledge)"
    )
    return "\n".join(lines)


# --- figure 3: refunding a failed campaign at scale --------------------------------------------


def _batch_write(items: list[dict[str, Any]]) -> None:
    from chalicelib.storage import dynamo

    client, table = dynamo.client(), dynamo.table()
    for start in range(0, len(items), 25):
        chunk = [{"PutRequest": {"Item": dynamo.to_ddb(item)}} for item in items[start : start + 25]]
        pending: dict[str, Any] = {table: chunk}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def seed_failed_campaign(count: int) -> str:
    """A live campaign (short of its goal) and `count` paid pledges, written directly
    (see the module's docstring); answers its id."""
    from chalicelib import clock, escrow, storage
    from chalicelib.records import EscrowPayment, LedgerEntry, Pledge
    from chalicelib.storage import dynamo, keys

    closure._at(closure.START)
    campaign_id = closure._campaign(0, closure.DUE_DAYS, succeeds=False)
    campaign = storage.campaigns.get(campaign_id)
    assert campaign is not None and campaign.escrow_id
    paid_at = clock.iso(closure.START + timedelta(hours=2))
    items: list[dict[str, Any]] = []
    total = 0
    for k in range(count):
        pledge_id = uuid.uuid4().hex
        amount = 1000 + 500 * (k % 9)
        total += amount
        person = closure._person(k, "contributeur")
        payment_id = escrow._reference("payin", pledge_id)
        payer_id = escrow.SandboxEscrow().register_payer(
            escrow.Payer(person.sub, person.display_name, person.email or "")
        )
        pledge = Pledge(
            id=pledge_id,
            campaign_id=campaign_id,
            campaign_title=campaign.title,
            contributor_id=person.sub,
            contributor_name=person.display_name,
            contributor_email=person.email or "",
            amount_cents=amount,
            status="paid",
            created_at=paid_at,
            payment_id=payment_id,
            payment_url=f"https://api.test.invalid/sandbox/payments/{payment_id}",
            escrow_id=campaign.escrow_id,
            payer_id=payer_id,
            payment_expires_at=paid_at,
            paid_at=paid_at,
        )
        items.append(
            {
                **dynamo.attributes(pledge),
                **keys.pledge(pledge_id),
                "user_pk": keys.user(pledge.contributor_id),
                "user_sk": keys.user_item(keys.PLEDGE, pledge.created_at, pledge_id),
                "campaign_pk": keys.campaign_partition(campaign_id),
            }
        )
        payment = EscrowPayment(
            payment_id, pledge_id, campaign.escrow_id, amount, "succeeded", pledge.payment_url or "", paid_at, paid_at,
            payer_id=payer_id, campaign_id=campaign_id, contributor_id=person.sub,
        )  # fmt: skip
        items.append({**dynamo.attributes(payment), **keys.psp_object("PAYIN", payment_id)})
        entry = LedgerEntry(campaign_id, "paid", amount, payment_id, paid_at, pledge_id)
        items.append({**dynamo.attributes(entry), **keys.ledger(campaign_id, "paid", payment_id)})
    _batch_write(items)
    client, table = dynamo.client(), dynamo.table()
    client.update_item(
        TableName=table,
        Key=dynamo.to_ddb(keys.psp_object("WALLET", campaign.escrow_id)),
        UpdateExpression="SET balance_cents = :total",
        ExpressionAttributeValues=dynamo.to_ddb({":total": total}),
    )
    client.update_item(
        TableName=table,
        Key=dynamo.to_ddb(keys.campaign(campaign_id)),
        UpdateExpression="SET raised_cents = :total, crowd_cents = :total, pledge_count = :count",
        ExpressionAttributeValues=dynamo.to_ddb({":total": total, ":count": count}),
    )
    return campaign_id


@dataclass
class Refunds:
    pledges: int
    concurrency: int
    latency: dict[str, float]  # seconds per provider call, by method
    batch_count: int
    batches: list[float]  # wall time of each settle() call (an SQS message in AWS)
    seeding: float
    statuses: Counter[str]
    port: Counter[str]
    dynamodb: Counter[str]  # by requests.label: the provider's own apart
    mails: int
    escrow_left: int  # cents left in the escrow at the provider

    @property
    def seconds(self) -> float:
        return sum(self.batches)

    @property
    def per_second(self) -> float:
        return self.pledges / self.seconds

    @property
    def slowed(self) -> str:
        return ", ".join(f"{method} {1000 * s:.0f} ms" for method, s in self.latency.items() if s) or "none"


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def refund_at_scale(count: int, concurrency: int, latency: Mapping[str, float]) -> Refunds:
    """A failed campaign of `count` paid pledges (seeded), refunded by finalisation.settle at
    REFUND_CONCURRENCY `concurrency`, the provider's calls slowed by `latency`."""
    from chalicelib import clock, escrow, finalisation, payments, storage
    from chalicelib.settings import get_settings

    closure.quiet_moto()
    real_now = clock.now
    try:
        with emulated():
            started = time.monotonic()
            campaign_id = seed_failed_campaign(count)
            seeding = time.monotonic() - started
            campaign = storage.campaigns.get(campaign_id)
            assert campaign is not None and campaign.ends_at and campaign.escrow_id
            now = clock.parse(campaign.ends_at) + payments.window() + timedelta(seconds=1)
            closure._at(now)
            if finalisation.close(campaign_id, now) != "failed":
                raise AssertionError("the seeded campaign did not close as failed")
            batches: list[float] = []
            with (
                _environment(REFUND_CONCURRENCY=str(concurrency)),
                requests.counting(requests.label) as dynamodb,
                requests.counting(service="ses") as mails,
                port_calls(latency) as port,
            ):
                done = False
                while not done:  # one settle() per SQS message, one after another
                    started = time.monotonic()
                    done = finalisation.settle(campaign_id, now)
                    batches.append(time.monotonic() - started)
                    _progress(f"concurrency {concurrency}: batch {len(batches)} in {batches[-1]:.0f} s")
                batch_count = get_settings().settlement_batch_count
            left = escrow.SandboxEscrow().escrow_balance(campaign.escrow_id)
            states = closure.statuses([campaign_id])
    finally:
        clock.now = real_now
    return Refunds(
        count,
        concurrency,
        dict(latency),
        batch_count,
        batches,
        seeding,
        states,
        port,
        dynamodb,
        sum(mails.values()),
        left,
    )


def _progress(text: str) -> None:
    print(f"  … {text}", file=sys.stderr, flush=True)


# What a pledge's refund waits for in AWS, in its worker (assumed, as bench/closure.py's plan).
AWS_DYNAMODB_S = closure.DYNAMODB_MS[1] / 1000
AWS_SES_S = closure.SES_MS[1] / 1000
FAN_OUT = (1, 8, 16, 32, 64, 100)
GOAL_PLEDGES = 10_000
# Mangopay's default rate limits, (window in seconds, calls), raised on request to its support
# (docs.mangopay.com/api-reference/overview/rate-limiting).
MANGOPAY_LIMITS = ((15 * 60, 2_300), (30 * 60, 4_500), (3600, 8_800), (24 * 3600, 105_600))


def fan_out(r: Refunds, provider_s: float) -> list[str]:
    """What settle's fan-out achieves for `r.pledges` pledges when each pledge's worker waits
    for its provider calls (`provider_s` each), our DynamoDB requests and its mail."""
    n, batch = r.pledges, min(r.pledges, r.batch_count)
    calls, ours, mails = sum(r.port.values()) / n, sum(requests.ours(r.dynamodb).values()) / n, r.mails / n
    one = calls * provider_s + ours * AWS_DYNAMODB_S + mails * AWS_SES_S
    lines = [
        f"    per pledge, in its worker: {calls:.2f} provider call × {1000 * provider_s:.0f} ms + {ours:.2f} DynamoDB "
        f"requests of ours × {1000 * AWS_DYNAMODB_S:.0f} ms + {mails:.2f} SES mail × {1000 * AWS_SES_S:.0f} ms = "
        f"{1000 * one:.0f} ms",
        f"    {'concurrency':>11} {'rounds/batch':>12} {f'{n:,} pledges':>14} {f'a batch of {batch}':>16} "
        f"{'pledges/s':>9}  goal {GOAL_SECONDS // 60} min",
    ]
    for c in FAN_OUT:
        total = closure.refund_batch_seconds(n, one, c, r.batch_count)
        verdict = "met" if total <= GOAL_SECONDS else "NOT met"
        lines.append(
            f"    {c:>11} {math.ceil(batch / c):>12} {total:>13.0f}s "
            f"{closure.refund_batch_seconds(batch, one, c, r.batch_count):>15.0f}s {n / total:>9.1f}  {verdict}"
        )
    return lines


def rate_limits(calls_per_pledge: float) -> str:
    """The least time GOAL_PLEDGES refunds take at Mangopay's default limits, whatever our
    concurrency: each window's allowance spent at once, then the next window waited for;
    and at the steady rate of the tightest window the calls exceed."""
    calls = GOAL_PLEDGES * calls_per_pledge
    floor = max((math.ceil(calls / limit) - 1) * window for window, limit in MANGOPAY_LIMITS)
    exceeded = [(w, n) for w, n in MANGOPAY_LIMITS if n < calls] or MANGOPAY_LIMITS[:1]
    window, limit = max(exceeded, key=lambda wn: wn[0] / wn[1])

    def span(seconds: int) -> str:
        return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min"

    shown = ", ".join(f"{n:,} per {span(w)}" for w, n in MANGOPAY_LIMITS)
    return (
        f"  Mangopay's default rate limits (docs.mangopay.com/api-reference/overview/rate-limiting): {shown}; "
        f"raised on request to Mangopay's support. At those, {GOAL_PLEDGES:,} refunds ({calls_per_pledge:.0f} "
        f"call each) take {calls:,.0f} / {limit:,} × {span(window)} ≈ {calls / limit * window / 60:.0f} minutes "
        f"at the steady rate ({floor / 60:.0f} at the very least, each allowance spent at once), whatever our "
        f"concurrency: the {GOAL_SECONDS // 60}-minute goal needs Mangopay to raise the platform's limits (until "
        "then a batch stops at the first refusal and leaves the rest for a later pass)."
    )


def refunds_report(runs: list[Refunds]) -> str:
    first = runs[0]
    lines = [
        f"Refunding a failed campaign of {first.pledges:,} paid pledges: finalisation.settle on in-process moto",
        "(bench/moto_speed.py, one request at a time), one settle() after another as a campaign's SQS messages are",
        f"processed in AWS, each a batch of {first.batch_count} pledges whose refunds run REFUND_CONCURRENCY at once:",
        f"  {'provider latency':<18} {'concurrency':>11} {'wall':>7} {'pledges/s':>9} {'latency alone':>13}  "
        "batches (s)",
    ]
    for r in runs:
        batches = " + ".join(f"{b:.0f}" for b in r.batches)
        per_pledge = sum(r.latency.get(method, 0) * k for method, k in r.port.items()) / r.pledges
        alone = closure.refund_batch_seconds(r.pledges, per_pledge, r.concurrency, r.batch_count)
        lines.append(
            f"  {r.slowed:<18} {r.concurrency:>11} {r.seconds:>6.0f}s {r.per_second:>9.1f} {alone:>12.0f}s  {batches}"
        )
    for r in runs:
        after = ", ".join(f"{n:,} {status}" for status, n in sorted(r.statuses.items()))
        if after != f"{r.pledges:,} refunded" or r.escrow_left or r.port != first.port:
            lines.append(
                f"  NOT AS THE FIRST RUN ({r.slowed}, {r.concurrency}): {after}; escrow left {r.escrow_left}; "
                f"provider calls {_ops(r.port)}"
            )
    lines += [
        f"  each run: {first.pledges:,} refunded, the escrow left at 0; provider calls: {_ops(first.port)}; "
        f"DynamoDB requests of ours: {_ops(requests.ours(first.dynamodb))}; the sandbox's own: "
        f"{_ops(requests.provider_requests(first.dynamodb))}; SES SendEmail ×{first.mails:,}; seeding "
        f"{first.seeding:.0f} s (not measured)",
        "  (latency alone: the provider's sleeps as settle() fans each batch out, nothing else. In-process "
        "moto is Python under one GIL: its work is serial whatever the threads, about the 'none' row's wall; "
        "only the provider's sleeps overlap it. In AWS our requests and mails also overlap.)",
        "",
        f"What the fan-out achieves: settle() refunds a batch of {first.batch_count} pledges (an SQS message) "
        f"`concurrency` at once, ceil({first.batch_count} / concurrency) rounds, then checkpoints and hands on; the "
        "batches of a campaign one after another. Each pledge, in AWS:",
    ]
    slowed = next((r for r in runs if r.latency.get("refund")), first)
    lines += fan_out(first, slowed.latency.get("refund") or closure.PROVIDER_MS / 1000)
    lines.append(rate_limits(sum(first.port.values()) / first.pledges))
    for r in runs:
        if r.latency.get("refund"):
            verdict = "met" if r.seconds <= GOAL_SECONDS else "NOT met (emulator included)"
            lines.append(
                f"  goal, measured: {r.pledges:,} refunds within {GOAL_SECONDS // 60} minutes at concurrency "
                f"{r.concurrency}: {r.seconds:.0f} s — {verdict}"
            )
    return "\n".join(lines)


def refund_runs(count: int, concurrencies: list[int], refund_ms: float) -> list[Refunds]:
    """The emulator alone (no latency) at the first concurrency, then each concurrency with
    the provider's refund slowed."""
    latency = {"refund": refund_ms / 1000}
    runs = [refund_at_scale(count, concurrencies[0], {})]
    runs += [refund_at_scale(count, c, latency) for c in concurrencies]
    return runs


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("calls", "refunds"))
    parser.add_argument("--pledges", type=int, default=10_000, help="paid pledges of the failed campaign")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32], help="REFUND_CONCURRENCY values")
    parser.add_argument("--refund-ms", type=float, default=400, help="latency of the provider's refund")
    parser.add_argument("--quick", action="store_true", help="1,000 pledges")
    args = parser.parse_args()
    if args.quick:
        args.pledges = 1_000
    if args.only in (None, "calls"):
        print(settlement_report(settlement_calls()), flush=True)
        print(flush=True)
    if args.only in (None, "refunds"):
        runs = refund_runs(args.pledges, args.concurrency, args.refund_ms)
        print(refunds_report(runs), flush=True)


if __name__ == "__main__":
    main()
