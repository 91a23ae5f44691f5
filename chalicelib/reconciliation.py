"""The daily reconciliation: each open escrow at the payment provider against the ledger.

Per campaign, the ledger's sum (payments in, refunds and transfers out) is what its escrow
must hold at the provider. A difference means money moved that the platform did not
record (a refund made by hand in the provider's dashboard, a crash between a provider call
and its write that no retry finished) or a record without its movement. The run counts the
differences in the metric EscrowDifferences, whose CloudWatch alarm (infra/template.yaml)
wakes the stage's alarm topic, and keeps its report for moderators (GET /reconciliation).

Open escrows: the live campaigns', and those of campaigns closed in the last
CLOSED_WINDOW (settling, or holding a succeeded campaign's money until its payout).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from . import clock, escrow, observability, storage
from .errors import Forbidden
from .identity import Identity
from .records import Campaign, EscrowCheck, Reconciliation

CLOSED_WINDOW = timedelta(days=90)
FAR_FUTURE = "9999-12-31T23:59:59Z"


def _open_escrows(now: datetime) -> Iterator[Campaign]:
    yield from storage.every(storage.campaigns.list_due, before=FAR_FUTURE)
    since, until = clock.iso(now - CLOSED_WINDOW), clock.iso(now)
    yield from storage.every(storage.campaigns.list_closed, since=since, until=until)


def run(now: datetime) -> Reconciliation:
    provider = escrow.provider()
    checked, differences, unreadable = 0, [], []
    for campaign in _open_escrows(now):
        if not campaign.escrow_id:
            continue
        try:
            at_provider = provider.escrow_balance(campaign.escrow_id)
        except escrow.ProviderError:
            unreadable.append(campaign.id)
            continue
        checked += 1
        check = EscrowCheck(
            campaign.id, campaign.title, campaign.escrow_id, at_provider, storage.ledger.escrow_balance(campaign.id)
        )
        if check.difference_cents:
            differences.append(check)
    report = Reconciliation(clock.iso(now), checked, tuple(differences), tuple(unreadable))
    storage.ledger.save_reconciliation(report)
    observability.count(observability.ESCROW_DIFFERENCES, len(differences) + len(unreadable))
    return report


NOT_RUN = Reconciliation(run_at=None, escrows_checked=0)


def latest(user: Identity) -> Reconciliation:
    """The latest run's report (NOT_RUN before the first)."""
    if not user.is_moderator:
        raise Forbidden("only moderators may read the reconciliation")
    return storage.ledger.latest_reconciliation() or NOT_RUN
