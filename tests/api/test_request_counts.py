"""DynamoDB requests (counts, not times): a campaign page is one GetItem, an unfiltered
list page one Query, no route scans the table; a pledge or a pending pledge's cancellation
is one read and one write (the sandbox provider's own items apart), and so is a payment's
confirmation once the pledge is read; settlement costs about one request per pledge,
finding the campaigns due does not grow with the others, and a succeeded campaign's
settlement calls the payment provider for none of its pledges. Scenarios and counting
hooks are the benchmark's (bench/requests.py, bench/closure.py, bench/escrow.py)."""

import json
from collections import Counter
from datetime import timedelta

from bench import closure
from bench.escrow import port_calls
from bench.requests import (
    CAMPAIGN_ROUTES,
    CANCEL,
    NOTIFICATION,
    PAGE,
    PAYMENT_ROUTES,
    PLEDGE_ROUTES,
    PLEDGES,
    by_kind,
    campaign_scenario,
    counting,
    ours,
    pledge_scenario,
    provider_requests as provider,
    run_scenario,
)
from chalicelib import clock, escrow, payments, storage
from tests.api.test_matching import fund_body
from tests.factories import MODERATOR, live_campaign, pledge


def test_campaign_routes_make_one_request_per_page_and_never_scan(client):
    rows = run_scenario(client, campaign_scenario)

    assert {(r.method, r.route) for r in rows} >= CAMPAIGN_ROUTES  # every campaign route was called
    assert all(r.requests >= 1 for r in rows)  # and the hook saw its requests

    gets = {r.case: r.operations for r in rows if (r.method, r.route) == ("GET", "/campaigns/{campaign_id}")}
    assert gets == {
        "draft, by its owner": Counter(GetItem=1),
        "draft, by a stranger": Counter(GetItem=1),
        "live, anonymous": Counter(GetItem=1),
        "unknown id": Counter(GetItem=1),
    }

    pages = {
        r.case: r.operations
        for r in rows
        if (r.method, r.route) == ("GET", "/campaigns") and not r.case.startswith("filtered")
    }
    assert len(pages) >= 5 and "next page (cursor)" in pages
    assert all(operations == Counter(Query=1) for operations in pages.values()), pages

    assert [f"{r.method} {r.route} ({r.case})" for r in rows if "Scan" in r.operations] == []


def test_a_pledge_is_one_read_and_one_write_and_so_is_a_cancellation(client):
    rows = run_scenario(client, pledge_scenario, key=by_kind)
    assert {(r.method, r.route) for r in rows} >= PLEDGE_ROUTES | PAYMENT_ROUTES

    def cases(method, route):
        return [(r.case, r.operations) for r in rows if (r.method, r.route) == (method, route)]

    pledges = cases("POST", PLEDGES)
    assert [case for case, _ in pledges] == [
        "first pledge of a contributor",
        "replay (same key and body)",
        "known contributor",
        "limited reward",
        "limited reward",
        "reward sold out",
    ]
    for case, operations in pledges:
        if case in ("replay (same key and body)", "reward sold out"):
            continue
        # The campaign, the key and the contributor's user at the provider read at once; the
        # pledge, its key, its unit held (and a new payer) written at once; the sandbox
        # provider records the payment (its own item, one request).
        assert ours(operations) == Counter(BatchGetItem=1, TransactWriteItems=1), case
        assert provider(operations) == Counter(PutItem=1), case
    first = dict(pledges)["first pledge of a contributor"]
    assert first["TransactWriteItems CAMPAIGN,IDEMPOTENCY,PAYER,PLEDGE"] == 1  # the new payer, in the same write
    assert dict(pledges)["known contributor"]["TransactWriteItems CAMPAIGN,IDEMPOTENCY,PLEDGE"] == 1
    # The first answer, nothing written, no payment started; a sold-out reward is refused on the read.
    assert ours(dict(pledges)["replay (same key and body)"]) == Counter(BatchGetItem=1)
    assert ours(dict(pledges)["reward sold out"]) == Counter(BatchGetItem=1)
    assert not provider(dict(pledges)["replay (same key and body)"]) and not provider(dict(pledges)["reward sold out"])

    # A payment confirmed: read again at the provider (it names its pledge, campaign and
    # contributor), then one batch read (the pledge, its campaign, the contributor's marker)
    # and one write; the same notification again moves nothing. The sandbox's page does the
    # same after its own requests (payment completed).
    moves = [(r.case, ours(r.operations), provider(r.operations)) for r in rows if r.route in (NOTIFICATION, PAGE)]
    confirmed = Counter(BatchGetItem=1, TransactWriteItems=1)
    sandbox_page = Counter(GetItem=4, TransactWriteItems=1)  # the page reads it, completes it, shows it
    assert moves == [
        ("succeeded, a contributor's first payment", confirmed, Counter(GetItem=1)),
        ("the same notification again", Counter(BatchGetItem=1), Counter(GetItem=1)),
        ("succeeded, known contributor", confirmed, Counter(GetItem=1)),
        ("waiting for its payer", Counter(), Counter(GetItem=1)),
        ("pays, then notifies in-process", confirmed, sandbox_page),
        ("card refused (unit released)", Counter(BatchGetItem=1, TransactWriteItems=1), sandbox_page),
    ]
    first_payment = next(r.operations for r in rows if r.case == "succeeded, a contributor's first payment")
    assert first_payment["TransactWriteItems CAMPAIGN,CONTRIBUTOR,LEDGER,PLEDGE"] == 1  # counted as a contributor
    known = next(r.operations for r in rows if r.case == "succeeded, known contributor")
    assert known["TransactWriteItems CAMPAIGN,LEDGER,PLEDGE"] == 1

    assert [(case, ours(operations), provider(operations)) for case, operations in cases("POST", CANCEL)] == [
        ("pending pledge", Counter(GetItem=1, TransactWriteItems=1), Counter()),  # cancelled, unit back
        # The pledge, then its campaign (still live?) before the provider refunds the payment
        # as recorded when it was paid (the refund made once: its id, then the movement);
        # then one write.
        (
            "paid pledge (refunded at the provider)",
            Counter(GetItem=2, TransactWriteItems=1),
            Counter(GetItem=1, TransactWriteItems=1),
        ),
        ("already cancelled", Counter(GetItem=1), Counter()),
    ]


