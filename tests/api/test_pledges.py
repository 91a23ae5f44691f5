"""Pledges as contributors meet them: money counted once, rewards, idempotency, PII."""

import json
from datetime import timedelta

import pytest

from chalicelib import clock
from tests.conftest import bearer
from tests.factories import MODERATOR, campaign_body, live_campaign, pledge

WORKSHOP = {
    "title": "Atelier tricot",
    "description": "Deux heures à la boutique",
    "min_amount_cents": 3000,
    "quantity": 2,
}
THANKS = {"title": "Merci sur l'album", "min_amount_cents": 1000}


def campaign(client, campaign_id):
    return client.http.get(f"/campaigns/{campaign_id}").json_body


def test_a_pledge_is_counted_in_the_campaign_and_the_reward_stock(client):
    campaign_id, rewards = live_campaign(client, rewards=[WORKSHOP])
    answer = pledge(
        client, campaign_id, amount_cents=4500, reward_id=rewards["Atelier tricot"], message="Bravo à toute l'équipe !"
    )
    assert answer.status_code == 201
    assert answer.json_body["amount_cents"] == 4500
    assert answer.json_body["status"] == "paid" and answer.json_body["paid_at"]
    assert answer.json_body["payment"] is None  # nothing left to pay
    assert "Idempotent-Replayed" not in answer.headers
    shown = campaign(client, campaign_id)
    assert (shown["raised_cents"], shown["pledge_count"], shown["percent_funded"]) == (4500, 1, 0)
    assert shown["rewards"][0]["remaining"] == 1


def test_overfunding_is_shown_above_100_percent(client):
    campaign_id, _ = live_campaign(client, goal_cents=10000)
    pledge(client, campaign_id, contributor="a", key="1", amount_cents=10000)
    pledge(client, campaign_id, contributor="b", key="1", amount_cents=9250)
    assert campaign(client, campaign_id)["percent_funded"] == 192


def test_same_key_and_body_replays_the_first_answer(client):
    campaign_id, _ = live_campaign(client)
    first = pledge(client, campaign_id, amount_cents=2000)
    again = pledge(client, campaign_id, amount_cents=2000)
    assert again.status_code == 201
    assert again.json_body == first.json_body
    assert again.headers["Idempotent-Replayed"] == "true"
    assert campaign(client, campaign_id)["raised_cents"] == 2000


def test_same_key_with_another_body_is_refused(client):
    campaign_id, _ = live_campaign(client)
    pledge(client, campaign_id, amount_cents=2000)
    other = pledge(client, campaign_id, amount_cents=2100)
    assert other.status_code == 422
    assert other.json_body["errors"][0]["field"] == "Idempotency-Key"
    assert campaign(client, campaign_id)["raised_cents"] == 2000


def test_keys_belong_to_their_contributor(client):
    campaign_id, _ = live_campaign(client)
    assert pledge(client, campaign_id, contributor="a", key="same", amount_cents=2000).status_code == 201
    second = pledge(client, campaign_id, contributor="b", key="same", amount_cents=2000)
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert campaign(client, campaign_id)["raised_cents"] == 4000


def test_an_expired_key_makes_a_new_pledge(client, monkeypatch):
    campaign_id, _ = live_campaign(client)
    first = pledge(client, campaign_id, amount_cents=2000)
    later = clock.now() + timedelta(hours=25)
    monkeypatch.setattr(clock, "now", lambda: later)
    second = pledge(client, campaign_id, amount_cents=2000)
    assert second.status_code == 201
    assert second.json_body["id"] != first.json_body["id"]


def test_cancelling_a_paid_pledge_refunds_it_restores_total_count_and_stock_and_twice_is_409(client):
    campaign_id, rewards = live_campaign(client, rewards=[WORKSHOP])
    made = pledge(client, campaign_id, amount_cents=3000, reward_id=rewards["Atelier tricot"]).json_body
    headers = bearer("contributrice")
    cancelled = client.http.post(f"/pledges/{made['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.json_body["status"] == "refunded" and cancelled.json_body["refunded_at"]
    shown = campaign(client, campaign_id)
    assert (shown["raised_cents"], shown["pledge_count"], shown["rewards"][0]["remaining"]) == (0, 0, 2)
    assert client.http.post(f"/pledges/{made['id']}/cancel", headers=headers).status_code == 409
    assert campaign(client, campaign_id)["rewards"][0]["remaining"] == 2


def test_only_its_contributor_may_cancel_a_pledge(client):
    campaign_id, _ = live_campaign(client)
    made = pledge(client, campaign_id, amount_cents=3000).json_body
    assert client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("quelqu-un")).status_code == 404
    assert client.http.post(f"/pledges/{made['id']}/cancel").status_code == 401
    assert campaign(client, campaign_id)["raised_cents"] == 3000


