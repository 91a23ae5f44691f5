"""The audit trail: every moderator and owner action that changes state leaves one entry
(who, when, what, before and after), moderators read it newest first, by campaign and
page by page, and nothing can change or remove an entry."""

import json

import pytest

from app import api
from chalicelib import audit, storage
from chalicelib.errors import Conflict
from chalicelib.identity import Identity
from tests.conftest import bearer
from tests.factories import MODERATOR, campaign_body, live_campaign, payout_account, pledge

OWNER = bearer("porteur", name="Yannick Hervé")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)
FUND = {
    "name": "Fonds culture 2026",
    "decision_ref": "délibération CD-2026-045",
    "budget_cents": 1_000_000,
    "match_percent": 100,
    "cap_per_pledge_cents": 5_000,
    "cap_per_campaign_cents": 100_000,
    "opens_at": "2026-01-01T00:00:00Z",
    "closes_at": "2030-12-31T23:59:59Z",
}


def trail(client, query="", who=MODERATOR):
    answer = client.http.get(f"/audit{query}", headers=who)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def entries(client, query=""):
    """Every entry, through the pages."""
    found, cursor = [], None
    while True:
        sep = "&" if query else ""
        page = trail(client, f"?{query}{sep}limit=3" + (f"&cursor={cursor}" if cursor else ""))
        found += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def by_action(client, query=""):
    return {entry["action"]: entry for entry in entries(client, query)}


def draft(client):
    answer = client.http.post("/campaigns", headers=OWNER, body=json.dumps(campaign_body()))
    assert answer.status_code == 201
    return answer.json_body["id"]


def act(client, method, path, who, body=None):
    answer = client.http.request(method, path, headers=who, body=json.dumps(body).encode() if body else b"")
    assert answer.status_code in (200, 201), answer.body
    return answer.json_body


def test_each_campaign_action_leaves_who_when_what_before_and_after(client):
    campaign_id = draft(client)
    act(client, "POST", f"/campaigns/{campaign_id}/submit", OWNER)
    act(client, "POST", f"/campaigns/{campaign_id}/reject", MODERATOR, {"reason": "Ajoutez une photo du studio."})
    act(client, "POST", f"/campaigns/{campaign_id}/submit", OWNER)
    payout_account(client, headers=OWNER)
    live = act(client, "POST", f"/campaigns/{campaign_id}/approve", MODERATOR)
    act(client, "POST", f"/campaigns/{campaign_id}/cancel", OWNER)

    found = entries(client, f"campaign_id={campaign_id}")
    assert [e["action"] for e in found] == [
        "campaign_cancelled",
        "campaign_approved",
        "campaign_submitted",
        "campaign_rejected",
        "campaign_submitted",
    ]
    cancelled, approved, _, rejected, _ = found
    assert approved["actor"] == {"id": "moderatrice", "moderator": True}
    assert approved["target"] == f"campaign/{campaign_id}" and approved["campaign_id"] == campaign_id
    assert approved["before"]["status"] == "submitted" and approved["before"]["ends_at"] is None
    assert approved["after"]["status"] == "live" and approved["after"]["ends_at"] == live["ends_at"]
    assert rejected["after"] == {
        "status": "draft",
        "rejection_reason": "Ajoutez une photo du studio.",
        "submitted_at": None,
        "updated_at": rejected["after"]["updated_at"],
    }
    assert cancelled["actor"] == {"id": "porteur", "moderator": False}
    assert (cancelled["before"]["status"], cancelled["after"]["status"]) == ("live", "cancelled")
    assert all(e["created_at"].endswith("Z") for e in found)


def test_removing_a_media_is_recorded_with_the_media_it_was(client):
    campaign_id = draft(client)
    body = {"kind": "image", "content_type": "image/png", "size_bytes": len(PNG), "filename": "yannick.png"}
    media_id = act(client, "POST", f"/campaigns/{campaign_id}/media", OWNER, body)["id"]
    act(client, "DELETE", f"/campaigns/{campaign_id}/media/{media_id}", OWNER)

    removed = by_action(client)["media_removed"]
    assert removed["target"] == f"campaign/{campaign_id}/media/{media_id}"
    assert removed["campaign_id"] == campaign_id and removed["after"] is None
    assert removed["before"]["id"] == media_id and removed["before"]["content_type"] == "image/png"
    assert "filename" not in removed["before"]  # a file's name may name someone: not in the log


