"""Personal data self-service (GDPR): what the platform holds about me, and erasing it.

GET /me/data gathers, under the caller's account id: their campaigns (with media and
news), their pledges, the date they first pledged, their unsubscriptions, and the audit
entries they made or that concern their campaigns; and the names and e-mails stored.

DELETE /me erases the caller's identity (name, e-mail, pledge messages) from their
campaigns and pledges, and what the platform keeps of their payout account; amounts,
dates and states stay, as the public accountant needs them, so no total moves. Their
pledges become anonymous, their campaigns show "Anonyme" as owner, and each name or
e-mail they were stored under is replaced by "Anonyme" in the texts of their campaigns
(texts, rewards, news, backers' messages). It is refused while they own a live campaign
(its contributors and moderators must be able to reach its owner) or a succeeded one whose
payout has not reached them, and it is recorded in the audit trail.

What stays: the account id (a pseudonym) on each item, so the person can still find
their pledges; texts that other people wrote elsewhere (another campaign's news, a
moderator's reason in the audit trail, which is never rewritten); the sign-in account
itself, which lives in the identity provider. Pledge answers kept for idempotent
replays hold a message for at most 24 hours.
"""

import re
from typing import Any

from . import answers, audit, campaigns as campaigns_, clock, storage
from .errors import Conflict
from .identity import Identity
from .records import AuditEntry, Campaign, Pledge

ERASED_NAME = "Anonyme"
PROVIDER_RECORDS = (
    "The payment provider (Mangopay, a regulated e-money institution) keeps its own records of your payments, "
    "your identity verification and your bank account for the legal retention period (5 years after the end "
    "of the business relationship, under the French Monetary and Financial Code, art. L561-12); ask it for them. "
    "The platform keeps only the provider's ids, the verification's state and a bank account's last 4 characters."
)
NOT_NAMES = {ERASED_NAME, "Contributeur"}  # Identity.display_name when a token has no name
MIN_NAME = 3  # shorter "names" would erase parts of words
CAMPAIGN_TEXTS = ("title", "summary", "description", "rejection_reason")


def _owned(user: Identity) -> list[Campaign]:
    return list(storage.every(storage.campaigns.list_by_owner, user.sub))


def _pledges(user: Identity) -> list[Pledge]:
    return list(storage.every(storage.pledges.list_for_contributor, user.sub))


def _audit_about(user: Identity, campaign_ids: list[str]) -> list[AuditEntry]:
    entries = list(storage.every(storage.audit.list_by_actor, user.sub))
    for campaign_id in campaign_ids:
        entries += storage.every(storage.audit.list_entries, campaign_id=campaign_id)
    unique = {entry.id: entry for entry in entries}
    return sorted(unique.values(), key=lambda entry: entry.id, reverse=True)


def _identities(campaigns: list[Campaign], pledges: list[Pledge]) -> list[dict[str, str]]:
    pairs = {(c.owner_name, c.owner_email) for c in campaigns}
    pairs |= {(p.contributor_name, p.contributor_email) for p in pledges}
    return [{"name": name, "email": email} for name, email in sorted(pairs) if name or email]


def my_data(user: Identity) -> dict[str, Any]:
    """Everything held about the caller, as plain data (records' fields, nothing of storage)."""
    campaigns = _owned(user)
    pledges = _pledges(user)
    ids = [c.id for c in campaigns]
    news = [n for campaign_id in ids for n in storage.every(storage.news.list_news, campaign_id, public_only=False)]
    return {
        "profile": {"id": user.sub, "name": user.name, "email": user.email, "groups": sorted(user.groups)},
        "identities_stored": _identities(campaigns, pledges),
        "campaigns": [answers.plain(c._replace(media=())) for c in campaigns],
        "media": [answers.media_entry(c.id, m) for c in campaigns for m in c.media],
        "news": [answers.plain(n) for n in news],
        "pledges": [answers.plain(p._replace(cancellation_id=None)) for p in pledges],
        "contributor_since": storage.pledges.first_pledged_at(user.sub),
        "unsubscriptions": [answers.plain(u) for u in storage.every(storage.news.list_unsubscriptions, user.sub)],
        "audit": [answers.audit_entry(e) for e in _audit_about(user, ids)],
        "payout_account": answers.payout_account(account) if (account := storage.owners.get(user.sub)) else None,
        "payment_provider": PROVIDER_RECORDS,
    }