def test_a_cancelled_campaign_keeps_its_pledges(client):
    campaign_id, _ = live_campaign(client)
    made = pledge(client, campaign_id, amount_cents=3000).json_body
    assert client.http.post(f"/campaigns/{campaign_id}/cancel", headers=MODERATOR).status_code == 200
    refused = client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice"))
    assert refused.status_code == 409
    assert campaign(client, campaign_id)["raised_cents"] == 3000


def test_sold_out_reward_is_409(client):
    campaign_id, rewards = live_campaign(client, rewards=[WORKSHOP])
    reward_id = rewards["Atelier tricot"]
    for n in range(2):
        assert (
            pledge(client, campaign_id, contributor=f"c{n}", amount_cents=3000, reward_id=reward_id).status_code == 201
        )
    sold_out = pledge(client, campaign_id, contributor="c3", amount_cents=3000, reward_id=reward_id)
    assert sold_out.status_code == 409
    assert "épuisé" in sold_out.json_body["detail"] or "sold out" in sold_out.json_body["detail"]
    assert campaign(client, campaign_id)["raised_cents"] == 6000


def _refused(client, answer, status, field=None):
    assert answer.status_code == status, answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"
    problem = answer.json_body
    assert {"type", "title", "status", "detail"} <= problem.keys()
    if field:
        assert field in [error["field"] for error in problem["errors"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_cents": 99}, "amount_cents"),
        ({"amount_cents": 1_000_001}, "amount_cents"),
        ({"amount_cents": 20.5}, "amount_cents"),
        ({"amount_cents": "2000"}, "amount_cents"),
        ({}, "amount_cents"),
        ({"amount_cents": 2000, "anonymous": "oui"}, "anonymous"),
        ({"amount_cents": 2000, "message": "x" * 501}, "message"),
        ({"amount_cents": 2000, "message": "Bravo\u202e !"}, "message"),
        ({"amount_cents": 2000, "email": "lea@exemple.fr"}, "email"),
        ({"amount_cents": 2000, "reward_id": "inconnue"}, "reward_id"),
        ({"amount_cents": 999, "reward_id": "THANKS"}, "amount_cents"),
    ],
)
def test_bad_pledges_are_422_and_write_nothing(client, body, field):
    campaign_id, rewards = live_campaign(client, rewards=[THANKS])
    if body.get("reward_id") == "THANKS":
        body = {**body, "reward_id": rewards["Merci sur l'album"]}
    _refused(client, pledge(client, campaign_id, **body), 422, field)
    assert campaign(client, campaign_id)["raised_cents"] == 0
    assert client.http.get("/me/pledges", headers=bearer("contributrice")).json_body["items"] == []


def test_reward_of_another_campaign_is_refused(client):
    _, rewards = live_campaign(client, rewards=[THANKS])
    other_id, _ = live_campaign(client, owner="autre-porteur")
    _refused(
        client, pledge(client, other_id, amount_cents=2000, reward_id=rewards["Merci sur l'album"]), 422, "reward_id"
    )


@pytest.mark.parametrize("key", [None, "", "x" * 256, "clé-accentuée", "tab\there"])
def test_idempotency_key_is_required_and_printable(client, key):
    campaign_id, _ = live_campaign(client)
    headers = bearer("contributrice")
    if key is not None:
        headers["Idempotency-Key"] = key
    answer = client.http.post(
        f"/campaigns/{campaign_id}/pledges", headers=headers, body=json.dumps({"amount_cents": 2000})
    )
    _refused(client, answer, 400, "Idempotency-Key")
    assert campaign(client, campaign_id)["raised_cents"] == 0


def test_owner_cannot_pledge_on_own_campaign(client):
    campaign_id, _ = live_campaign(client, owner="porteur")
    _refused(client, pledge(client, campaign_id, contributor="porteur", amount_cents=2000), 403)


def test_pledges_need_a_signed_in_contributor(client):
    campaign_id, _ = live_campaign(client)
    answer = client.http.post(
        f"/campaigns/{campaign_id}/pledges",
        headers={"Content-Type": "application/json", "Idempotency-Key": "k"},
        body=json.dumps({"amount_cents": 2000}),
    )
    _refused(client, answer, 401)


