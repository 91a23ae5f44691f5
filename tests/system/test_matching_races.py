"""Matching funds under real concurrency: threads against `chalice local` on the locked
emulator. Whatever races, a fund never reserves more than its budget, its reserved and
spent money is exactly the sum of the top-ups, and cancellations, failures and replays
give back or reserve exactly what they should."""

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib import aws, clock, finalisation, storage
from tests.conftest import STAGE_ENV, token
from tests.factories import campaign_body
from tests.system.conftest import http_call

THREADS = 32
MODERATOR = {"Authorization": f"Bearer {token('moderatrice', groups=('moderators',))}"}


def auth(sub, **extra):
    return {"Authorization": f"Bearer {token(sub, name=sub.title())}", **extra}


@pytest.fixture
def api(empty_api_stage, stage_env, monkeypatch, api_emulator):
    """The shared API, emptied after each test: moto copies the whole table for each item
    of a transaction, so the items left here would slow every later test of the session."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", api_emulator)
    aws.client.cache_clear()
    yield empty_api_stage
    dynamodb, table = aws.client("dynamodb"), STAGE_ENV["TABLE_NAME"]
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
        for key in page["Items"]:
            dynamodb.delete_item(TableName=table, Key=key)
    aws.client.cache_clear()


def in_parallel(calls):
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda call: call(), calls))


def new_fund(api, **rules):
    now = clock.now()
    body = {
        "name": "Fonds d'abondement 2026",
        "decision_ref": "délibération CD-2026-045",
        "match_percent": 100,
        "opens_at": clock.iso(now - timedelta(days=1)),
        "closes_at": clock.iso(now + timedelta(days=120)),
        **rules,
    }
    status, _, fund = http_call("POST", f"{api}/matching-funds", body, MODERATOR)
    assert status == 201, fund
    return fund["id"]


def matched_campaign(api, fund_id, owner, goal_cents=100_000):
    who = auth(owner)
    status, _, created = http_call("POST", f"{api}/campaigns", campaign_body(goal_cents=goal_cents), who)
    assert status == 201, created
    campaign_id = created["id"]
    assert http_call("POST", f"{api}/campaigns/{campaign_id}/submit", None, who)[0] == 200
    assert http_call("POST", f"{api}/campaigns/{campaign_id}/approve", None, MODERATOR)[0] == 200
    status, _, attached = http_call("POST", f"{api}/campaigns/{campaign_id}/matching", {"fund_id": fund_id}, MODERATOR)
    assert status == 200, attached
    return campaign_id


def pledge_call(api, campaign_id, contributor, amount, key="1"):
    url = f"{api}/campaigns/{campaign_id}/pledges"
    return lambda: http_call("POST", url, {"amount_cents": amount}, auth(contributor, **{"Idempotency-Key": key}))


def fund_money(api, fund_id):
    """The fund as the public sees it: (reserved, spent, remaining), with its budget's identity."""
    cursor = None
    while True:
        query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = http_call("GET", f"{api}/matching-funds{query}")[2]
        found = [fund for fund in page["items"] if fund["id"] == fund_id]
        if found:
            fund = found[0]
            assert fund["budget_cents"] == fund["reserved_cents"] + fund["spent_cents"] + fund["remaining_cents"]
            assert fund["remaining_cents"] >= 0
            return fund["reserved_cents"], fund["spent_cents"], fund["remaining_cents"]
        cursor = page["next_cursor"]


def stored_pledges(campaign_id):
    pledges, cursor = [], None
    while True:
        page, cursor = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=cursor)
        pledges += [p._asdict() for p in page]
        if not cursor:
            return pledges


def campaign_money(api, campaign_id):
    shown = http_call("GET", f"{api}/campaigns/{campaign_id}")[2]
    assert shown["raised_cents"] == shown["crowd_cents"] + shown["matched_cents"]
    stored = stored_pledges(campaign_id)
    assert shown["matched_cents"] == sum(p["matched_cents"] for p in stored)
    assert shown["crowd_cents"] == sum(p["amount_cents"] for p in stored)
    assert shown["pledge_count"] == len(stored)
    return shown


