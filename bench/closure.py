"""Deadline closure and settlement at scale (issue 4): DynamoDB requests per settled pledge,
requests spent finding the due campaigns, provider calls, and wall time.

    .venv/bin/python -m bench.closure [--due 1000] [--pledges 50] [--total 10000] [--quick]

Two runs on in-process moto (with bench/moto_speed.py: same answers, less of moto's own
slowness): `due` campaigns of `pledges` paid pledges each, all due; then the same
campaigns, from a copy of the table taken before the first run, among `total` live
campaigns (the others end 4 weeks later and have no pledges: closure reads none of
theirs). The data are made through chalicelib under a fixed clock: campaigns.create,
submit, the owner's payout account, approve (which opens the campaign's escrow at the
sandbox provider), then each
pledge made (pledges.pledge), paid on the sandbox's page (SandboxEscrow.complete) and
confirmed as the provider's notification confirms it (payments.settle_payment): the items
and counters are those the API writes, without the HTTP layer; their making is timed
apart. One campaign in four misses its goal: its paid pledges are refunded at the
provider; the others' become collected (no provider call).

The measured part is one `finalisation.run(now)`, after the deadlines and the payment
window, with SETTLEMENT_QUEUE_URL empty, so that settlement runs inline in this process
(in AWS each campaign is an SQS message to the `settle` function, a message per
SETTLEMENT_BATCH_COUNT pledges; the requests are the same, plus one SendMessage and one
heartbeat UpdateItem per message). The sandbox provider's own requests (its PSP# items in
the same table) and its port calls are counted apart (bench/escrow.py: `port_calls`).
"""

import argparse
import copy
import logging
import math
import sys
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import moto_speed, requests

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # campaigns approved then
DUE_DAYS, LATER_DAYS = 30, 60  # due campaigns run 30 days, the others 60
RUN_AT = START + timedelta(days=DUE_DAYS + 1)  # after the first deadlines, 4 weeks before the others
CONTRIBUTORS = 5000  # people pledging (each pledges on several campaigns)
FIRST_NAMES = ("Léa", "Théo", "Chloé", "Maël", "Zoé", "Noé", "Inès", "Gaël", "Anaïs", "Loïc")
LAST_NAMES = ("Lefèvre", "Hervé", "Guérin", "Lemaître", "Lécuyer", "Barré", "Desprès", "Lenoël")


# --- what counts -------------------------------------------------------------------------


def classify(operation: str, params: dict[str, Any]) -> str:
    """Label of one DynamoDB call: the operation and the kinds of items it names (CAMPAIGN,
    PLEDGE…) or the index queried. The payment provider's own state (the sandbox keeps it in
    our table under PSP# keys, a real provider at home) is labelled apart, to be excluded:
    "provider GetItem PAYIN"."""
    names = requests.item_keys(params)
    if requests.is_provider_call(params):
        kinds = sorted({name.split("#")[1] for name in names if name.count("#") >= 2})
        return f"{requests.PROVIDER}{operation} {','.join(kinds)}".strip()
    if operation == "Query":
        return f"Query {params.get('IndexName', 'table')}"
    return f"{operation} {','.join(sorted({name.split('#', 1)[0] for name in names}))}".strip()


def is_provider(label: str) -> bool:
    return label.startswith(requests.PROVIDER)


# finalisation.run's steps, as (module, function): the sweep of pending payments (and the
# check that none is left unread), closing, reminders, settlement.
PHASES = (
    ("payments", "sweep"),
    ("finalisation", "unread_payments"),
    ("finalisation", "close_due"),
    ("finalisation", "remind_owners"),
    ("finalisation", "dispatch_settlements"),
)


@dataclass
class Phases:
    """Requests by phase of finalisation.run: each phase is a difference of the running tally."""

    dynamodb: Counter[str]
    mails: Counter[str]
    by_phase: dict[str, Counter[str]] = field(default_factory=dict)
    originals: list[tuple[Any, str, Any]] = field(default_factory=list)

    def wrap(self, module, name: str) -> None:
        real = getattr(module, name)
        self.originals.append((module, name, real))

        def measured(*args, **kwargs):
            before = self.dynamodb.copy()
            try:
                return real(*args, **kwargs)
            finally:
                self.by_phase[name] = self.dynamodb - before

        setattr(module, name, measured)

    def unwrap(self) -> None:
        for module, name, real in reversed(self.originals):
            setattr(module, name, real)
        self.originals.clear()


# --- the data ------------------------------------------------------------------------------