def test_funds_news_and_erasure_are_recorded(client):
    fund = act(client, "POST", "/matching-funds", MODERATOR, FUND)
    act(client, "PATCH", f"/matching-funds/{fund['id']}", MODERATOR, {"name": "Fonds culture et patrimoine 2026"})
    campaign_id, _ = live_campaign(client)
    act(client, "POST", f"/campaigns/{campaign_id}/updates", OWNER, {"title": "Au studio", "body": "Première séance."})
    contributor = bearer("contributrice", name="Léa Dupont")
    assert pledge(client, campaign_id, amount_cents=1000).status_code == 201
    act(client, "DELETE", "/me", contributor)

    found = by_action(client)
    assert found["fund_created"]["target"] == f"fund/{fund['id']}"
    assert found["fund_created"]["after"]["name"] == "Fonds culture 2026"
    assert found["fund_changed"]["before"]["name"] == "Fonds culture 2026"
    assert found["fund_changed"]["after"]["name"] == "Fonds culture et patrimoine 2026"
    assert found["news_posted"]["campaign_id"] == campaign_id
    erased = found["data_erased"]
    assert erased["actor"]["id"] == "contributrice" and erased["target"] == "user/contributrice"
    assert erased["before"] == {"identity_on": {"campaigns": 0, "pledges": 1}}
    assert erased["after"] == {"identity_on": {"campaigns": 0, "pledges": 0}}


def test_the_log_never_holds_a_name_or_an_e_mail(client):
    campaign_id, _ = live_campaign(client)
    act(client, "POST", f"/campaigns/{campaign_id}/cancel", MODERATOR)
    text = json.dumps(entries(client), ensure_ascii=False)
    for personal in ("Yannick Hervé", "porteur@exemple.fr", "Claire Moderatrice", "moderatrice@exemple.fr"):
        assert personal not in text


def test_only_moderators_read_the_trail(client):
    campaign_id, _ = live_campaign(client)
    assert client.http.get("/audit", headers=OWNER).status_code == 403
    assert client.http.get("/audit").status_code == 401
    assert client.http.get(f"/audit?campaign_id={campaign_id}", headers=OWNER).status_code == 403
    assert client.http.get("/audit?limit=0", headers=MODERATOR).status_code == 400


def test_the_trail_pages_newest_first_and_filters_by_campaign(client):
    first, _ = live_campaign(client)
    second, _ = live_campaign(client, title="Cocotte Minute, tricot à Saint-Lô")
    act(client, "POST", f"/campaigns/{first}/cancel", OWNER)

    everything = entries(client)
    assert len(everything) == 5  # 2 × (submitted, approved) + cancelled
    assert everything[0]["action"] == "campaign_cancelled"
    assert [e["created_at"] for e in everything] == sorted((e["created_at"] for e in everything), reverse=True)
    assert {e["campaign_id"] for e in entries(client, f"campaign_id={second}")} == {second}
    assert [e["action"] for e in entries(client, f"campaign_id={second}")] == [
        "campaign_approved",
        "campaign_submitted",
    ]
    assert entries(client, "campaign_id=inconnue") == []


# --- nothing can change it ------------------------------------------------------------------


def test_no_route_writes_to_the_trail(client):
    audit_routes = {(route.method, route.path) for route in api.routes if route.path.startswith("/audit")}
    assert audit_routes == {("GET", "/audit")}
    campaign_id, _ = live_campaign(client)
    before = entries(client)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        answer = client.http.request(method, "/audit", headers=MODERATOR, body=b"{}")
        assert answer.status_code == 405, method
        answer = client.http.request(method, f"/audit/{before[0]['id']}", headers=MODERATOR, body=b"{}")
        assert answer.status_code in (403, 404), method  # no such resource at all
    assert entries(client) == before
    assert entries(client, f"campaign_id={campaign_id}") == before


def test_an_entry_is_never_overwritten(client):
    made = audit.record(
        Identity("moderatrice", groups=frozenset({"moderators"})), "campaign_approved", "campaign/x", None, {}
    )
    forged = made._replace(action="campaign_rejected", after={"status": "draft"})
    with pytest.raises(Conflict):
        storage.audit.append(forged)
    with pytest.raises(storage.ConditionFailed):
        storage.dynamo.transact([storage.audit.put(forged)], "refused")
    assert [(e["id"], e["action"]) for e in entries(client)] == [(made.id, "campaign_approved")]


def test_a_refused_action_leaves_no_entry(client):
    campaign_id = draft(client)
    assert client.http.post(f"/campaigns/{campaign_id}/approve", headers=MODERATOR).status_code == 409
    assert client.http.post(f"/campaigns/{campaign_id}/cancel", headers=OWNER).status_code == 409
    assert entries(client) == []