def test_a_payment_is_confirmed_by_one_read_and_one_write(client):
    """A notification: the payment read again at the provider (it names its pledge,
    campaign and contributor), then the pledge, its campaign, its matching fund and the
    contributor's marker (one BatchGetItem), and one transaction of the pledge, the totals,
    the fund's reservation, the ledger entry and (a first payment) the contributor's marker.
    The same notification again reads the same and writes nothing."""
    campaign_id, _ = live_campaign(client)
    fund = client.http.post("/matching-funds", headers=MODERATOR, body=json.dumps(fund_body())).json_body
    matched = {"fund_id": fund["id"]}
    answer = client.http.post(f"/campaigns/{campaign_id}/matching", headers=MODERATOR, body=json.dumps(matched))
    assert answer.status_code == 200, answer.body
    pledge(client, campaign_id, contributor="premiere", amount_cents=2000)  # the fund is known from now on
    pending = pledge(client, campaign_id, contributor="seconde", amount_cents=2000, pay=None).json_body
    payment_id = pending["payment"]["redirect_url"].rsplit("/", 1)[1]
    escrow.SandboxEscrow().complete(payment_id, "succeeded")  # paid at the provider, not yet known here
    hook = f"/payments/notifications/sandbox?EventType=PAYIN_NORMAL_SUCCEEDED&RessourceId={payment_id}"

    with counting(by_kind) as first:
        assert client.http.get(hook).json_body == {"handled": True}
    assert first == Counter(
        {
            "provider GetItem": 1,
            "BatchGetItem CAMPAIGN,CONTRIBUTOR,FUND,PLEDGE": 1,  # and whether they paid before (their marker)
            "TransactWriteItems CAMPAIGN,CONTRIBUTOR,FUND,LEDGER,PLEDGE": 1,
        }
    )
    with counting(by_kind) as again:
        client.http.get(hook)
    assert again == Counter({"provider GetItem": 1, "BatchGetItem CAMPAIGN,CONTRIBUTOR,FUND,PLEDGE": 1})
    shown = client.http.get(f"/campaigns/{campaign_id}").json_body
    assert (shown["pledge_count"], shown["raised_cents"]) == (2, 8000)  # 2 × (2000 + 2000 matched)


def _backed(client, pledges, duration_days, goal_cents=10000):
    campaign_id, _ = live_campaign(client, goal_cents=goal_cents, duration_days=duration_days)
    for n in range(pledges):
        made = pledge(client, campaign_id, contributor=f"c{duration_days}-{n}", key=f"k{n}", amount_cents=2500)
        assert made.status_code == 201
    return campaign_id


