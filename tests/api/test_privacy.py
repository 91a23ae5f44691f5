"""Personal data self-service: GET /me/data gives back everything held about the caller;
DELETE /me erases their identity from campaigns and pledges, keeps every amount, is
refused while they own a live campaign, and is recorded in the audit trail. After it,
no public or moderator answer carries the erased name or e-mail."""

import json
from datetime import timedelta

import pytest

from chalicelib import clock, finalisation, payments, storage
from tests.api.test_matching import fund_body
from tests.conftest import bearer
from tests.factories import MODERATOR, complete_payment, live_campaign, payout_account, pledge

# The owner of the factories' campaigns; its description names him.
OWNER = bearer("porteur", name="Yannick Hervé")
OWNER_PERSONAL = ("Yannick Hervé", "porteur@exemple.fr")
LEA = bearer("lea", name="Léa Dupont", email="lea.dupont@exemple.fr")
LEA_PERSONAL = ("Léa Dupont", "lea.dupont@exemple.fr", "Courage à toute l'équipe")


def lea_pledges(client, campaign_id, key="k", amount_cents=2500):
    """Léa's pledge, paid on the provider's page."""
    headers = {**LEA, "Idempotency-Key": key}
    body = {"amount_cents": amount_cents, "message": "Courage à toute l'équipe, Yannick Hervé !"}
    answer = client.http.post(f"/campaigns/{campaign_id}/pledges", headers=headers, body=json.dumps(body))
    assert answer.status_code == 201, answer.body
    complete_payment(client, answer.json_body["payment"]["redirect_url"], "succeeded")
    return answer.json_body


def after_closure(client, campaign_id):
    """A moment after the campaign's deadline and payment window: it closes then."""
    ends_at = clock.parse(client.http.get(f"/campaigns/{campaign_id}").json_body["ends_at"])
    return ends_at + payments.window() + timedelta(seconds=1)


def close(client, campaign_id):
    finalisation.run(after_closure(client, campaign_id))
    assert client.http.get(f"/campaigns/{campaign_id}").json_body["status"] in ("succeeded", "failed")


def test_my_data_holds_my_campaigns_media_news_pledges_and_audit_entries(client):
    campaign_id, _ = live_campaign(client, rewards=[{"title": "Un CD dédicacé", "min_amount_cents": 1500}])
    body = {"kind": "image", "content_type": "image/png", "size_bytes": 64, "filename": "studio.png"}
    assert client.http.post(f"/campaigns/{campaign_id}/media", headers=OWNER, body=json.dumps(body)).status_code == 201
    news = {"title": "Au studio", "body": "Première séance.", "backers_only": True}
    assert (
        client.http.post(f"/campaigns/{campaign_id}/updates", headers=OWNER, body=json.dumps(news)).status_code == 201
    )
    other, _ = live_campaign(client, owner="camille", title="Cocotte Minute")
    lea_pledges(client, other)

    answer = client.http.get("/me/data", headers=OWNER)
    assert answer.status_code == 200
    mine = answer.json_body
    assert mine["profile"] == {"id": "porteur", "name": "Yannick Hervé", "email": "porteur@exemple.fr", "groups": []}
    assert mine["identities_stored"] == [{"name": "Yannick Hervé", "email": "porteur@exemple.fr"}]
    assert [c["id"] for c in mine["campaigns"]] == [campaign_id]
    assert mine["campaigns"][0]["owner_email"] == "porteur@exemple.fr"
    assert [m["filename"] for m in mine["media"]] == ["studio.png"]
    assert [n["title"] for n in mine["news"]] == ["Au studio"]
    assert mine["pledges"] == [] and mine["contributor_since"] is None
    assert {e["action"] for e in mine["audit"]} == {"campaign_submitted", "campaign_approved", "news_posted"}

    theirs = client.http.get("/me/data", headers=LEA).json_body
    assert [(p["amount_cents"], p["contributor_email"]) for p in theirs["pledges"]] == [(2500, "lea.dupont@exemple.fr")]
    held = theirs["pledges"][0]
    assert held["message"].startswith("Courage")
    assert held["status"] == "paid" and held["paid_at"] and held["payment_id"].startswith("payin-")
    assert theirs["contributor_since"] == held["paid_at"]
    assert theirs["campaigns"] == [] and theirs["audit"] == []


