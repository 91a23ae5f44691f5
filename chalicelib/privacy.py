"""Personal data self-service (GDPR): what the platform holds about me, and erasing it.

GET /me/data gathers, under the caller's account id: their campaigns (with media and
news), their pledges, the date they first pledged, their unsubscriptions, and the audit
entries they made or that concern their campaigns; and the names and e-mails stored.

DELETE /me erases the caller's identity (name, e-mail, pledge messages) from their
campaigns and pledges; amounts, dates and states stay, as the public accountant needs
them, so no total moves. Their pledges become anonymous, their campaigns show
"Anonyme" as owner, and each name or e-mail they were stored under is replaced by
"Anonyme" in the texts of their campaigns (texts, rewards, news, backers' messages). It
is refused while they own a live campaign (its contributors and moderators must be able
to reach its owner), and it is recorded in the audit trail.

What stays: the account id (a pseudonym) on each item, so the person can still find
their pledges; texts that other people wrote elsewhere (another campaign's news, a
moderator's reason in the audit trail, which is never rewritten); the sign-in account
itself, which lives in the identity provider. Pledge answers kept for idempotent
replays hold a message for at most 24 hours.
"""

import re
from typing import Any

from . import audit, clock, storage
from . import campaigns as campaigns_
from .errors import Conflict
from .identity import Identity

ERASED_NAME = "Anonyme"
NOT_NAMES = {ERASED_NAME, "Contributeur"}  # Identity.display_name when a token has no name
MIN_NAME = 3  # shorter "names" would erase parts of words
CAMPAIGN_TEXTS = ("title", "summary", "description", "rejection_reason")


def _owned(user: Identity) -> list[dict[str, Any]]:
    return list(storage.every(storage.list_by_owner, user.sub))


def _pledges(user: Identity) -> list[dict[str, Any]]:
    return list(storage.every(storage.list_contributor_pledges, user.sub))


def _audit_about(user: Identity, campaign_ids: list[str]) -> list[dict[str, Any]]:
    entries = list(storage.every(storage.list_audit_by_actor, user.sub))
    for campaign_id in campaign_ids:
        entries += storage.every(storage.list_audit, campaign_id=campaign_id)
    unique = {entry["id"]: audit.view(entry) for entry in entries}
    return sorted(unique.values(), key=lambda entry: entry["id"], reverse=True)


def _identities(campaigns: list[dict[str, Any]], pledges: list[dict[str, Any]]) -> list[dict[str, str]]:
    pairs = {(c.get("owner_name", ""), c.get("owner_email", "")) for c in campaigns}
    pairs |= {(p.get("contributor_name", ""), p.get("contributor_email", "")) for p in pledges}
    return [{"name": name, "email": email} for name, email in sorted(pairs) if name or email]


def my_data(user: Identity) -> dict[str, Any]:
    campaigns = _owned(user)
    pledges = _pledges(user)
    ids = [c["id"] for c in campaigns]
    news = [item for campaign_id in ids for item in storage.every(storage.list_news, campaign_id, public_only=False)]
    marker = storage.get_contributor(user.sub)
    return {
        "profile": {"id": user.sub, "name": user.name, "email": user.email, "groups": sorted(user.groups)},
        "identities_stored": _identities(campaigns, pledges),
        "campaigns": campaigns,
        "media": [{"campaign_id": c["id"], **entry} for c in campaigns for entry in c.get("media", {}).values()],
        "news": news,
        "pledges": pledges,
        "contributor_since": marker["first_pledge_at"] if marker else None,
        "unsubscriptions": list(storage.every(storage.list_unsubscriptions, user.sub)),
        "audit": _audit_about(user, ids),
    }


def _names(user: Identity, campaigns: list[dict[str, Any]], pledges: list[dict[str, Any]]) -> list[str]:
    """Every name and e-mail the person was stored under, longest first (so that a full
    name goes before a part of it); the platform's own placeholders are not names."""
    found = {user.name, user.email}
    found |= {c.get(k, "") for c in campaigns for k in ("owner_name", "owner_email")}
    found |= {p.get(k, "") for p in pledges for k in ("contributor_name", "contributor_email")}
    return sorted((n for n in found if len(n) >= MIN_NAME and n not in NOT_NAMES), key=len, reverse=True)


def _scrubbed(text: str, names: list[str]) -> str:
    for name in names:
        text = re.sub(re.escape(name), ERASED_NAME, text, flags=re.IGNORECASE)
    return text


def _changed(item: dict[str, Any], fields: tuple[str, ...], names: list[str]) -> dict[str, str]:
    """The fields of `item` that name the person, rewritten."""
    rewritten = {f: _scrubbed(item[f], names) for f in fields if isinstance(item.get(f), str)}
    return {f: text for f, text in rewritten.items() if text != item[f]}


def _erase_campaign(campaign: dict[str, Any], names: list[str], now: str) -> None:
    """The owner's identity off the campaign, and their names out of its texts, its
    rewards, its news and its backers' messages."""
    changes = _changed(campaign, CAMPAIGN_TEXTS, names)
    if "title" in changes:
        changes["slug"] = campaigns_.slugify(changes["title"])
    changes.update(owner_name=ERASED_NAME, owner_email="", identity_erased_at=now)
    rewards = {
        reward_id: {**reward, **fix}
        for reward_id, reward in campaign.get("rewards", {}).items()
        if (fix := _changed(reward, ("title", "description"), names))
    }
    storage.erase_owner(campaign["id"], changes, rewards)
    campaign_id = campaign["id"]
    for news in list(storage.every(storage.list_news, campaign_id, public_only=False)):
        if fix := _changed(news, ("title", "body"), names):
            storage.rewrite_news(news, fix)
    for pledge in list(storage.every(storage.list_campaign_pledges, campaign_id, active_only=False)):
        if fix := _changed(pledge, ("message",), names):
            storage.rewrite_pledge_message(pledge["id"], fix["message"])


def erase(user: Identity) -> dict[str, Any]:
    campaigns = _owned(user)
    live = [c["title"] for c in campaigns if c["status"] == "live"]
    if live:
        raise Conflict(f"you own a live campaign (« {live[0]} »): erase your data once it has ended")
    now = clock.iso(clock.now())
    pledges = _pledges(user)
    names = _names(user, campaigns, pledges)
    for campaign in campaigns:
        _erase_campaign(campaign, names, now)
    for pledge in pledges:
        storage.erase_contributor(pledge["id"], now)
    counts = {"campaigns": len(campaigns), "pledges": len(pledges)}
    after = {"campaigns": 0, "pledges": 0}
    audit.record(user, "data_erased", f"user/{user.sub}", {"identity_on": counts}, {"identity_on": after})
    return {"erased_at": now, **counts}