@dataclass
class Data:
    due: list[str]
    later: list[str]
    pledges: int
    seconds: float  # to make them


def _at(moment: datetime) -> None:
    from chalicelib import clock

    clock.now = lambda: moment


def _person(n: int, kind: str):
    from chalicelib.identity import Identity

    name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[n // len(FIRST_NAMES) % len(LAST_NAMES)]}"
    return Identity(sub=f"{kind}-{n}", email=f"{kind}-{n}@exemple.fr", name=name)


def _campaign(n: int, days: int, succeeds: bool) -> str:
    from chalicelib import campaigns, owners
    from chalicelib.identity import Identity
    from chalicelib.models.campaigns import CampaignCreate
    from chalicelib.models.owners import PayoutAccountCreate
    from chalicelib.settings import get_settings

    settings = get_settings()
    body = {
        "title": f"Atelier partagé numéro {n}",
        "summary": "Un lieu ouvert aux habitants pour réparer, créer et apprendre ensemble.",
        "description": "Des outils, des bénévoles et des ateliers chaque semaine à Coutances.",
        "category": "social",
        "postcode": "50200",
        "commune": "Coutances",
        # all or nothing: the smallest goal is reached by a few pledges, the largest never
        "goal_cents": settings.goal_min_cents if succeeds else settings.goal_max_cents,
        "duration_days": days,
    }
    owner = _person(n, "porteur")
    moderator = Identity(sub="moderatrice", name="Claire Moderatrice", groups=frozenset({"moderators"}))
    campaign = campaigns.create(owner, CampaignCreate.model_validate(body, context={"settings": settings}))
    campaigns.submit(campaign.id, owner)
    owners.open_account(owner, PayoutAccountCreate.model_validate(requests.PAYOUT_ACCOUNT))  # approval needs one
    campaigns.approve(campaign.id, moderator)
    return campaign.id


def pay(answer: dict[str, Any]) -> None:
    """A pledge waiting for its payment (the API's answer) paid on the sandbox's page,
    then confirmed as the provider's notification confirms it."""
    from chalicelib import escrow, payments

    payment_id = requests.payment_id(answer)
    if escrow.SandboxEscrow().complete(payment_id, "succeeded") is None:
        raise AssertionError(f"payment {payment_id} was not waiting")
    paid = payments.settle_payment(payment_id)
    if paid is None or paid.status != "paid":
        raise AssertionError(f"pledge {answer['id']} is not paid: {paid}")


def _pledges(campaign_id: str, count: int, first: int) -> None:
    """`count` pledges made and paid (contributors `first`… modulo CONTRIBUTORS)."""
    from chalicelib import pledges
    from chalicelib.models.pledges import PledgeCreate
    from chalicelib.settings import get_settings

    context = {"settings": get_settings()}
    for k in range(first, first + count):
        body = {"amount_cents": 1000 + 500 * (k % 9), "anonymous": k % 5 == 0}
        data = PledgeCreate.model_validate(body, context=context)
        answer, _ = pledges.pledge(campaign_id, _person(k % CONTRIBUTORS, "contributeur"), f"bench-{k}", data)
        pay(answer)


def _progress(text: str) -> None:
    print(f"  … {text}", file=sys.stderr, flush=True)


def due_campaigns(count: int, per_campaign: int) -> Data:
    """`count` campaigns ending before RUN_AT (one in four short of its goal), each with
    `per_campaign` pledges made and paid on its first day, by people who pledge on several."""
    started = time.monotonic()
    _at(START)
    ids = [_campaign(n, DUE_DAYS, succeeds=n % 4 != 3) for n in range(count)]
    _at(START + timedelta(hours=2))
    for n, campaign_id in enumerate(ids):
        _pledges(campaign_id, per_campaign, n * per_campaign)
        if n % 100 == 99:
            _progress(f"{(n + 1) * per_campaign:,} pledges made, {time.monotonic() - started:.0f} s")
    return Data(ids, [], count * per_campaign, time.monotonic() - started)


def later_campaigns(data: Data, count: int) -> Data:
    """`data` and `count` more live campaigns ending 4 weeks after RUN_AT, without pledges
    (closure reads no pledge of a campaign that is not due)."""
    started = time.monotonic()
    _at(START)
    ids = [_campaign(len(data.due) + n, LATER_DAYS, succeeds=True) for n in range(count)]
    return Data(data.due, ids, data.pledges, data.seconds + time.monotonic() - started)


class Snapshot:
    """The stage's table as it is, to run closure again on the same data."""

    def __init__(self):
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][requests.STAGE_ENV["AWS_DEFAULT_REGION"]]
        self.name = requests.STAGE_ENV["TABLE_NAME"]
        self.table = copy.deepcopy(self.backend.tables[self.name])

    def restore(self) -> None:
        self.backend.tables[self.name] = self.table