STORAGE_ATTRIBUTES = {
    "pk",
    "sk",
    "user_pk",
    "user_sk",
    "status_pk",
    "status_sk",
    "public_pk",
    "closed_pk",
    "campaign_pk",
    "crowd_cents",
    "settlement_cursor",
    "settlement_retry_pending",
    "settlement_heartbeat",
    "owner_notified_at",
    "reminded_at",
    "matching_closed_at",
    "matching_spent_cents",
    "reward_limited",
    "matching_rule_version",
    "payment_url",  # the provider's page, for the pledge's answer while it is pending
    "return_url",
}
SETTLEMENT_FIELDS = {  # of the pledges before payment into escrow: nothing stores them now
    "settlement",
    "settlement_reason",
    "settled_at",
    "payment_attempts",
    "payment_token",
    "cancellation_id",
}


def attribute_names(value):
    if isinstance(value, dict):
        return set(value) | {name for v in value.values() for name in attribute_names(v)}
    if isinstance(value, list):
        return {name for v in value for name in attribute_names(v)}
    return set()


def test_my_data_answers_typed_items_with_nothing_of_storage(client):
    """Once a matched campaign has closed and settled, its owner's and its contributor's
    data carry the records' fields only: no key, index, checkpoint or claim of storage."""
    campaign_id, _ = live_campaign(client, goal_cents=10_000)
    fund = client.http.post("/matching-funds", headers=MODERATOR, body=json.dumps(fund_body())).json_body
    matched = client.http.post(
        f"/campaigns/{campaign_id}/matching", headers=MODERATOR, body=json.dumps({"fund_id": fund["id"]})
    )
    assert matched.status_code == 200, matched.json_body
    lea_pledges(client, campaign_id)
    close(client, campaign_id)  # short of its goal: failed, Léa refunded
    assert storage.settlement.get(campaign_id).settled  # every claim and checkpoint was written

    for who in (OWNER, LEA):
        mine = client.http.get("/me/data", headers=who).json_body
        assert mine["campaigns"] or mine["pledges"]
        assert not attribute_names(mine) & (STORAGE_ATTRIBUTES | SETTLEMENT_FIELDS)

    (refunded,) = client.http.get("/me/data", headers=LEA).json_body["pledges"]
    assert refunded["status"] == "refunded" and refunded["matched_cents"] > 0
    assert refunded["payment_id"].startswith("payin-") and refunded["refund_id"].startswith("refund-")
    assert refunded["paid_at"] <= refunded["refunded_at"]


def test_my_data_needs_a_sign_in(client):
    assert client.http.get("/me/data").status_code == 401
    assert client.http.delete("/me").status_code == 401


def test_erasure_is_refused_while_i_own_a_live_campaign_and_changes_nothing(client):
    campaign_id, _ = live_campaign(client)
    before = client.http.get("/me/data", headers=OWNER).json_body

    answer = client.http.delete("/me", headers=OWNER)
    assert answer.status_code == 409
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert "Le rythme des maux" in answer.json_body["detail"]
    assert client.http.get("/me/data", headers=OWNER).json_body == before
    assert client.http.get(f"/campaigns/{campaign_id}").json_body["owner"]["display_name"] == "Yannick Hervé"
    assert "data_erased" not in {e["action"] for e in client.http.get("/audit", headers=MODERATOR).json_body["items"]}


def _answers(client, campaign_ids):
    """Every public and moderator answer that could show a person, as text."""
    paths = [
        ("/campaigns?status=succeeded", {}),
        ("/campaigns?status=failed", {}),
        ("/open-data/campaigns", {}),
        ("/stats", {}),
        ("/audit?limit=100", MODERATOR),
        ("/moderation/queue", MODERATOR),
        ("/exports/closed-campaigns?format=json", MODERATOR),
        ("/exports/closed-campaigns?format=csv", MODERATOR),
    ]
    for campaign_id in campaign_ids:
        for suffix in ("", "/pledges", "/updates"):
            paths += [(f"/campaigns/{campaign_id}{suffix}", {}), (f"/campaigns/{campaign_id}{suffix}", MODERATOR)]
    texts = {}
    for path, who in paths:
        answer = client.http.get(path, headers=who)
        assert answer.status_code == 200, (path, answer.body)
        texts[(path, bool(who))] = answer.body.decode("utf-8-sig")
    return texts


