"""DynamoDB requests (counts, not times): a campaign page is one GetItem, an unfiltered
list page one Query, no route scans the table; a pledge or a cancellation is one read and
one write; settlement costs about one request per pledge, and finding the campaigns due
does not grow with the others. Scenarios and counting hooks are the benchmark's
(bench/requests.py, bench/closure.py)."""

from collections import Counter
from datetime import timedelta

from bench import closure
from bench.requests import (
    CAMPAIGN_ROUTES,
    CANCEL,
    PLEDGE_ROUTES,
    PLEDGES,
    campaign_scenario,
    pledge_scenario,
    run_scenario,
)
from chalicelib import clock, storage
from tests.factories import live_campaign, pledge


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
    rows = run_scenario(client, pledge_scenario)
    assert {(r.method, r.route) for r in rows} >= PLEDGE_ROUTES

    def cases(method, route):
        return [(r.case, r.operations) for r in rows if (r.method, r.route) == (method, route)]

    one_read_one_write = Counter(BatchGetItem=1, TransactWriteItems=1)
    pledges = cases("POST", PLEDGES)
    assert [case for case, _ in pledges] == [
        "first pledge of a contributor",
        "replay (same key and body)",
        "known contributor",
        "limited reward",
        "limited reward",
        "reward sold out",
    ]
    assert all(
        ops == one_read_one_write
        for case, ops in pledges
        if case not in ("replay (same key and body)", "reward sold out")
    )
    assert dict(pledges)["replay (same key and body)"] == Counter(BatchGetItem=1)  # the first answer, nothing written
    assert dict(pledges)["reward sold out"] == Counter(BatchGetItem=1)  # refused on the read
    assert cases("POST", CANCEL) == [
        ("active pledge", Counter(GetItem=1, TransactWriteItems=1)),
        ("already cancelled", Counter(GetItem=1)),
    ]


def _backed(client, pledges, duration_days):
    campaign_id, _ = live_campaign(client, goal_cents=10000, duration_days=duration_days)
    for n in range(pledges):
        made = pledge(client, campaign_id, contributor=f"c{duration_days}-{n}", key=f"k{n}", amount_cents=2500)
        assert made.status_code == 201
    return campaign_id


def _run(campaign_id):
    """Close and settle inline (the test stage has no queue): the run's requests by step,
    the payment provider's own excluded (bench/closure.py)."""
    after = clock.parse(storage.campaigns.get(campaign_id).ends_at) + timedelta(seconds=1)
    report, phases, _ = closure.count_run(after)
    assert report["closed"] == [campaign_id]
    settled, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None)
    assert {p.settlement for p in settled} == {"collected"}
    return sum(sum(ops.values()) for ops in closure.steps(phases).values()), phases


def test_settlement_costs_at_most_1_05_request_per_pledge_over_a_fixed_cost_per_campaign(client):
    """N pledges of a closed campaign settle in at most 1.05 N + FIXED requests (provider and
    mails excluded). FIXED: finding due, reminded and settling campaigns (3 Queries),
    closing (GetItem, TransactWriteItems), settling (GetItem, owner mail flag, a Query per
    page of pledges, settled mark): 9, plus one checkpoint per extra page."""
    FIXED = 9
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

    closed, queries = finding(ends_at + timedelta(seconds=1))
    assert sorted(closed) == sorted(due)
    assert queries == Counter({"Query by_status": 2})  # 3 due campaigns, pages of 2
    more_due = [live_campaign(client, owner=f"q{n}", duration_days=30)[0] for n in range(3)]
    for n in range(6):
        live_campaign(client, owner=f"r{n}", duration_days=60)
    closed, queries = finding(ends_at + timedelta(days=1))
    assert sorted(closed) == sorted(more_due)
    assert queries == Counter({"Query by_status": 2})  # the same, with 6 live campaigns not due