# --- the measure ---------------------------------------------------------------------------


@dataclass
class Figures:
    name: str
    data: Data
    report: dict[str, Any]
    phases: Phases
    seconds: float
    settled: Counter[str]  # the due campaigns' pledges by status after the run
    port: Counter[str] = field(default_factory=Counter)  # calls to the provider port, by method

    @property
    def settled_pledges(self) -> int:
        return sum(n for state, n in self.settled.items() if state in SETTLED)


SETTLED = ("collected", "refunded")  # where a paid pledge ends


def statuses(campaign_ids: list[str]) -> Counter[str]:
    """The campaigns' pledges by status (all of them, not only those that count)."""
    from chalicelib import storage

    states: Counter[str] = Counter()
    for campaign_id in campaign_ids:
        states.update(
            p.status for p in storage.every(storage.pledges.list_for_campaign, campaign_id, counted_only=False)
        )
    return states


def count_run(now: datetime) -> tuple[dict[str, Any], Phases, float]:
    """finalisation.run(now), its requests by phase (DynamoDB by `classify`, SES by
    operation) and its wall time."""
    import importlib

    from chalicelib import finalisation

    with requests.counting(classify) as dynamodb, requests.counting(service="ses") as mails:
        phases = Phases(dynamodb, mails)
        for module, name in PHASES:
            phases.wrap(importlib.import_module(f"chalicelib.{module}"), name)
        try:
            started = time.monotonic()
            report = finalisation.run(now)
            return report, phases, time.monotonic() - started
        finally:
            phases.unwrap()


def measure(name: str, data: Data) -> Figures:
    from bench import escrow

    _progress(f"{name}: finalisation.run")
    _at(RUN_AT)
    with escrow.port_calls() as port:
        report, phases, seconds = count_run(RUN_AT)
    _progress(f"{name}: {seconds:.0f} s")
    return Figures(name, data, report, phases, seconds, statuses(data.due), port)


def run(due: int, per_campaign: int, total: int, only: str | None = None) -> list[Figures]:
    """The two measures, on one generation of the due campaigns: the second starts from a
    copy of the table taken before the first."""
    from chalicelib import clock

    quiet_moto()
    real_now = clock.now
    figures = []
    try:
        with moto_speed.faster_moto(), moto_speed.one_request_at_a_time(), requests.emulated_aws():
            data = due_campaigns(due, per_campaign)
            snapshot = Snapshot() if only is None and total > due else None
            if only != "mixed":
                figures.append(measure(f"{due:,} due campaigns of {per_campaign} pledges", data))
            if only != "due" and total > due:
                if snapshot:
                    snapshot.restore()
                data = later_campaigns(data, total - due)
                name = f"{total:,} campaigns of which {due:,} due ({per_campaign} pledges each)"
                figures.append(measure(name, data))
    finally:
        clock.now = real_now
    return figures


# --- the report --------------------------------------------------------------------------


def _ops(counter: Counter[str]) -> str:
    return ", ".join(f"{label} ×{n}" for label, n in sorted(counter.items(), key=lambda item: -item[1]))


def _split(counter: Counter[str], queries: bool) -> Counter[str]:
    return Counter({k: n for k, n in counter.items() if k.startswith("Query by_status") == queries})


def steps(phases: Phases) -> dict[str, Counter[str]]:
    """Requests of a run by step, provider excluded: finalisation.run's phases, closing and
    settlement split into finding campaigns (Queries of the by_status index) and the work
    on them. Sweeping: a Query per shard of pending pledges (keys.PENDING_SHARDS), twice
    (the sweep, then the check that none is left unread), and each pending pledge's move."""
    ours = {
        phase: Counter({k: n for k, n in ops.items() if not is_provider(k)}) for phase, ops in phases.by_phase.items()
    }
    return {
        "sweeping pending payments": ours["sweep"] + ours["unread_payments"],
        "finding due campaigns": _split(ours["close_due"], True),
        "closing them": _split(ours["close_due"], False),
        "reminders": ours["remind_owners"],
        "finding settling campaigns": _split(ours["dispatch_settlements"], True),
        "settlement": _split(ours["dispatch_settlements"], False),
    }


