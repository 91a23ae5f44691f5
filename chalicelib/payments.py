"""Pledges moved by what the payment provider says of their payments (SPEC "Money (v2)").

Nothing a notification says is trusted: it only names a payment, which is read again at
the provider (chalicelib/escrow.py), and the pledge then moves from the state it was read
in, once, by a conditional write; a notification replayed N times, a sweep and a
cancellation racing it all end in one move. What happens to a pledge whose payment
succeeded depends on when it lands:

- pending and its campaign live: paid, counted with its top-up, in the ledger;
- its campaign closed meanwhile (a payment confirmed after the window), or the pledge
  cancelled, expired or failed meanwhile: the money is refunded at once.

A failed payment ends a pending pledge (payment_failed); a payment still waiting past the
window expires it (the scheduled sweep). Either gives its reward unit back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from . import clock, escrow, matching, notifications, observability, owners, payouts, storage
from .adapters import mailer
from .errors import Conflict, NotFound, ServiceUnavailable, field_error
from .records import EscrowPayment, LedgerEntry, Pledge
from .settings import get_settings

logger = logging.getLogger("oze.payments")

ATTEMPTS = 4  # reads of a pledge's state before giving up on a confirmation (races, top-ups)


def window() -> timedelta:
    return timedelta(seconds=get_settings().payment_window_seconds)


def provider() -> escrow.EscrowProvider:
    return escrow.provider()


def return_url(wanted: str | None, site_path: str) -> str:
    """Where a provider's hosted page sends the browser back: the client's page if its
    origin is one of the stage's, else `site_path` on the site."""
    settings = get_settings()
    if wanted is None:
        return settings.site_url + site_path
    parts = urlsplit(wanted)
    if f"{parts.scheme}://{parts.netloc}" not in (*settings.allowed_origins, settings.site_url):
        raise field_error("return_url", "must be a page of a web origin allowed for this stage")
    return wanted


def read_payment(payment_id: str) -> EscrowPayment | None:
    """The payment as the provider has it; 503 when the provider cannot answer."""
    try:
        return provider().read_payment(payment_id)
    except escrow.ProviderError as error:
        raise ServiceUnavailable("the payment provider cannot be reached; try again shortly") from error


def notified(provider_name: str, params: Mapping[str, str]) -> bool:
    """A notification from the provider: the resource it names read again, and what it
    moves moved (once): a payment's pledge, an owner's verification or bank account.
    Answers whether it named something of ours."""
    if provider_name != get_settings().payment_provider:
        raise NotFound(f"no payment provider {provider_name} here")
    note = provider().notification(params)
    if note is not None and note.kind == "payment":
        return settle_payment(note.resource_id) is not None
    if note is not None and note.kind in owners.NOTIFIED:
        return owners.notified(note.kind, note.resource_id) is not None
    if note is not None and note.kind == "payout":
        return payouts.notified(note.resource_id) is not None
    if note is not None and note.kind == "payout_return":
        return payouts.returned(note.resource_id) is not None
    return False  # refunds and transfers are written when the platform makes them


def settle_payment(payment_id: str) -> Pledge | None:
    """A settled payment moves its pledge. The payment names its pledge, campaign and
    contributor: one read finds them all (a payment that names its pledge only, two)."""
    payment = read_payment(payment_id)
    if payment is None or not payment.settled:
        return None
    read = None
    if payment.campaign_id and payment.contributor_id:
        read = _read_for(payment.campaign_id, payment.contributor_id, payment.pledge_id)
        pledge = read.pledge
    else:
        pledge = storage.pledges.get(payment.pledge_id)
    if pledge is None or pledge.payment_id != payment.id:
        logger.warning("a payment names no pledge of ours", extra={"payment_id": payment_id})
        return None
    if (pledge.campaign_id, pledge.contributor_id) != (payment.campaign_id, payment.contributor_id):
        read = None  # the pledge's own campaign and contributor count, read with it
    return apply(pledge, payment, read)


def _read_for(campaign_id: str, contributor_id: str, pledge_id: str | None = None) -> storage.pledges.PaymentContext:
    return storage.pledges.read_for_payment(campaign_id, contributor_id, matching.known_fund(campaign_id), pledge_id)


def apply(pledge: Pledge, payment: EscrowPayment, read: storage.pledges.PaymentContext | None = None) -> Pledge:
    """Move `pledge` by its settled `payment` (`read` with it, when it was); answers it as
    it now is."""
    refusals = 0
    for _ in range(ATTEMPTS):
        now = clock.iso(clock.now())
        if payment.status != "succeeded":
            return _failed(pledge, payment, now) if pledge.pending else pledge
        if pledge.status in ("paid", "collected", "refunded"):
            return pledge  # it moved once already
        if pledge.pending:
            read = read or _read_for(pledge.campaign_id, pledge.contributor_id)
            campaign = read.campaign
            if campaign is not None and campaign.status == "live":
                fund = matching.fund_for(campaign, read.fund)
                top_up = matching.top_up(
                    campaign, fund, pledge.amount_cents, now, give_up=refusals >= matching.MATCH_ATTEMPTS
                )
                entry = LedgerEntry(pledge.campaign_id, "paid", pledge.amount_cents, payment.id, now, pledge.id)
                try:
                    paid = storage.pledges.pay(pledge, entry, top_up, new_contributor=not read.known_contributor)
                except storage.ConditionFailed as refused:
                    refusals += refused.item in ("fund", "campaign")
                    read = _read_for(pledge.campaign_id, pledge.contributor_id, pledge.id)
                    pledge = read.pledge or pledge
                    continue
                mail_contributor("pledge_paid", paid, campaign.title)
                observability.count(observability.PLEDGES)
                observability.count(observability.PLEDGED_CENTS, pledge.amount_cents)
                return paid
        # Paid too late (the campaign closed), or after the pledge was cancelled, failed or
        # expired: the money goes back.
        return refund(pledge, payment, live=False)
    raise Conflict("this pledge is moving under too many concurrent requests; the next notification moves it")


