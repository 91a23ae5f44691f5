"""How records are shown: the bodies of answers, built from records at the HTTP edge
(app.py) and checked against their response model there (chalicelib/http.py).

Who sees what is decided here for each shape: the moderator's reason only for the owner
and moderators, a backer's name only if they did not choose to stay anonymous, never a
contributor's e-mail or id in public answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import media
from .identity import Identity
from .records import (
    AuditEntry,
    Campaign,
    Counters,
    Fund,
    MediaEntry,
    News,
    Payout,
    PayoutAccount,
    Pledge,
    Reconciliation,
    Reward,
)


def page(items: Iterable[Any], cursor: str | None) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": cursor}


def is_insider(campaign: Campaign, viewer: Identity | None) -> bool:
    """The campaign's owner or a moderator."""
    return viewer is not None and (viewer.is_moderator or viewer.sub == campaign.owner_id)


def reward(reward: Reward) -> dict[str, Any]:
    return {
        "id": reward.id,
        "title": reward.title,
        "description": reward.description,
        "min_amount_cents": reward.min_amount_cents,
        "quantity": reward.quantity,
        "remaining": reward.remaining,
    }


def campaign(c: Campaign, viewer: Identity | None = None) -> dict[str, Any]:
    published = media.published(c)
    shown = {
        **{name: getattr(c, name) for name in CAMPAIGN_FIELDS},
        "owner": {"id": c.owner_id, "display_name": c.owner_name},
        "crowd_cents": c.crowd_cents,
        "percent_funded": c.percent_funded,
        "rewards": [reward(r) for r in sorted(c.rewards, key=lambda r: (r.min_amount_cents, r.created_at))],
        "media": published,
        # its image may have been removed meanwhile
        "cover_media_id": c.cover_media_id if c.cover_media_id in {m["id"] for m in published} else None,
        "rejection_reason": c.rejection_reason if is_insider(c, viewer) else None,
    }
    return shown


CAMPAIGN_FIELDS = (
    "id",
    "slug",
    "title",
    "summary",
    "description",
    "category",
    "postcode",
    "commune",
    "goal_cents",
    "funding_model",
    "duration_days",
    "status",
    "raised_cents",
    "matched_cents",
    "matching_fund_id",
    "pledge_count",
    "launched_at",
    "ends_at",
    "submitted_at",
    "cancelled_at",
    "created_at",
    "updated_at",
)


def campaigns(items: Iterable[Campaign], cursor: str | None, viewer: Identity | None = None) -> dict[str, Any]:
    return page((campaign(c, viewer) for c in items), cursor)


def moderation_queue(
    items: Iterable[Campaign], cursor: str | None, accounts: Mapping[str, PayoutAccount], viewer: Identity
) -> dict[str, Any]:
    def queued(c: Campaign) -> dict[str, Any]:
        account = accounts.get(c.owner_id)
        return {**campaign(c, viewer), "owner_payout_account": account.status if account else None}

    return page(map(queued, items), cursor)


def own_pledge(p: Pledge) -> dict[str, Any]:
    """A pledge as its contributor sees it."""
    return {
        "id": p.id,
        "campaign_id": p.campaign_id,
        "amount_cents": p.amount_cents,
        "reward_id": p.reward_id,
        "anonymous": p.anonymous,
        "message": p.message,
        "status": p.status,
        "created_at": p.created_at,
        "paid_at": p.paid_at,
        "refunded_at": p.refunded_at,
        "cancelled_at": p.cancelled_at,
        "matched_cents": p.matched_cents,
        "payment": {"redirect_url": p.payment_url, "expires_at": p.payment_expires_at} if p.pending else None,
        "failure_reason": p.failure_reason,
    }


def my_pledge(p: Pledge, campaign_now: Campaign | None) -> dict[str, Any]:
    status = campaign_now.status if campaign_now else "cancelled"
    return {**own_pledge(p), "campaign": {"id": p.campaign_id, "title": p.campaign_title, "status": status}}


def backer(p: Pledge) -> dict[str, Any]:
    return {
        "display_name": None if p.anonymous else p.contributor_name,
        "anonymous": p.anonymous,
        "message": p.message,
        "created_at": p.created_at,
    }


def news(n: News) -> dict[str, Any]:
    return {
        "id": n.id,
        "campaign_id": n.campaign_id,
        "title": n.title,
        "body": n.body,
        "backers_only": n.backers_only,
        "created_at": n.created_at,
    }


def audit_entry(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "created_at": e.created_at,
        "action": e.action,
        "actor": {"id": e.actor_id, "moderator": e.actor_moderator},
        "target": e.target,
        "campaign_id": e.campaign_id,
        "before": e.before,
        "after": e.after,
    }


def fund(f: Fund) -> dict[str, Any]:
    return {**f._asdict(), "categories": list(f.categories), "postcode_prefixes": list(f.postcode_prefixes)}


def stats(counters: Counters) -> dict[str, Any]:
    by_status = counters.campaigns_by_status
    closed = by_status["succeeded"] + by_status["failed"]
    return {
        "campaigns_by_status": by_status,
        "success_rate_percent": by_status["succeeded"] * 100 // closed if closed else None,
        "total_raised_cents": counters.raised_cents,
        "contributors": counters.contributors,
        "by_category": {name: f._asdict() for name, f in counters.by_category.items()},
        "by_commune": {name: f._asdict() for name, f in counters.by_commune.items()},
    }


def media_entry(campaign_id: str, m: MediaEntry) -> dict[str, Any]:
    """An upload as its owner's personal data shows it."""
    return {"campaign_id": campaign_id, **{k: v for k, v in m._asdict().items() if v is not None}}


def reconciliation(r: Reconciliation) -> dict[str, Any]:
    differences = [{**c._asdict(), "difference_cents": c.difference_cents} for c in r.differences]
    return {**r._asdict(), "differences": differences, "unreadable": list(r.unreadable)}


def plain(record: Any) -> dict[str, Any]:
    """A record's fields, records inside it included, absent values left out."""
    return {k: _plain(v) for k, v in record._asdict().items() if v is not None}


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return plain(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def payout(p: Payout) -> dict[str, Any]:
    fields = ("campaign_id", "collected_cents", "commission_cents", "status", "failure_reason", "created_at")
    return {**{name: getattr(p, name) for name in fields}, "amount_cents": p.amount_cents,
            "updated_at": p.updated_at, "paid_at": p.paid_at}  # fmt: skip


def payout_account(a: PayoutAccount) -> dict[str, Any]:
    """An owner's payout account as they see it: the provider's pages to visit, the bank
    account by its last 4 characters."""
    bank = (
        {"last4": a.iban_last4, "status": a.bank_account_status, "confirmation_url": a.bank_account_url}
        if a.bank_account_id
        else None
    )
    return {
        "kind": a.kind,
        "name": a.name,
        "status": a.status,
        "verification_url": a.verification_url,
        "refusal_reason": a.refusal_reason,
        "legal_form": a.legal_form,
        "rna": a.rna,
        "siren": a.siren,
        "bank_account": bank,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
    }
