"""Pledges under real concurrency: threads against `chalice local` on the locked emulator.
A pledge is asked for, then paid on the sandbox's hosted page as a browser pays it; a
reward is never oversold, a payment is counted once, and the ledger always says what the
provider's escrow holds."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from chalicelib import aws, clock, finalisation, payments, storage
from tests.conftest import token
from tests.factories import campaign_body, payout_account_body
from tests.system.conftest import escrow_money, give, http_call, my_pledge, pay, payment_id, signed_in

THREADS = 32


@pytest.fixture
def api(empty_api_stage, stage_env, monkeypatch, api_emulator):
    monkeypatch.setenv("AWS_ENDPOINT_URL", api_emulator)
    aws.client.cache_clear()
    yield empty_api_stage
    aws.client.cache_clear()


def live_campaign(api, rewards=()):
    owner = signed_in("porteuse-course")
    status, _, created = http_call("POST", f"{api}/campaigns", campaign_body(goal_cents=100000), owner)
    assert status == 201, created
    campaign_id = created["id"]
    for reward in rewards:
        status, _, answer = http_call("POST", f"{api}/campaigns/{campaign_id}/rewards", reward, owner)
        assert status == 201, answer
    assert http_call("POST", f"{api}/campaigns/{campaign_id}/submit", None, owner)[0] == 200
    assert http_call("POST", f"{api}/me/payout-account", payout_account_body(), owner)[0] in (201, 409)
    moderator = {"Authorization": f"Bearer {token('moderatrice', groups=('moderators',))}"}
    status, _, campaign = http_call("POST", f"{api}/campaigns/{campaign_id}/approve", None, moderator)
    assert status == 200, campaign
    return campaign


def stored_pledges(campaign_id, counted_only=True):
    return [
        p._asdict() for p in storage.every(storage.pledges.list_for_campaign, campaign_id, counted_only=counted_only)
    ]


def in_parallel(calls):
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda call: call(), calls))


def shown(api, campaign_id):
    """The campaign as the public sees it; its totals are its counted pledges' and what
    its escrow holds, by the ledger and at the provider."""
    campaign = http_call("GET", f"{api}/campaigns/{campaign_id}")[2]
    counted = stored_pledges(campaign_id)
    assert campaign["pledge_count"] == len(counted)
    assert campaign["raised_cents"] == sum(p["amount_cents"] for p in counted)
    assert escrow_money(campaign_id) == (campaign["raised_cents"], campaign["raised_cents"])
    return campaign


def cancel(api, contributor, pledge_id):
    return lambda: http_call("POST", f"{api}/pledges/{pledge_id}/cancel", None, signed_in(contributor))


def test_100_pledges_racing_for_10_units_sell_exactly_10(api):
    campaign = live_campaign(api, [{"title": "Atelier tricot", "min_amount_cents": 2000, "quantity": 10}])
    campaign_id, reward_id = campaign["id"], campaign["rewards"][0]["id"]
    results = in_parallel(
        [
            lambda n=n: give(api, campaign_id, f"c{n}", {"amount_cents": 2000 + n, "reward_id": reward_id}, key="k")
            for n in range(100)
        ]
    )
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 10, statuses
    assert statuses.count(409) == 90
    assert {p["status"] for status, p in results if status == 201} == {"paid"}
    campaign = shown(api, campaign_id)
    assert campaign["rewards"][0]["remaining"] == 0
    assert campaign["pledge_count"] == 10


def test_50_concurrent_submissions_with_one_key_make_one_pledge_paid_once(api):
    """The double-click twice over: on the pledge button, then on the page's pay button."""
    campaign_id = live_campaign(api)["id"]
    url = f"{api}/campaigns/{campaign_id}/pledges"
    headers = signed_in("impatiente", **{"Idempotency-Key": "double-clic"})
    results = in_parallel([lambda: http_call("POST", url, {"amount_cents": 5000}, headers)] * 50)
    assert {status for status, _, _ in results} == {201}
    assert len({body["id"] for _, _, body in results}) == 1
    assert len({body["payment"]["redirect_url"] for _, _, body in results}) == 1
    assert sum(1 for _, headers, _ in results if headers.get("Idempotent-Replayed") == "true") == 49
    made = results[0][2]
    assert {status for status, _, _ in in_parallel([lambda: pay(api, made)] * 20)} == {303}
    assert my_pledge(api, "impatiente", made["id"])["status"] == "paid"
    campaign = shown(api, campaign_id)
    assert (campaign["raised_cents"], campaign["pledge_count"]) == (5000, 1)
    assert len(stored_pledges(campaign_id, counted_only=False)) == 1


def test_pledges_racing_cancellations_keep_totals_equal_to_paid_pledges(api):
    """16 pledges, 10 of them paid; then 6 paid ones refunded and the 6 waiting ones
    cancelled, racing 12 new pledges that are paid."""
    campaign = live_campaign(api, [{"title": "Carte postale", "min_amount_cents": 1000, "quantity": 30}])
    campaign_id, reward_id = campaign["id"], campaign["rewards"][0]["id"]
    first = in_parallel(
        [
            lambda n=n: give(
                api,
                campaign_id,
                f"a{n}",
                {"amount_cents": 1000 + n, "reward_id": reward_id},
                outcome="succeeded" if n < 10 else None,
            )
            for n in range(16)
        ]
    )
    assert [(status, p["status"]) for status, p in first] == [(201, "paid")] * 10 + [(201, "pending_payment")] * 6
    assert shown(api, campaign_id)["rewards"][0]["remaining"] == 30 - 16  # the waiting ones hold theirs
    cancels = [cancel(api, f"a{n}", first[n][1]["id"]) for n in range(4, 16)]
    more = [
        lambda n=n: give(api, campaign_id, f"b{n}", {"amount_cents": 1500, "reward_id": reward_id}) for n in range(12)
    ]
    results = in_parallel([call for pair in zip(cancels, more, strict=True) for call in pair])
    assert [body["status"] for status, _, body in results[::2]] == ["refunded"] * 6 + ["cancelled"] * 6
    assert [(status, p["status"]) for status, p in results[1::2]] == [(201, "paid")] * 12
    campaign = shown(api, campaign_id)
    assert campaign["pledge_count"] == 4 + 12
    assert campaign["rewards"][0]["remaining"] == 30 - 16