def test_drafts_and_unknown_campaigns_take_no_pledge(client):
    owner = bearer("porteur")
    draft = client.http.post("/campaigns", headers=owner, body=json.dumps(campaign_body())).json_body
    _refused(client, pledge(client, draft["id"], amount_cents=2000), 404)
    _refused(client, pledge(client, "inconnue", amount_cents=2000), 404)


def test_no_pledge_after_the_deadline(client, monkeypatch):
    campaign_id, _ = live_campaign(client, duration_days=1)
    ends_at = clock.parse(campaign(client, campaign_id)["ends_at"])
    monkeypatch.setattr(clock, "now", lambda: ends_at)
    assert pledge(client, campaign_id, key="at-deadline", amount_cents=2000).status_code == 201
    monkeypatch.setattr(clock, "now", lambda: ends_at + timedelta(seconds=1))
    _refused(client, pledge(client, campaign_id, key="after", amount_cents=2000), 409)
    assert campaign(client, campaign_id)["raised_cents"] == 2000


def test_public_backer_list_shows_names_or_anonymous_and_never_identities(client, monkeypatch):
    campaign_id, _ = live_campaign(client)
    pledge(client, campaign_id, contributor="lea", name="Léa Dupont", amount_cents=2000, message="Allez Saint-Lô !")
    a_minute_later = clock.now() + timedelta(minutes=1)
    monkeypatch.setattr(clock, "now", lambda: a_minute_later)
    pledge(client, campaign_id, contributor="jean", name="Jean Lefèvre", amount_cents=5000, anonymous=True)
    answer = client.http.get(f"/campaigns/{campaign_id}/pledges")
    assert answer.status_code == 200
    backers = answer.json_body["items"]
    assert [(b["display_name"], b["anonymous"]) for b in backers] == [(None, True), ("Léa Dupont", False)]
    assert backers[1]["message"] == "Allez Saint-Lô !"
    text = answer.body.decode()
    for secret in ("jean", "Jean Lefèvre", "lea@exemple.fr", "jean@exemple.fr", "contributor"):
        assert secret not in text


def test_public_answers_never_carry_contributor_identities(client):
    campaign_id, _ = live_campaign(client)
    pledge(client, campaign_id, contributor="sub-secret-42", name="Personne Anonyme", amount_cents=2000, anonymous=True)
    for path in (f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}/pledges", "/campaigns", "/stats"):
        text = client.http.get(path).body.decode()
        assert "sub-secret-42" not in text and "exemple.fr" not in text and "Personne Anonyme" not in text, path


def test_backer_list_pages_through_every_paid_pledge(client):
    campaign_id, _ = live_campaign(client)
    made = [pledge(client, campaign_id, contributor=f"c{n}", amount_cents=1000 + n).json_body for n in range(7)]
    assert client.http.post(f"/pledges/{made[3]['id']}/cancel", headers=bearer("c3")).json_body["status"] == "refunded"
    assert pledge(client, campaign_id, contributor="pas-encore", amount_cents=5000, pay=None).status_code == 201
    assert pledge(client, campaign_id, contributor="refusee", amount_cents=5000, pay="failed").status_code == 201
    seen, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = client.http.get(f"/campaigns/{campaign_id}/pledges{query}").json_body
        seen += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert len(seen) == 6


def test_my_pledges_show_campaign_title_and_status(client):
    campaign_id, _ = live_campaign(client, title="Cocotte Minute")
    made = pledge(client, campaign_id, amount_cents=2500).json_body
    mine = client.http.get("/me/pledges", headers=bearer("contributrice")).json_body["items"]
    assert [(p["id"], p["campaign"]["title"], p["campaign"]["status"]) for p in mine] == [
        (made["id"], "Cocotte Minute", "live")
    ]
    assert client.http.get("/me/pledges", headers=bearer("autre")).json_body["items"] == []
    assert client.http.get("/me/pledges").status_code == 401


def test_stats_follow_pledges_and_cancellations(client, figures):
    campaign_id, _ = live_campaign(client)
    first = pledge(client, campaign_id, contributor="a", amount_cents=2000).json_body
    pledge(client, campaign_id, contributor="a", key="2", amount_cents=3000)
    pledge(client, campaign_id, contributor="b", amount_cents=1000)
    figures.catch_up()
    assert client.http.get("/stats").json_body["total_raised_cents"] == 6000
    client.http.post(f"/pledges/{first['id']}/cancel", headers=bearer("a"))
    figures.catch_up()
    stats = client.http.get("/stats").json_body
    assert stats["total_raised_cents"] == 4000
    assert stats["contributors"] == 2
    assert campaign(client, campaign_id)["pledge_count"] == 2
