"""A succeeded campaign's money to its owner (SPEC "Money (v2)").

Once every pledge is collected, the campaign's payout starts (`waiting`): the escrow, less
the platform's commission (COMMISSION_BASIS_POINTS), goes to the owner as soon as their
payout account is verified and their bank account active; until then the owner is
reminded by mail, once a week. Then, each step idempotent at the provider (its reference
is the campaign, and the attempt for a payout):

    waiting → the escrow transferred to the owner's wallet, commission kept as its fees
              (ledger: collected, commission) → the wallet paid out to the bank account
    in_progress → paid (ledger: payout) | failed (the bank refused: the reason is shown,
                  the owner is told, and it is tried again once they register another
                  bank account)
    paid → failed, when the bank sends the money back later (ledger: payout_returned)

The scheduled run (chalicelib/finalisation.py) advances every open payout; a provider's
notification about a payout advances it at once. A notification is only a prompt: the
payout is read again at the provider. Each move is conditional on the state and attempt
it was read in: two runs racing pay once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from . import clock, escrow, notifications, storage
from .errors import NotFound, ServiceUnavailable
from .identity import Identity
from .records import Campaign, EscrowTransfer, LedgerEntry, Payout, PayoutAccount
from .settings import get_settings

logger = logging.getLogger("oze.payouts")

REMIND_EVERY = timedelta(days=7)


def start(campaign: Campaign, now: str) -> Payout:
    """A succeeded campaign's payout, waiting (written by settlement with its last step)."""
    commission = campaign.crowd_cents * get_settings().commission_basis_points // 10_000
    return Payout(
        campaign_id=campaign.id,
        campaign_title=campaign.title,
        owner_id=campaign.owner_id,
        escrow_id=campaign.escrow_id or "",
        collected_cents=campaign.crowd_cents,
        commission_cents=commission,
        status="waiting",
        created_at=now,
        updated_at=now,
    )


def of_campaign(campaign_id: str, viewer: Identity) -> Payout:
    """The payout of a succeeded campaign, for its owner and the moderators."""
    campaign = storage.campaigns.get(campaign_id)
    if campaign is None or not (viewer.is_moderator or campaign.owner_id == viewer.sub):
        raise NotFound(f"no campaign {campaign_id}")
    payout = storage.payouts.get(campaign_id)
    if payout is None:
        if campaign.status in ("failed", "cancelled"):
            raise NotFound(f"a {campaign.status} campaign pays nothing out: its contributors are refunded")
        if campaign.status == "succeeded":
            raise NotFound("its pledges are still being collected: the payout starts once they all are")
        raise NotFound(f"no payout until the campaign succeeds (it is {campaign.status})")
    return payout


def _mail(template: str, payout: Payout, **values: str) -> None:
    campaign = storage.campaigns.get(payout.campaign_id)
    if campaign is not None:
        notifications.to_owner(template, campaign, amount=notifications.euros(payout.amount_cents), **values)


def _remind(payout: Payout, account: PayoutAccount | None, now: datetime) -> Payout:
    """Waiting for the owner: a mail a week at most that says what is missing."""
    if payout.reminded_at and clock.parse(payout.reminded_at) > now - REMIND_EVERY:
        return payout
    if account is None:
        missing = "ouvrez votre compte de versement"
    elif account.status != "verified":
        missing = "terminez la vérification de votre identité"
    else:
        missing = "enregistrez votre compte bancaire et confirmez-le"
    moved = storage.payouts.move(payout, {"reminded_at": clock.iso(now)})
    if moved:
        _mail("owner_payout_waiting", payout, missing=missing)
    return moved or payout


def _release(payout: Payout, account: PayoutAccount, now: str) -> Payout | None:
    """The escrow to the owner's wallet, less the commission (once: the campaign is its
    reference), with its ledger entries."""
    transfer = escrow.provider().release(
        payout.escrow_id, payout.collected_cents, f"payout-{payout.campaign_id}", account.wallet_id,
        payout.commission_cents,
    )  # fmt: skip
    if transfer.status != "succeeded":
        return _fail(payout, transfer.result or "transfert refusé", now)
    entries = [LedgerEntry(payout.campaign_id, "collected", payout.collected_cents, transfer.id, now)]
    if payout.commission_cents:
        entries.append(LedgerEntry(payout.campaign_id, "commission", payout.commission_cents, transfer.id, now))
    return storage.payouts.move(payout, {"transfer_id": transfer.id, "updated_at": now}, entries)