def _totals(client):
    export = client.http.get("/exports/closed-campaigns?format=json", headers=MODERATOR).json_body
    stats = client.http.get("/stats").json_body
    return export["totals"], stats["total_raised_cents"], stats["contributors"], stats["by_category"]


@pytest.fixture
def ended(client, figures):
    """Yannick's campaign, backed by Léa (named, with a message) and closed; and a news
    post that names its owner."""
    campaign_id, _ = live_campaign(
        client, goal_cents=10_000, rewards=[{"title": "Un CD dédicacé par Yannick Hervé", "min_amount_cents": 1500}]
    )
    news = {"title": "Merci de la part de Yannick Hervé", "body": "Écrivez-moi : porteur@exemple.fr"}
    assert (
        client.http.post(f"/campaigns/{campaign_id}/updates", headers=OWNER, body=json.dumps(news)).status_code == 201
    )
    lea_pledges(client, campaign_id, amount_cents=8000)
    assert pledge(client, campaign_id, contributor="marie", name="Marie Lecoq", amount_cents=3000).status_code == 201
    payout_account(client, verify="verified")  # paid out at closure: its owner may then erase their data
    iban = {"iban": "FR7630006000011234567890189", "holder": "Yannick Hervé"}
    assert client.http.post("/me/payout-account/bank-account", headers=OWNER, body=json.dumps(iban)).status_code == 200
    close(client, campaign_id)
    return campaign_id


def test_after_erasure_no_answer_carries_the_name_or_e_mail_and_totals_are_unchanged(client, ended, figures):
    texts = _answers(client, [ended])
    assert any("Yannick Hervé" in text for text in texts.values())  # shown before
    assert any("Léa Dupont" in text for text in texts.values())
    figures.catch_up()
    totals = _totals(client)
    assert totals[1:3] == (11_000, 2)
    raised = client.http.get(f"/campaigns/{ended}").json_body["raised_cents"]

    for who, erased in ((OWNER, 1), (LEA, 0)):
        answer = client.http.delete("/me", headers=who)
        assert answer.status_code == 200, answer.body
        assert answer.json_body["campaigns"] == erased and answer.json_body["erased_at"].endswith("Z")

    for where, text in _answers(client, [ended]).items():
        for personal in OWNER_PERSONAL + LEA_PERSONAL:
            assert personal not in text, (where, personal)
    assert "Marie Lecoq" in texts[(f"/campaigns/{ended}/pledges", False)]  # others keep theirs
    figures.catch_up()
    assert _totals(client) == totals
    shown = client.http.get(f"/campaigns/{ended}").json_body
    assert shown["raised_cents"] == raised and shown["pledge_count"] == 2
    assert shown["owner"]["display_name"] == "Anonyme"
    assert "Yannick" not in shown["description"]  # the factories' description names him

    backers = client.http.get(f"/campaigns/{ended}/pledges").json_body["items"]
    lea = next(b for b in backers if b["display_name"] is None)
    assert lea["anonymous"] is True and lea["message"] is None


def test_erasure_is_recorded_and_my_data_then_holds_no_identity(client, ended):
    assert client.http.delete("/me", headers=LEA).status_code == 200
    entries = client.http.get("/audit", headers=MODERATOR).json_body["items"]
    erased = next(e for e in entries if e["action"] == "data_erased")
    assert erased["actor"]["id"] == "lea" and erased["target"] == "user/lea"

    mine = client.http.get("/me/data", headers=LEA).json_body
    assert mine["identities_stored"] == []
    assert [(p["amount_cents"], p["contributor_name"], p["anonymous"]) for p in mine["pledges"]] == [(8000, "", True)]
    assert mine["pledges"][0]["message"] is None
    assert [e["action"] for e in mine["audit"]] == ["data_erased"]
    assert client.http.delete("/me", headers=LEA).status_code == 200  # again: nothing left, no harm