def _names(user: Identity, campaigns: list[Campaign], pledges: list[Pledge]) -> list[str]:
    """Every name and e-mail the person was stored under, longest first (so that a full
    name goes before a part of it); the platform's own placeholders are not names."""
    found = {user.name, user.email}
    found |= {n for c in campaigns for n in (c.owner_name, c.owner_email)}
    found |= {n for p in pledges for n in (p.contributor_name, p.contributor_email)}
    return sorted((n for n in found if len(n) >= MIN_NAME and n not in NOT_NAMES), key=len, reverse=True)


def _scrubbed(text: str, names: list[str]) -> str:
    for name in names:
        text = re.sub(re.escape(name), ERASED_NAME, text, flags=re.IGNORECASE)
    return text


def _changed(record: Any, fields: tuple[str, ...], names: list[str]) -> dict[str, Any]:
    """The fields of a record that name the person, rewritten."""
    texts = {f: getattr(record, f) for f in fields}
    rewritten = {f: _scrubbed(text, names) for f, text in texts.items() if isinstance(text, str)}
    return {f: text for f, text in rewritten.items() if text != texts[f]}


def _erase_campaign(campaign: Campaign, names: list[str], now: str) -> None:
    """The owner's identity off the campaign, and their names out of its texts, its
    rewards, its news and its backers' messages."""
    changes: dict[str, Any] = _changed(campaign, CAMPAIGN_TEXTS, names)
    if "title" in changes:
        changes["slug"] = campaigns_.slugify(changes["title"])
    changes.update(owner_name=ERASED_NAME, owner_email="", identity_erased_at=now)
    rewards = {
        reward.id: reward._replace(**fix)
        for reward in campaign.rewards
        if (fix := _changed(reward, ("title", "description"), names))
    }
    storage.erasure.erase_owner(campaign.id, changes, rewards)
    for news in list(storage.every(storage.news.list_news, campaign.id, public_only=False)):
        if fix := _changed(news, ("title", "body"), names):
            storage.news.rewrite(news, fix)
    for pledge in list(storage.every(storage.pledges.list_for_campaign, campaign.id, counted_only=False)):
        if fix := _changed(pledge, ("message",), names):
            storage.erasure.rewrite_pledge_message(pledge.id, fix["message"])


def _unpaid(campaign: Campaign) -> bool:
    payout = storage.payouts.get(campaign.id)
    return payout is None or payout.status != "paid"


def erase(user: Identity) -> dict[str, Any]:
    campaigns = _owned(user)
    live = [c.title for c in campaigns if c.status == "live"]
    if live:
        raise Conflict(f"you own a live campaign (« {live[0]} »): erase your data once it has ended")
    unpaid = [c.title for c in campaigns if c.status == "succeeded" and _unpaid(c)]
    if unpaid:
        raise Conflict(f"the money of « {unpaid[0]} » has not reached you yet: erase your data once it has")
    now = clock.iso(clock.now())
    pledges = _pledges(user)
    names = _names(user, campaigns, pledges)
    for campaign in campaigns:
        _erase_campaign(campaign, names, now)
    for pledge in pledges:
        storage.erasure.erase_contributor(pledge.id, now)
    account = storage.owners.get(user.sub)
    if account is not None:
        storage.owners.delete(account)
    counts = {"campaigns": len(campaigns), "pledges": len(pledges)}
    after = {"campaigns": 0, "pledges": 0}
    audit.record(user, "data_erased", f"user/{user.sub}", {"identity_on": counts}, {"identity_on": after})
    return {"erased_at": now, **counts}