def _run(campaign_id):
    """Close and settle inline (the test stage has no queue): the run's requests by step,
    the payment provider's own excluded (bench/closure.py)."""
    after = clock.parse(storage.campaigns.get(campaign_id).ends_at) + payments.window() + timedelta(seconds=1)
    report, phases, _ = closure.count_run(after)
    assert report["closed"] == [campaign_id]
    settled, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None)
    assert {p.status for p in settled} == {"collected"}
    return sum(sum(ops.values()) for ops in closure.steps(phases).values()), phases


def test_settlement_costs_at_most_1_05_request_per_pledge_over_a_fixed_cost_per_campaign(client):
    """N pledges of a closed campaign settle in at most 1.05 N + FIXED requests (provider and
    mails excluded). FIXED: sweeping pending payments (a Query per pending shard, twice),
    finding due, reminded and settling campaigns (3 Queries), closing (GetItem,
    TransactWriteItems), settling (GetItem, owner mail flag, a Query per page of pledges,
    settled mark): 9 + 16, plus one checkpoint per extra page."""
    FIXED = 9 + 2 * storage.keys.PENDING_SHARDS
    ten = _backed(client, 10, duration_days=30)
    twenty = _backed(client, 20, duration_days=60)  # not due (nor reminded) when the first closes
    (requests_10, phases_10), (requests_20, phases_20) = _run(ten), _run(twenty)
    assert requests_10 <= 1.05 * 10 + FIXED
    assert requests_20 <= 1.05 * 20 + FIXED
    assert (requests_20 - requests_10) / 10 <= 1.05  # what each more pledge costs
    labels = {label for phases in (phases_10, phases_20) for ops in phases.by_phase.values() for label in ops}
    assert not {label for label in labels if label.startswith("Scan")}


def test_finding_due_campaigns_does_not_grow_with_campaigns_not_due(client, monkeypatch):
    monkeypatch.setattr(storage.dynamo, "PAGE", 2)  # the pages `storage.every` reads
    due = [live_campaign(client, owner=f"p{n}", duration_days=30)[0] for n in range(3)]
    ends_at = max(clock.parse(storage.campaigns.get(c).ends_at) for c in due)

    def finding(now):
        report, phases, _ = closure.count_run(now)
        return report["closed"], closure.steps(phases)["finding due campaigns"]

    closed, queries = finding(ends_at + payments.window() + timedelta(seconds=1))
    assert sorted(closed) == sorted(due)
    assert queries == Counter({"Query by_status": 2})  # 3 due campaigns, pages of 2
    more_due = [live_campaign(client, owner=f"q{n}", duration_days=30)[0] for n in range(3)]
    for n in range(6):
        live_campaign(client, owner=f"r{n}", duration_days=60)
    closed, queries = finding(ends_at + payments.window() + timedelta(days=1))
    assert sorted(closed) == sorted(more_due)
    assert queries == Counter({"Query by_status": 2})  # the same, with 6 live campaigns not due


def _settled_with_provider_calls(client, pledges, goal_cents, duration_days):
    campaign_id = _backed(client, pledges, duration_days, goal_cents=goal_cents)
    after = clock.parse(storage.campaigns.get(campaign_id).ends_at) + payments.window() + timedelta(seconds=1)
    with port_calls() as calls:
        report, _, _ = closure.count_run(after)
    assert report["closed"] == [campaign_id]
    states = {p.status for p in storage.every(storage.pledges.list_for_campaign, campaign_id, counted_only=False)}
    return states, calls


def test_a_succeeded_campaign_settles_without_a_provider_call_per_pledge_a_failed_one_refunds_each(client):
    """Settling a succeeded campaign calls the payment provider a constant number of times
    (none: the escrow goes to the owner whole), whatever its pledges; a failed campaign's
    paid pledges are each refunded at the provider, in one call: as recorded when paid."""
    few = _settled_with_provider_calls(client, 4, goal_cents=10000, duration_days=30)
    more = _settled_with_provider_calls(client, 8, goal_cents=10000, duration_days=31)
    assert few == ({"collected"}, Counter()) and more == ({"collected"}, Counter())
    failed = _settled_with_provider_calls(client, 3, goal_cents=500_000, duration_days=32)
    assert failed == ({"refunded"}, Counter(refund=3))
