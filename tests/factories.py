"""Builders for test data that goes through the API as a client would."""

import json

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
        reward_ids[reward["title"]] = next(
            r["id"] for r in answer.json_body["rewards"] if r["title"] == reward["title"]
        )
    assert client.http.post(f"/campaigns/{campaign_id}/submit", headers=headers).status_code == 200
    approved = client.http.post(f"/campaigns/{campaign_id}/approve", headers=MODERATOR)
    assert approved.status_code == 200, approved.body
    return campaign_id, reward_ids


def pledge(client, campaign_id, contributor="contributrice", key="cle-1", name="Léa Dupont", **body):
    headers = {**bearer(contributor, name=name), "Idempotency-Key": key}
    return client.http.post(f"/campaigns/{campaign_id}/pledges", headers=headers, body=json.dumps(body))