def per_pledge(f: Figures) -> tuple[float, float]:
    """Requests per settled pledge (provider and mail excluded): whole run, settlement alone."""
    by_step = steps(f.phases)
    total = sum(sum(c.values()) for c in by_step.values())
    return total / f.settled_pledges, sum(by_step["settlement"].values()) / f.settled_pledges


def report(f: Figures) -> str:
    d = f.data
    campaigns = len(d.due) + len(d.later)
    settled = ", ".join(f"{n:,} {state}" for state, n in sorted(f.settled.items()))
    lines = [
        f"{f.name}: {campaigns:,} campaigns, {len(d.due):,} due, {d.pledges:,} pledges",
        f"  data made through chalicelib in {d.seconds:.0f} s (not part of the measure)",
        f"  finalisation.run: {len(f.report['closed']):,} closed, {len(f.report['reminded'])} reminded, "
        f"{len(f.report['dispatched']):,} settled inline; pledges: {settled}",
        "  DynamoDB requests (the payment provider's own and mails excluded):",
    ]
    for step, ops in steps(f.phases).items():
        lines.append(f"    {step:<27} {sum(ops.values()):>7,}  {_ops(ops)}")
    whole, settlement = per_pledge(f)
    verdict = "met" if whole <= GOAL else "NOT met"
    total = sum(sum(ops.values()) for ops in steps(f.phases).values())
    lines.append(f"    {'total':<27} {total:>7,}")
    lines.append(
        f"  per settled pledge: {whole:.3f} for the whole run, {settlement:.3f} for settlement alone "
        f"(goal ≤ {GOAL}: {verdict})"
    )
    provider = Counter({k: n for ops in f.phases.by_phase.values() for k, n in ops.items() if is_provider(k)})
    lines.append(f"  excluded: {_ops(provider)}; SES {_ops(f.phases.mails)}")
    lines.append(f"  calls to the payment provider (escrow port): {_ops(f.port) or 'none'}")
    lines.append(
        f"  wall time of the run: {f.seconds:.0f} s, {1000 * f.seconds / max(f.settled_pledges, 1):.1f} ms per "
        "settled pledge (in-process moto: the emulator's time, not DynamoDB's)"
    )
    return "\n".join(lines)


# --- the capacity plan -----------------------------------------------------------------------

GOAL = 1.05
DYNAMODB_MS = (5, 10)  # assumed latency of one DynamoDB request from Lambda, same region
SES_MS = (30, 80)  # assumed latency of one SES SendEmail call
SES_RATE = 14  # SES's default sending quota out of the sandbox, mails per second per account
PROVIDER_MS = 400  # assumed latency of one call to a real payment provider (an HTTPS call)
MARGIN = 0.8  # share of the timeout a batch may use (checkpoint, cold start, slow calls)


def settle_timeouts() -> dict[str, int]:
    stages = requests.CONFIG["stages"]
    return {
        stage: conf.get("lambda_functions", {}).get("settle", {}).get("lambda_timeout", conf.get("lambda_timeout", 60))
        for stage, conf in stages.items()
        if "lambda_timeout" in conf or "lambda_functions" in conf
    }


def refund_batch_seconds(pledges: int, per_pledge_s: float, concurrency: int, batch: int) -> float:
    """Wall time of refunding `pledges` as finalisation.settle does: batches of `batch`
    pledges one after another (an SQS message each), a batch's refunds `concurrency` at once
    (ceil(batch / concurrency) rounds), one pledge taking `per_pledge_s` in its worker."""
    full, rest = divmod(pledges, batch)
    rounds = full * math.ceil(batch / concurrency) + math.ceil(rest / concurrency)
    return rounds * per_pledge_s


