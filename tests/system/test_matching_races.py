"""Matching funds under real concurrency: threads against `chalice local` on the locked
emulator. A top-up is reserved when its pledge is paid (on the sandbox's hosted page, as
a browser pays it). Whatever races, a fund never reserves more than its budget, its
reserved and spent money is exactly the sum of the top-ups, and refunds, failures and
replays give back or reserve exactly what they should."""

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib import aws, clock, finalisation, payments, storage
from tests.conftest import STAGE_ENV, token
from tests.factories import campaign_body, payout_account_body
from tests.system.conftest import escrow_money, give, http_call, my_pledge, pay, signed_in

THREADS = 32
MODERATOR = {"Authorization": f"Bearer {token('moderatrice', groups=('moderators',))}"}


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
    who = signed_in(owner)
    status, _, created = http_call("POST", f"{api}/campaigns", campaign_body(goal_cents=goal_cents), who)
    assert status == 201, created
    campaign_id = created["id"]
    assert http_call("POST", f"{api}/campaigns/{campaign_id}/submit", None, who)[0] == 200
    assert http_call("POST", f"{api}/me/payout-account", payout_account_body(), who)[0] in (201, 409)
    assert http_call("POST", f"{api}/campaigns/{campaign_id}/approve", None, MODERATOR)[0] == 200
    status, _, attached = http_call("POST", f"{api}/campaigns/{campaign_id}/matching", {"fund_id": fund_id}, MODERATOR)
    assert status == 200, attached
    return campaign_id


def pledge_call(api, campaign_id, contributor, amount, key="1", outcome="succeeded"):
    """A pledge made and paid: answers (the POST's status, the pledge as its contributor
    then sees it)."""
    return lambda: give(api, campaign_id, contributor, {"amount_cents": amount}, key, outcome)


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
    """The pledges that count (paid, collected)."""
    return [p._asdict() for p in storage.every(storage.pledges.list_for_campaign, campaign_id)]


def campaign_money(api, campaign_id):
    shown = http_call("GET", f"{api}/campaigns/{campaign_id}")[2]
    assert shown["raised_cents"] == shown["crowd_cents"] + shown["matched_cents"]
    stored = stored_pledges(campaign_id)
    assert shown["matched_cents"] == sum(p["matched_cents"] for p in stored)
    assert shown["crowd_cents"] == sum(p["amount_cents"] for p in stored)
    assert shown["pledge_count"] == len(stored)
    assert escrow_money(campaign_id) == (shown["crowd_cents"], shown["crowd_cents"])  # public money is not in it
    return shown


def test_pledges_on_several_campaigns_racing_for_a_nearly_exhausted_fund(api):
    """24 pledges of 3 to 13 € on 3 campaigns that could take 35 € each from a 100 € fund:
    the last top-ups are cut to what remains, under every race."""
    budget, cap = 10_000, 3_500
    fund_id = new_fund(api, budget_cents=budget, cap_per_pledge_cents=700, cap_per_campaign_cents=cap)
    campaigns = [matched_campaign(api, fund_id, f"porteuse-fonds-{n}") for n in range(3)]
    calls = [pledge_call(api, campaigns[n % 3], f"presse-{n}", 300 + n * 37 % 1_000) for n in range(24)]
    results = in_parallel(calls)

    assert {(status, body["status"]) for status, body in results} == {(201, "paid")}  # never refused for the fund
    top_ups = [body["matched_cents"] for _, body in results]
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
    assert stored == {body["id"]: body["matched_cents"] for _, body in results}


