"""Pledges under real concurrency: threads against `chalice local` on the locked emulator."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib import aws, storage
from tests.conftest import token
from tests.factories import campaign_body
from tests.system.conftest import http_call

THREADS = 32


def auth(sub, **extra):
    return {"Authorization": f"Bearer {token(sub, name=sub.title())}", **extra}


@pytest.fixture
def api(empty_api_stage, stage_env, monkeypatch, api_emulator):
    monkeypatch.setenv("AWS_ENDPOINT_URL", api_emulator)
    aws.client.cache_clear()
    yield empty_api_stage
    aws.client.cache_clear()


def live_campaign(api, rewards=()):
    owner = auth("porteuse-course")
    status, _, created = http_call("POST", f"{api}/campaigns", campaign_body(goal_cents=100000), owner)
    assert status == 201, created
    campaign_id = created["id"]
    for reward in rewards:
        status, _, answer = http_call("POST", f"{api}/campaigns/{campaign_id}/rewards", reward, owner)
        assert status == 201, answer
    assert http_call("POST", f"{api}/campaigns/{campaign_id}/submit", None, owner)[0] == 200
    moderator = {"Authorization": f"Bearer {token('moderatrice', groups=('moderators',))}"}
    status, _, campaign = http_call("POST", f"{api}/campaigns/{campaign_id}/approve", None, moderator)
    assert status == 200, campaign
    return campaign


def stored_active_pledges(campaign_id):
    pledges, cursor = [], None
    while True:
        page, cursor = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=cursor)
        pledges += [p._asdict() for p in page]
        if not cursor:
            return pledges


def in_parallel(calls):
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_200_pledges_racing_for_10_units_sell_exactly_10(api):
    campaign = live_campaign(api, [{"title": "Atelier tricot", "min_amount_cents": 2000, "quantity": 10}])
    campaign_id, reward_id = campaign["id"], campaign["rewards"][0]["id"]
    url = f"{api}/campaigns/{campaign_id}/pledges"
    results = in_parallel(
        [
            lambda n=n: http_call(
                "POST",
                url,
                {"amount_cents": 2000 + n, "reward_id": reward_id},
                auth(f"c{n}", **{"Idempotency-Key": "k"}),
            )
            for n in range(200)
        ]
    )
    statuses = sorted(status for status, _, _ in results)
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 190
    shown = http_call("GET", f"{api}/campaigns/{campaign_id}")[2]
    assert shown["rewards"][0]["remaining"] == 0
    stored = stored_active_pledges(campaign_id)
    assert len(stored) == 10 == shown["pledge_count"]
    assert shown["raised_cents"] == sum(p["amount_cents"] for p in stored)


def test_50_concurrent_submissions_with_one_key_make_one_pledge(api):
    campaign_id = live_campaign(api)["id"]
    url = f"{api}/campaigns/{campaign_id}/pledges"
    headers = auth("impatiente", **{"Idempotency-Key": "double-clic"})
    results = in_parallel([lambda: http_call("POST", url, {"amount_cents": 5000}, headers)] * 50)
    assert {status for status, _, _ in results} == {201}
    assert len({body["id"] for _, _, body in results}) == 1
    assert sum(1 for _, headers, _ in results if headers.get("Idempotent-Replayed") == "true") == 49
    shown = http_call("GET", f"{api}/campaigns/{campaign_id}")[2]
    assert (shown["raised_cents"], shown["pledge_count"]) == (5000, 1)
    assert len(stored_active_pledges(campaign_id)) == 1


def test_pledges_racing_cancellations_keep_totals_equal_to_active_pledges(api):
    campaign = live_campaign(api, [{"title": "Carte postale", "min_amount_cents": 1000, "quantity": 60}])
    campaign_id, reward_id = campaign["id"], campaign["rewards"][0]["id"]
    url = f"{api}/campaigns/{campaign_id}/pledges"
    first = in_parallel(
        [
            lambda n=n: http_call(
                "POST",
                url,
                {"amount_cents": 1000 + n, "reward_id": reward_id},
                auth(f"a{n}", **{"Idempotency-Key": "1"}),
            )
            for n in range(40)
        ]
    )
    made = [(n, body["id"]) for n, (status, _, body) in enumerate(first) if status == 201]
    assert len(made) == 40
    cancels = [
        lambda n=n, pledge_id=pledge_id: http_call("POST", f"{api}/pledges/{pledge_id}/cancel", None, auth(f"a{n}"))
        for n, pledge_id in made[:20]
    ]
    more = [
        lambda n=n: http_call(
            "POST", url, {"amount_cents": 1500, "reward_id": reward_id}, auth(f"b{n}", **{"Idempotency-Key": "1"})
        )
        for n in range(30)
    ]
    mixed = [call for pair in zip(cancels + [None] * 10, more, strict=True) for call in pair if call]
    results = in_parallel(mixed)
    assert {status for status, _, _ in results} == {200, 201}
    shown = http_call("GET", f"{api}/campaigns/{campaign_id}")[2]
    stored = stored_active_pledges(campaign_id)
    assert len(stored) == 50 == shown["pledge_count"]
    assert shown["raised_cents"] == sum(p["amount_cents"] for p in stored)
    assert shown["rewards"][0]["remaining"] == 60 - 50