def test_paid_refused_and_abandoned_payments_never_sell_more_than_the_stock(api):
    """60 contributors race for 10 units: a third pay, a third have their card refused, a
    third leave the payment page. A refused card gives its unit back at once, a page left
    gives it back at the sweep after the payment window; whoever finds the reward sold out
    tries again, twice."""
    campaign = live_campaign(api, [{"title": "Visite de l'atelier", "min_amount_cents": 2000, "quantity": 10}])
    campaign_id, reward_id = campaign["id"], campaign["rewards"][0]["id"]
    outcomes = ("succeeded", "failed", None)

    def contributor(n):
        for attempt in range(3):
            body = {"amount_cents": 2000 + n, "reward_id": reward_id}
            status, pledge = give(api, campaign_id, f"d{n}", body, key=str(attempt), outcome=outcomes[n % 3])
            if status != 409:
                break
        return outcomes[n % 3], status, pledge

    results = in_parallel([lambda n=n: contributor(n) for n in range(60)])
    assert {status for _, status, _ in results} <= {201, 409}
    made = [(outcome, pledge) for outcome, status, pledge in results if status == 201]
    seen = Counter(pledge["status"] for _, pledge in made)
    expected = {"succeeded": "paid", "failed": "payment_failed", None: "pending_payment"}
    assert all(pledge["status"] == expected[outcome] for outcome, pledge in made), made
    assert seen["paid"] > 0 and seen["paid"] + seen["pending_payment"] <= 10
    campaign = shown(api, campaign_id)
    assert campaign["pledge_count"] == seen["paid"]
    assert campaign["rewards"][0]["remaining"] == 10 - seen["paid"] - seen["pending_payment"]

    later = clock.now() + payments.window() + timedelta(minutes=1)
    report = finalisation.run(later)
    abandoned = {pledge["id"] for outcome, pledge in made if outcome is None}
    assert set(report["expired"]) == abandoned and report["closed"] == []
    stored = Counter(p["status"] for p in stored_pledges(campaign_id, counted_only=False))
    assert stored == Counter(
        {"paid": seen["paid"], "payment_failed": seen["payment_failed"], "expired": len(abandoned)}
    )
    campaign = shown(api, campaign_id)
    assert campaign["rewards"][0]["remaining"] == 10 - seen["paid"]
    assert campaign["pledge_count"] == seen["paid"]


def test_a_payment_its_notifications_and_a_cancellation_racing_end_in_one_state(api):
    """For each of 4 waiting pledges at once: its page's pay button, ten copies of the
    provider's notification, and its contributor's cancellation, in varying orders. Each
    pledge ends paid or refunded, once, and the totals, the ledger and the escrow agree."""
    campaign_id = live_campaign(api)["id"]
    made = {}
    for n in range(4):
        status, pledge = give(api, campaign_id, f"h{n}", {"amount_cents": 3000 + n}, outcome=None)
        assert status == 201, pledge
        made[f"h{n}"] = pledge
    calls = []
    for n, (contributor, pledge) in enumerate(made.items()):
        hook = f"{api}/payments/notifications/sandbox?EventType=PAYIN_NORMAL_SUCCEEDED&RessourceId={payment_id(pledge)}"
        group = [lambda hook=hook: ("notification", http_call("GET", hook))] * 10
        group.insert(3 * n, lambda pledge=pledge: ("page", pay(api, pledge)))
        group.insert(11 - 3 * n, lambda c=contributor, p=pledge: ("cancel", cancel(api, c, p["id"])()))
        calls += [(contributor, call) for call in group]
    results = in_parallel([lambda c=c, call=call: (c, *call()) for c, call in calls])

    answers = {contributor: {} for contributor in made}
    for contributor, kind, (status, _, body) in results:
        answers[contributor].setdefault(kind, []).append((status, body))
    finals = {}
    for contributor, pledge in made.items():
        assert [status for status, _ in answers[contributor]["page"]] == [303]
        assert {status for status, _ in answers[contributor]["notification"]} == {200}
        ((cancel_status, cancelled),) = answers[contributor]["cancel"]
        finals[contributor] = my_pledge(api, contributor, pledge["id"])["status"]
        if cancel_status == 200:  # cancelled before its payment (then refunded), or refunded
            assert cancelled["status"] in ("cancelled", "refunded")
            assert finals[contributor] == "refunded"
        else:
            assert cancel_status == 409 and finals[contributor] == "paid", cancelled
    paid = [pledge["amount_cents"] for contributor, pledge in made.items() if finals[contributor] == "paid"]
    campaign = shown(api, campaign_id)
    assert (campaign["raised_cents"], campaign["pledge_count"]) == (sum(paid), len(paid))
    entries = Counter(entry.kind for entry in storage.every(storage.ledger.entries, campaign_id))
    assert entries == Counter({"paid": 4, "refunded": 4 - len(paid)})