def test_refunds_and_refused_cards_racing_pledges_give_back_exactly_their_top_ups(api):
    """12 paid pledges, the last top-ups cut to the fund's budget; then 6 of them refunded
    (their contributors withdraw) racing 6 new pledges that are paid and 3 whose card is
    refused: a refund gives its top-up back, a refused card never reserves one."""
    budget = 15_000
    fund_id = new_fund(api, budget_cents=budget, cap_per_pledge_cents=2_000, cap_per_campaign_cents=30_000)
    campaign_id = matched_campaign(api, fund_id, "porteuse-annulations")
    first = in_parallel([pledge_call(api, campaign_id, f"annule-{n}", 1_500 + n) for n in range(12)])
    assert {(status, body["status"]) for status, body in first} == {(201, "paid")}
    assert fund_money(api, fund_id) == (budget, 0, 0)
    assert campaign_money(api, campaign_id)["matched_cents"] == budget
    cancels = [
        lambda n=n: http_call("POST", f"{api}/pledges/{first[n][1]['id']}/cancel", None, signed_in(f"annule-{n}"))
        for n in range(6)
    ]
    more = [pledge_call(api, campaign_id, f"reste-{n}", 1_200 + n) for n in range(6)]
    refused = [pledge_call(api, campaign_id, f"refuse-{n}", 1_000, outcome="failed") for n in range(3)]
    calls = [("cancel", call) for call in cancels] + [("more", call) for call in more]
    calls += [("refused", call) for call in refused]
    results = in_parallel([lambda kind=kind, call=call: (kind, call()) for n in range(5) for kind, call in calls[n::5]])
    answers = {kind: [] for kind in ("cancel", "more", "refused")}
    for kind, result in results:
        answers[kind].append((result[0], result[-1]["status"], result[-1]["matched_cents"]))
    assert sorted(answers["cancel"]) == sorted((200, "refunded", p["matched_cents"]) for _, p in first[:6])
    assert [(status, state) for status, state, _ in answers["more"]] == [(201, "paid")] * 6
    assert answers["refused"] == [(201, "payment_failed", 0)] * 3

    shown = campaign_money(api, campaign_id)
    reserved, spent, _ = fund_money(api, fund_id)
    assert (reserved, spent) == (shown["matched_cents"], 0)
    assert shown["pledge_count"] == 12
    given_back = sum(p["matched_cents"] for _, p in first[:6])
    assert reserved == budget - given_back + sum(matched for _, _, matched in answers["more"])


def test_concurrent_replays_of_a_matched_pledge_reserve_once(api):
    """The double-click twice over: 40 times the same pledge, then 10 times its pay button."""
    fund_id = new_fund(api, budget_cents=10_000, cap_per_pledge_cents=5_000, cap_per_campaign_cents=10_000)
    campaign_id = matched_campaign(api, fund_id, "porteuse-double-clic")
    results = in_parallel([pledge_call(api, campaign_id, "impatient", 3_000, key="double-clic", outcome=None)] * 40)
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    made = results[0][1]
    assert {status for status, _, _ in in_parallel([lambda: pay(api, made)] * 10)} == {303}
    assert my_pledge(api, "impatient", made["id"])["matched_cents"] == 3_000
    assert fund_money(api, fund_id) == (3_000, 0, 7_000)
    assert campaign_money(api, campaign_id)["matched_cents"] == 3_000


def test_racing_closures_spend_a_success_and_give_back_a_failure_once(api):
    budget = 20_000
    fund_id = new_fund(api, budget_cents=budget, cap_per_pledge_cents=2_000, cap_per_campaign_cents=20_000)
    succeeding = matched_campaign(api, fund_id, "porteuse-reussite", goal_cents=10_000)
    failing = matched_campaign(api, fund_id, "porteuse-echec", goal_cents=1_000_000)
    calls = [pledge_call(api, (succeeding, failing)[n % 2], f"cloture-{n}", 1_500 + n) for n in range(8)]
    assert {(status, body["status"]) for status, body in in_parallel(calls)} == {(201, "paid")}
    crowd = {c: campaign_money(api, c)["crowd_cents"] for c in (succeeding, failing)}
    matched = {c: campaign_money(api, c)["matched_cents"] for c in (succeeding, failing)}
    assert fund_money(api, fund_id) == (sum(matched.values()), 0, budget - sum(matched.values()))

    ends_at = max(clock.parse(storage.campaigns.get(c).ends_at) for c in matched)
    after = ends_at + payments.window() + timedelta(seconds=1)
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
    # The crowd's money: kept in the succeeded campaign's escrow, each payment refunded once from the failed one's.
    assert escrow_money(succeeding) == (crowd[succeeding], crowd[succeeding])
    assert escrow_money(failing) == (0, 0)
    statuses = {
        c: {p.status for p in storage.every(storage.pledges.list_for_campaign, c, counted_only=False)} for c in matched
    }
    assert statuses == {succeeding: {"collected"}, failing: {"refunded"}}
