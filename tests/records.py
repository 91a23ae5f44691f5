"""Records as the repositories return them, for tests of rules and of the storage tier."""

from typing import Any

from chalicelib.records import AuditEntry, Campaign, Fund, Idempotency, LedgerEntry, MediaEntry, News, Pledge, Reward

NOW = "2026-06-01T12:00:00Z"
ENDS = "2026-07-11T21:59:59Z"  # a live campaign's deadline, 40 days after NOW
EPOCH = 1_780_315_200  # NOW in epoch seconds
PAYMENT_EXPIRES = "2026-06-01T13:00:00Z"  # a pledge's payment window ends an hour after NOW
PAID_AT = "2026-06-01T12:10:00Z"  # when a pledge's payment succeeded at the provider


def draft(**fields: Any) -> Campaign:
    """A campaign of the Manche (Saint-Lô), a draft unless `fields` say otherwise."""
    values: dict[str, Any] = {
        "id": "c0ffee",
        "slug": "cocotte-minute",
        "title": "Cocotte Minute",
        "summary": "Une mercerie et des ateliers de tricot à Saint-Lô",
        "description": "Camille ouvre une boutique de laine et de tricot au cœur de Saint-Lô.",
        "category": "business",
        "postcode": "50000",
        "commune": "Saint-Lô",
        "owner_id": "camille",
        "owner_name": "Camille Lecarpentier",
        "owner_email": "camille@exemple.fr",
        "goal_cents": 200_000,
        "funding_model": "all_or_nothing",
        "duration_days": 40,
        "status": "draft",
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    return Campaign(**values)


def live(**fields: Any) -> Campaign:
    """A live campaign, launched at NOW and ending at ENDS."""
    return draft(**{"status": "live", "submitted_at": NOW, "launched_at": NOW, "ends_at": ENDS, **fields})


def reward(**fields: Any) -> Reward:
    """An unlimited reward unless `fields` give a quantity (then all of it remains)."""
    values: dict[str, Any] = {
        "id": "r-pelote",
        "title": "Une pelote « Cotentin »",
        "description": "Laine d'agneau filée à Saint-Lô, écheveau de 100 g.",
        "min_amount_cents": 2_500,
        "created_at": NOW,
        **fields,
    }
    values.setdefault("remaining", values.get("quantity"))
    return Reward(**values)


def media_entry(**fields: Any) -> MediaEntry:
    values: dict[str, Any] = {
        "id": "m-vitrine",
        "kind": "image",
        "content_type": "image/png",
        "size_bytes": 48_213,
        "filename": "vitrine-rue-torteron.png",
        "status": "pending",
        "created_at": NOW,
        **fields,
    }
    return MediaEntry(**values)


def pledge(**fields: Any) -> Pledge:
    """Léa Dupont's pledge of 50 € to the campaign of `draft()`, waiting for its payment
    until an hour after NOW (status "paid" and the like: give them)."""
    values: dict[str, Any] = {
        "id": "p-lea",
        "campaign_id": "c0ffee",
        "campaign_title": "Cocotte Minute",
        "contributor_id": "lea",
        "contributor_name": "Léa Dupont",
        "contributor_email": "lea@exemple.fr",
        "amount_cents": 5_000,
        "status": "pending_payment",
        "created_at": NOW,
        "payment_expires_at": PAYMENT_EXPIRES,
        **fields,
    }
    # Its own payment at the provider: payin-lea for p-lea, payin-hugo for p-hugo.
    values.setdefault("payment_id", "payin-" + values["id"].removeprefix("p-"))
    values.setdefault("payment_url", f"http://127.0.0.1:8000/sandbox/payments/{values['payment_id']}")
    return Pledge(**values)


def ledger_entry(of: Pledge, kind: str = "paid", transaction_id: str = "", at: str = PAID_AT) -> LedgerEntry:
    """The ledger's entry of a movement of `of`'s money at PAID_AT: its payment (the
    provider's payment id) unless `kind` says otherwise (then transaction <kind>-<pledge id>)."""
    transaction = transaction_id or (str(of.payment_id) if kind == "paid" else f"{kind}-{of.id}")
    return LedgerEntry(of.campaign_id, kind, of.amount_cents, transaction, at, of.id)


def idempotency(scope: str = "lea:cle-1", **fields: Any) -> Idempotency:
    values: dict[str, Any] = {
        "scope": scope,
        "fingerprint": "empreinte",
        "answer": '{"id": "p-lea"}',
        "created_epoch": EPOCH,
        "expires_at": EPOCH + 86_400,
        **fields,
    }
    return Idempotency(**values)


def fund(**fields: Any) -> Fund:
    """The Manche's matching fund: 1,000 € of budget, all of it remaining."""
    values: dict[str, Any] = {
        "id": "f-manche",
        "name": "Fonds d'abondement de la Manche",
        "decision_ref": "Délibération CD50-2026-042",
        "budget_cents": 100_000,
        "match_percent": 50,
        "cap_per_pledge_cents": 5_000,
        "cap_per_campaign_cents": 50_000,
        "min_crowd_cents": 0,
        "opens_at": NOW,
        "closes_at": "2026-12-31T22:59:59Z",
        "created_by": "moderatrice",
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }
    values.setdefault("remaining_cents", values["budget_cents"])
    return Fund(**values)


def audit_entry(**fields: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "id": "a-1",
        "created_at": NOW,
        "action": "campaign_submitted",
        "actor_id": "camille",
        "actor_moderator": False,
        "target": "campaign/c0ffee",
        "before": {"status": "draft"},
        "after": {"status": "submitted"},
        "campaign_id": "c0ffee",
        **fields,
    }
    return AuditEntry(**values)


def news(**fields: Any) -> News:
    values: dict[str, Any] = {
        "id": "n-1",
        "campaign_id": "c0ffee",
        "author_id": "camille",
        "title": "Les premières pelotes sont arrivées",
        "body": "Merci à toutes et à tous : la vitrine de la rue Torteron prend forme.",
        "backers_only": False,
        "created_at": NOW,
        **fields,
    }
    return News(**values)