def _pay_out(payout: Payout, account: PayoutAccount, now: str) -> Payout | None:
    """The owner's wallet to their bank account (once per attempt)."""
    assert account.bank_account_id is not None  # can_be_paid
    sent = escrow.provider().pay_out(
        account.psp_user_id, account.wallet_id, account.bank_account_id, payout.amount_cents,
        f"payout-{payout.campaign_id}-{payout.attempt}",
    )  # fmt: skip
    changes = {"payout_id": sent.id, "bank_account_id": account.bank_account_id, "updated_at": now}
    moved = storage.payouts.move(payout, {**changes, "status": "in_progress"})
    return _settled(moved, sent, now) if moved else None


def _settled(payout: Payout, sent: EscrowTransfer, now: str) -> Payout | None:
    """An attempt the bank answered: paid, or failed with its reason."""
    if sent.status == "succeeded":
        entry = LedgerEntry(payout.campaign_id, "payout", payout.amount_cents, sent.id, now)
        paid = storage.payouts.move(payout, {"status": "paid", "paid_at": now, "updated_at": now}, [entry])
        if paid:
            _mail("owner_payout_paid", paid)
        return paid
    if sent.status == "failed":
        return _fail(payout, sent.result or "virement refusé par la banque", now)
    return payout  # the bank has not answered yet


def _fail(payout: Payout, reason: str, now: str) -> Payout | None:
    failed = storage.payouts.move(payout, {"status": "failed", "failure_reason": reason, "updated_at": now})
    if failed:
        logger.warning("a payout failed", extra={"campaign_id": payout.campaign_id, "why": reason})
        _mail("owner_payout_failed", failed, reason=reason)
    return failed


def advance(payout: Payout, now: datetime) -> Payout | None:
    """One step of a payout, as far as the provider and the owner allow; None when another
    run moved it meanwhile (it goes on from there)."""
    stamp = clock.iso(now)
    if payout.status == "in_progress":
        sent = escrow.provider().read_payout(payout.payout_id or "")
        return _settled(payout, sent, stamp) if sent else payout
    account = storage.owners.get(payout.owner_id)
    if payout.status == "failed":
        if not (account and account.can_be_paid and account.bank_account_id != payout.bank_account_id):
            return payout  # waits for another bank account
        changes = {"status": "waiting", "attempt": payout.attempt + 1, "failure_reason": None, "updated_at": stamp}
        retried = storage.payouts.move(payout, changes)
        return advance(retried, now) if retried else None
    if payout.status != "waiting":
        return payout
    if account is None or not account.can_be_paid:
        return _remind(payout, account, now)
    if payout.transfer_id is None:
        released = _release(payout, account, stamp)
        if released is None or released.status != "waiting":
            return released
        payout = released
    return _pay_out(payout, account, stamp)


def advance_all(now: datetime) -> list[str]:
    """Every open payout advanced (the scheduled run); a provider that cannot answer
    leaves a payout for the next run and never stops the others."""
    moved = []
    for payout in list(storage.every(storage.payouts.list_open)):
        try:
            after = advance(payout, now)
        except escrow.ProviderError as error:
            logger.warning(
                "a payout waits for the next run", extra={"campaign_id": payout.campaign_id, "why": str(error)}
            )
            continue
        if after is not None and after != payout:
            moved.append(payout.campaign_id)
    return moved


def returned(return_id: str) -> Payout | None:
    """The bank sent a paid payout back to the owner's wallet (read again at the
    provider): the payout fails with the bank's reason, in the ledger, and is made again
    once the owner registers another bank account."""
    try:
        back = escrow.provider().read_payout_return(return_id)
    except escrow.ProviderError as error:
        raise ServiceUnavailable("the payment provider cannot be reached; notify again shortly") from error
    payout = storage.payouts.of_provider_payout(back.payment_id or "") if back else None
    if back is None or back.status != "succeeded" or payout is None or payout.payout_id != back.payment_id:
        return None
    if payout.status != "paid":
        return payout  # recorded already
    now = clock.iso(clock.now())
    reason = f"virement retourné par la banque ({back.result or 'sans motif'})"
    entry = LedgerEntry(payout.campaign_id, "payout_returned", payout.amount_cents, back.id, now)
    changes = {"status": "failed", "failure_reason": reason, "paid_at": None, "updated_at": now}
    failed = storage.payouts.move(payout, changes, [entry])
    if failed:
        logger.warning("a payout was returned", extra={"campaign_id": payout.campaign_id, "why": back.result})
        _mail("owner_payout_failed", failed, reason=reason)
    return failed


def notified(payout_id: str) -> Payout | None:
    """The provider says a payout moved: read again there, then recorded."""
    payout = storage.payouts.of_provider_payout(payout_id)
    if payout is None or payout.payout_id != payout_id:
        return None
    try:
        return advance(payout, clock.now())
    except escrow.ProviderError as error:
        raise ServiceUnavailable("the payment provider cannot be reached; notify again shortly") from error
