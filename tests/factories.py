"""Builders for test data that goes through the API as a client would."""

import json

from bench.requests import PAYOUT_ACCOUNT
from tests.conftest import bearer

MODERATOR = bearer("moderatrice", name="Claire Moderatrice", groups=("moderators",))


def campaign_body(**overrides):
    body = {
        "title": "Le rythme des maux",
        "summary": "Un album enregistré avec des adolescents hospitalisés à Saint-Lô.",
        "description": "Yannick Hervé enregistre avec les jeunes du service pédiatrique un album de leurs chansons.",
        "category": "culture",
        "postcode": "50000",
        "commune": "Saint-Lô",
        "goal_cents": 500000,
        "funding_model": "all_or_nothing",
        "duration_days": 30,
    }
    return {**body, **overrides}


def payout_account_body(**overrides):
    """A person's payout account as the SPEC's POST /me/payout-account takes it."""
    return {**PAYOUT_ACCOUNT, **overrides}


def payout_account(client, owner="porteur", verify=None, headers=None, **overrides):
    """The owner's payout account (`owner`, or whom `headers` sign in), opened through the
    API unless they have one; `verify` ("verified" or "refused") plays the sandbox's
    verification page. Answers the account."""
    headers = {
        "Authorization": (headers or bearer(owner, name="Yannick Hervé"))["Authorization"],
        "Content-Type": "application/json",
    }
    opened = client.http.post("/me/payout-account", headers=headers, body=json.dumps(payout_account_body(**overrides)))
    assert opened.status_code in (201, 409), opened.body
    account = client.http.get("/me/payout-account", headers=headers).json_body
    if verify:
        complete_payment(client, account["verification_url"], verify)
        account = client.http.get("/me/payout-account", headers=headers).json_body
    return account


def live_campaign(client, owner="porteur", rewards=(), **overrides):
    """A live campaign made through the API; answers (campaign id, {reward title: id})."""
    headers = bearer(owner, name="Yannick Hervé")
    created = client.http.post("/campaigns", headers=headers, body=json.dumps(campaign_body(**overrides)))
    assert created.status_code == 201, created.body
    campaign_id = created.json_body["id"]
    reward_ids = {}
    for reward in rewards:
        answer = client.http.post(f"/campaigns/{campaign_id}/rewards", headers=headers, body=json.dumps(reward))
        assert answer.status_code == 201, answer.body
        reward_ids[reward["title"]] = answer.json_body["id"]  # the reward created
    assert client.http.post(f"/campaigns/{campaign_id}/submit", headers=headers).status_code == 200
    payout_account(client, owner)
    approved = client.http.post(f"/campaigns/{campaign_id}/approve", headers=MODERATOR)
    assert approved.status_code == 200, approved.body
    return campaign_id, reward_ids


def pledge(client, campaign_id, contributor="contributrice", key="cle-1", name="Léa Dupont", pay="succeeded", **body):
    """A pledge as a contributor makes it: asked for, then (`pay`) paid or refused on the
    sandbox's hosted payment page, as their browser would (None: left unpaid). Answers the
    POST's answer, whose json_body is the pledge as it now is."""
    headers = {**bearer(contributor, name=name), "Idempotency-Key": key}
    answer = client.http.post(f"/campaigns/{campaign_id}/pledges", headers=headers, body=json.dumps(body))
    if pay is None or answer.status_code != 201 or answer.json_body["status"] != "pending_payment":
        return answer
    complete_payment(client, answer.json_body["payment"]["redirect_url"], pay)
    mine = client.http.get("/me/pledges?limit=100", headers=headers).json_body["items"]
    now = next(p for p in mine if p["id"] == answer.json_body["id"])
    answer.body = json.dumps({k: v for k, v in now.items() if k != "campaign"}).encode()
    return answer


def complete_payment(client, redirect_url, outcome="succeeded"):
    """The buttons of a sandbox's hosted page, of a payment or of a verification (SPEC:
    POST redirect_url or verification_url with `outcome`)."""
    path = "/" + redirect_url.split("://", 1)[1].split("/", 1)[1]
    done = client.http.post(
        path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=f"outcome={outcome}"
    )
    assert done.status_code in (200, 303), done.body
    return done