def test_pledges_on_several_campaigns_racing_for_a_nearly_exhausted_fund(api):
    """60 pledges of 3 to 13 € on 3 campaigns that could take 10.50 € each from a 100 €
    fund: the last top-ups are cut to what remains, under every race."""
    budget, cap = 10_000, 3_500
    fund_id = new_fund(api, budget_cents=budget, cap_per_pledge_cents=700, cap_per_campaign_cents=cap)
    campaigns = [matched_campaign(api, fund_id, f"porteuse-fonds-{n}") for n in range(3)]
    calls = [pledge_call(api, campaigns[n % 3], f"presse-{n}", 300 + n * 37 % 1_000) for n in range(60)]
    results = in_parallel(calls)

    assert {status for status, _, _ in results} == {201}  # the fund never refuses a pledge
    top_ups = [body["matched_cents"] for _, _, body in results]
    reserved, spent, remaining = fund_money(api, fund_id)
    assert 0 < reserved <= budget
    assert sum(top_ups) == reserved + spent
    by_campaign = defaultdict(int)
    for n, top_up in enumerate(top_ups):
        by_campaign[campaigns[n % 3]] += top_up
    for campaign_id in campaigns:
        shown = campaign_money(api, campaign_id)
        assert shown["matched_cents"] == by_campaign[campaign_id] <= cap
    stored = {p["id"]: p["matched_cents"] for c in campaigns for p in stored_pledges(c)}
    assert stored == {body["id"]: body["matched_cents"] for _, _, body in results}


def test_cancellations_racing_pledges_give_back_exactly_their_top_ups(api):
    fund_id = new_fund(api, budget_cents=30_000, cap_per_pledge_cents=2_000, cap_per_campaign_cents=30_000)
    campaign_id = matched_campaign(api, fund_id, "porteuse-annulations")
    first = in_parallel([pledge_call(api, campaign_id, f"annule-{n}", 1_500 + n) for n in range(24)])
    made = [(n, body["id"]) for n, (status, _, body) in enumerate(first) if status == 201]
    assert len(made) == 24
    cancels = [
        lambda n=n, pledge_id=pledge_id: http_call(
            "POST", f"{api}/pledges/{pledge_id}/cancel", None, auth(f"annule-{n}")
        )
        for n, pledge_id in made[:12]
    ]
    more = [pledge_call(api, campaign_id, f"reste-{n}", 1_200 + n) for n in range(12)]
    results = in_parallel([call for pair in zip(cancels, more, strict=True) for call in pair])
    assert sorted(status for status, _, _ in results) == [200] * 12 + [201] * 12

    shown = campaign_money(api, campaign_id)
    reserved, spent, _ = fund_money(api, fund_id)
    assert (reserved, spent) == (shown["matched_cents"], 0)
    assert shown["pledge_count"] == 24


def test_concurrent_replays_of_a_matched_pledge_reserve_once(api):
    fund_id = new_fund(api, budget_cents=10_000, cap_per_pledge_cents=5_000, cap_per_campaign_cents=10_000)
    campaign_id = matched_campaign(api, fund_id, "porteuse-double-clic")
    results = in_parallel([pledge_call(api, campaign_id, "impatient", 3_000, key="double-clic")] * 40)
    assert {status for status, _, _ in results} == {201}
    assert len({body["id"] for _, _, body in results}) == 1
    assert {body["matched_cents"] for _, _, body in results} == {3_000}
    assert fund_money(api, fund_id) == (3_000, 0, 7_000)
    assert campaign_money(api, campaign_id)["matched_cents"] == 3_000


def test_racing_closures_spend_a_success_and_give_back_a_failure_once(api):
    budget = 20_000
    fund_id = new_fund(api, budget_cents=budget, cap_per_pledge_cents=2_000, cap_per_campaign_cents=20_000)
    succeeding = matched_campaign(api, fund_id, "porteuse-reussite", goal_cents=10_000)
    failing = matched_campaign(api, fund_id, "porteuse-echec", goal_cents=1_000_000)
    calls = [pledge_call(api, (succeeding, failing)[n % 2], f"cloture-{n}", 1_000 + n) for n in range(16)]
    assert {status for status, _, _ in in_parallel(calls)} == {201}
    matched = {c: campaign_money(api, c)["matched_cents"] for c in (succeeding, failing)}
    assert fund_money(api, fund_id) == (sum(matched.values()), 0, budget - sum(matched.values()))

    after = max(clock.parse(storage.campaigns.get(c).ends_at) for c in matched) + timedelta(seconds=1)
    for campaign_id in matched:
        finalisation.close(campaign_id, after)
    in_parallel([lambda c=c: finalisation.settle(c, after) for c in matched for _ in range(6)])

    assert storage.campaigns.get(succeeding).status == "succeeded"
    assert storage.campaigns.get(failing).status == "failed"
    assert fund_money(api, fund_id) == (0, matched[succeeding], budget - matched[succeeding])
    for campaign_id, spent in ((succeeding, matched[succeeding]), (failing, 0)):
        record = storage.funds.get_matching_record(fund_id, campaign_id)._asdict()
        assert (record["spent_cents"], record["released_cents"]) == (spent, matched[campaign_id] - spent)
        assert record["decision_ref"] == "délibération CD-2026-045"