def _failed(pledge: Pledge, payment: EscrowPayment, now: str) -> Pledge:
    try:
        failed = storage.pledges.end_pending(pledge, "payment_failed", now, payment.result or "paiement refusé")
    except storage.ConditionFailed:
        return storage.pledges.get(pledge.id) or pledge
    observability.count(observability.PAYMENT_FAILURES)
    return failed


def refund(pledge: Pledge, payment: EscrowPayment, *, live: bool, withdrawn: bool = False) -> Pledge:
    """Refund a pledge's payment at the provider (idempotent: asked again, the same refund),
    then record it: out of the live campaign's totals (`live`), in the ledger, once;
    `withdrawn` by its contributor."""
    try:
        transfer = provider().refund(payment)
    except escrow.ProviderError as error:
        raise ServiceUnavailable("the payment provider cannot be reached; try again shortly") from error
    if transfer.status != "succeeded":
        logger.error("a refund failed", extra={"pledge_id": pledge.id, "reason": transfer.result})
        raise Conflict(f"the provider refused the refund: {transfer.result}")
    now = clock.iso(clock.now())
    entries = [LedgerEntry(pledge.campaign_id, "refunded", pledge.amount_cents, transfer.id, now, pledge.id)]
    if not pledge.counted:  # never recorded as paid: its payment goes in the ledger too
        entries.insert(0, LedgerEntry(pledge.campaign_id, "paid", pledge.amount_cents, payment.id, now, pledge.id))
    try:
        refunded = storage.pledges.refund(pledge, entries, live=live, withdrawn=withdrawn)
    except storage.ConditionFailed as refused:
        if refused.item == "campaign":  # it closed meanwhile: its totals are final
            return refund(pledge, payment, live=False, withdrawn=withdrawn)
        again = storage.pledges.get(pledge.id)
        return again or pledge  # another run recorded it
    observability.count(observability.PLEDGES_REFUNDED)
    mail_contributor("pledge_refunded", refunded, pledge.campaign_title)
    return refunded


def refund_paid(pledge: Pledge, *, live: bool, withdrawn: bool = False) -> Pledge:
    """Refund a paid pledge by its payment: as recorded when it was paid (a payment read
    as succeeded stays so; the provider refuses a refund it cannot make), or read again at
    the provider for a pledge recorded without its escrow and payer."""
    payment = _recorded_payment(pledge) or read_payment(pledge.payment_id or "")
    if payment is None or payment.status != "succeeded":
        raise Conflict(f"the provider holds no payment of pledge {pledge.id} to refund")
    return refund(pledge, payment, live=live, withdrawn=withdrawn)


def _recorded_payment(pledge: Pledge) -> EscrowPayment | None:
    if not (pledge.counted and pledge.payment_id and pledge.escrow_id and pledge.payer_id):
        return None
    return EscrowPayment(
        pledge.payment_id, pledge.id, pledge.escrow_id, pledge.amount_cents, "succeeded", "",
        pledge.created_at, pledge.paid_at, payer_id=pledge.payer_id,
    )  # fmt: skip


def withdraw(pledge: Pledge) -> Pledge:
    """Its contributor withdraws a paid pledge while the campaign is live: refunded, out of
    the totals."""
    return refund_paid(pledge, live=True, withdrawn=True)


def expire_or_settle(pledge: Pledge, now: datetime) -> Pledge:
    """A pending pledge past its window: its payment read again, then moved by it, or
    expired if it still waits."""
    payment = read_payment(pledge.payment_id or "")
    if payment is not None and payment.settled:
        return apply(pledge, payment)
    try:
        return storage.pledges.end_pending(pledge, "expired", clock.iso(now), "délai de paiement dépassé")
    except storage.ConditionFailed:
        return storage.pledges.get(pledge.id) or pledge


def sweep(now: datetime) -> list[str]:
    """The pending pledges whose window ended: each read again at the provider and moved.
    A provider that cannot answer, or a table that stays busy, leaves a pledge for the next
    run: it never stops the run (finalisation.run closes campaigns after it)."""
    moved = []
    before = clock.iso(now)
    for shard in range(storage.keys.PENDING_SHARDS):
        for pledge in storage.every(storage.pledges.list_pending_due, shard, before):
            try:
                moved.append(expire_or_settle(pledge, now).id)
            except (ServiceUnavailable, Conflict, storage.StorageError) as error:
                logger.warning("a pledge waits for the next sweep", extra={"pledge_id": pledge.id, "why": str(error)})
    return moved


def mail_contributor(template: str, pledge: Pledge, title: str) -> None:
    """A contributor's mail about their pledge's money. The move it tells of is written
    already: a mail SES refuses is logged, and never undoes or stops the move."""
    try:
        notifications.send(
            template,
            pledge.contributor_email,
            name=pledge.contributor_name,
            title=title,
            amount=notifications.euros(pledge.amount_cents),
            link=notifications.campaign_link(pledge.campaign_id),
        )
    except mailer.MailNotSent:
        logger.exception("pledge mail not sent", extra={"pledge_id": pledge.id, "template": template})