def capacity(f: Figures) -> str:
    from chalicelib.settings import VARIABLES

    budget = int(VARIABLES["SETTLEMENT_BATCH_COUNT"])
    concurrency = int(VARIABLES["REFUND_CONCURRENCY"])
    timeouts = settle_timeouts()
    timeout = min(timeouts.values())
    settlement = steps(f.phases)["settlement"]
    n = f.settled_pledges
    refunded, collected = max(f.settled["refunded"], 1), max(f.settled["collected"], 1)
    refund_ours = sum(v for k, v in settlement.items() if "LEDGER" in k) / refunded  # the refund's transaction
    collect_ours = (sum(settlement.values()) - refund_ours * refunded) / collected
    calls = sum(f.port.values()) / refunded  # a succeeded campaign's pledges make none
    provider = sum(v for ops in f.phases.by_phase.values() for k, v in ops.items() if is_provider(k)) / n
    mails = sum(f.phases.mails.values()) / n
    usable = MARGIN * timeout
    lines = [
        f"Capacity plan: pledges one `settle` invocation settles within its timeout ({timeout} s in "
        f"{', '.join(f'{s} {t} s' for s, t in timeouts.items())}; {MARGIN:.0%} of it usable = {usable:.0f} s). "
        f"SETTLEMENT_BATCH_COUNT = {budget}, REFUND_CONCURRENCY = {concurrency} over the whole batch.",
        f"  measured: DynamoDB requests of ours {collect_ours:.3f} per collected pledge (with each campaign's own), "
        f"{refund_ours:.3f} per refunded pledge; provider calls {calls:.2f} per refunded pledge "
        f"({_ops(f.port)}), none per collected pledge; {mails:.2f} SES SendEmail per settled pledge "
        "(the sandbox's own DynamoDB requests, "
        f"{provider:.2f} per pledge, stand for the provider's calls)",
        f"  assumed: DynamoDB {DYNAMODB_MS[0]}–{DYNAMODB_MS[1]} ms per request from Lambda, SES "
        f"{SES_MS[0]}–{SES_MS[1]} ms per SendEmail, {PROVIDER_MS} ms per provider call; a collected pledge's "
        f"mail sent one after another, a refunded pledge's calls and mail in its worker, {concurrency} at once",
    ]
    for speed, (ddb, ses) in (("fast", (DYNAMODB_MS[0], SES_MS[0])), ("slow", (DYNAMODB_MS[1], SES_MS[1]))):
        collect_s = budget * (collect_ours * ddb + mails * ses) / 1000
        one_refund_s = (calls * PROVIDER_MS + refund_ours * ddb + mails * ses) / 1000
        refund_s = refund_batch_seconds(budget, one_refund_s, concurrency, budget)
        for name, seconds in (
            (f"succeeded campaign, {speed} calls", collect_s),
            (f"failed campaign, {speed} calls", refund_s),
        ):
            verdict = "fits" if seconds <= usable else "does NOT fit"
            lines.append(f"    {name:<30} {budget} pledges take {seconds:>5.0f} s: {verdict}")
    floor_s = budget * mails / SES_RATE
    lines.append(
        f"  SES sending quota ({SES_RATE} mails/s per account by default): {budget} mails take at least "
        f"{floor_s:.0f} s in one invocation alone; settle functions running side by side share the quota."
    )
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------


def quiet_moto() -> None:
    # moto warns about each template resource it cannot emulate (Cognito, alarms…).
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="moto")


def full_report(figures: list[Figures]) -> str:
    lines = [
        "Deadline closure and settlement: one finalisation.run(now) on in-process moto (bench/moto_speed.py),",
        "SETTLEMENT_QUEUE_URL empty so that settlement runs inline, in this process; campaigns not due have",
        "no pledges (closure never reads them). Requests counted with botocore events on the app's clients.",
    ]
    for f in figures:
        lines += ["", report(f)]
    if len(figures) == 2:
        from chalicelib import finalisation

        a, b = (sum(steps(f.phases)["finding due campaigns"].values()) for f in figures)
        due = len(figures[0].data.due)
        bound = due // finalisation.PAGE + 1  # a Query per page of due campaigns, and one that finds no more
        verdict = (
            "does not grow with the campaigns not due" if max(a, b) <= bound else "GROWS with the campaigns not due"
        )
        lines += [
            "",
            f"Finding due campaigns: {a} Queries with no other live campaign, {b} with "
            f"{len(figures[1].data.later):,} others; at most {bound} for {due:,} due campaigns in pages of "
            f"{finalisation.PAGE} (the last page is empty when the due ones fill the one before and later "
            f"campaigns follow in the index): {verdict}.",
        ]
    lines += ["", capacity(figures[0])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=1000, help="campaigns due for closure")
    parser.add_argument("--pledges", type=int, default=50, help="pledges per due campaign")
    parser.add_argument("--total", type=int, default=10000, help="campaigns of the second run, due ones included")
    parser.add_argument("--quick", action="store_true", help="a small run: 100 due of 20 pledges, 1,000 in all")
    parser.add_argument("--only", choices=("due", "mixed"), help="one of the two runs")
    args = parser.parse_args()
    if args.quick:
        args.due, args.pledges, args.total = 100, 20, 1000
    print(full_report(run(args.due, args.pledges, args.total, args.only)), flush=True)


if __name__ == "__main__":
    main()
