"""Deadline closure and settlement: every campaign closes once, every pledge settles once.

A scheduled run (`run`) moves the pledges whose payment window ended (chalicelib/payments.py
`sweep`), closes the live campaigns past their deadline and payment window (once the sweep
has read all their payments), reminds owners a week before theirs, and hands each closed
campaign whose pledges are not all settled to settlement (an SQS message per campaign in
hosted stages, the calling process locally).

Settlement, on the money paid into the campaign's escrow: a succeeded campaign's paid
pledges become collected (no provider call per pledge: the escrow goes to the owner whole,
chalicelib's payout step); a failed or cancelled one's are refunded, many at once
(REFUND_CONCURRENCY), each by its payment as recorded when it was paid (one provider call);
a payment still pending is read again, and refunded if it succeeded.

Exactly once, whatever runs twice, concurrently or crashes half-way:
- closure is a conditional transition (still live, total unchanged since read);
- settlement walks the campaign's pledges from a checkpoint saved after each batch; a
  pledge moves only from the state it was read in, and the provider is idempotent on the
  pledge id (a refund asked twice is one refund);
- each mail is sent by the one caller whose conditional write claimed it.
"""

import functools
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from . import clock, matching, notifications, observability, payments, payouts, storage
from .adapters import queue
from .errors import Conflict, ServiceUnavailable
from .records import Campaign, Pledge
from .settings import get_settings

logger = logging.getLogger("oze.finalisation")

PAGE = 100
STALLED_AFTER = timedelta(minutes=10)  # a settling campaign untouched this long is handed on again
REMINDER_BEFORE = timedelta(days=7)
UNREAD_GRACE = timedelta(days=1)  # the longest a closure waits for payments the provider cannot read


def outcome(campaign: Campaign) -> str:
    raised = campaign.raised_cents
    if campaign.funding_model == "keep_it_all":
        return "succeeded" if raised > 0 else "failed"
    return "succeeded" if raised >= campaign.goal_cents else "failed"


def close(campaign_id: str, now: datetime) -> str | None:
    """Close one campaign whose deadline and payment window are past; answers its outcome,
    or None if it was not (or no longer) live and due."""
    campaign = storage.campaigns.get(campaign_id)
    if campaign is None or campaign.status != "live" or (campaign.ends_at or "") >= clock.iso(now - payments.window()):
        return None
    status = outcome(campaign)
    try:
        storage.campaigns.transition(campaign, status, {"closed_at": clock.iso(now)}, unchanged=("raised_cents",))
    except Conflict:
        return None  # another run closed it, or a last pledge landed: the next run decides
    observability.count(observability.CAMPAIGNS_SUCCEEDED if status == "succeeded" else observability.CAMPAIGNS_FAILED)
    return status


def close_due(now: datetime, unread: set[str] | None = None) -> list[str]:
    """The outcome is decided on the money paid: after the deadline, once the payments
    started before it had their window to succeed. A campaign with a pledge still pending
    past its window (`unread`: the sweep could not read its payment) waits for a later
    run, for UNREAD_GRACE at most: closing it now would refund a payment that may count;
    waiting for ever would leave it open on a payment the provider cannot find."""
    unread = unread_payments(now) if unread is None else unread
    due = storage.every(storage.campaigns.list_due, before=clock.iso(now - payments.window()))
    give_up = clock.iso(now - payments.window() - UNREAD_GRACE)
    closed = []
    for campaign in due:
        if campaign.id in unread:
            if (campaign.ends_at or "") >= give_up:
                logger.warning("a closure waits for payments to be read", extra={"campaign_id": campaign.id})
                continue
            logger.error("closed with payments the provider could not read", extra={"campaign_id": campaign.id})
        if close(campaign.id, now):
            closed.append(campaign.id)
    return closed


def unread_payments(now: datetime) -> set[str]:
    """The campaigns of the pledges still pending past their window (after the sweep:
    those whose payment the provider could not be asked about)."""
    before = clock.iso(now)
    return {
        pledge.campaign_id
        for shard in range(storage.keys.PENDING_SHARDS)
        for pledge in storage.every(storage.pledges.list_pending_due, shard, before)
    }


def remind_owners(now: datetime) -> list[str]:
    """Once per campaign, a week before its deadline (not for campaigns a week long or less)."""
    window = storage.every(
        storage.campaigns.list_to_remind, after=clock.iso(now), before=clock.iso(now + REMINDER_BEFORE)
    )
    reminded = []
    for campaign in window:
        if campaign.duration_days > 7 and storage.campaigns.mark_reminded(campaign.id, clock.iso(now)):
            _mail_owner("owner_reminder", campaign)
            reminded.append(campaign.id)
    return reminded


def _mail_owner(template: str, campaign: Campaign) -> None:
    ends_on = clock.parse(campaign.ends_at).strftime("%d/%m/%Y") if campaign.ends_at else ""
    raised, goal = notifications.euros(campaign.raised_cents), notifications.euros(campaign.goal_cents)
    notifications.to_owner(template, campaign, raised=raised, goal=goal, ends_on=ends_on)


def _settle_one(pledge: Pledge, campaign: Campaign, now: datetime) -> Pledge:
    """A pledge of a closed campaign that is neither paid nor settled: a refund of a failed
    or cancelled campaign's paid pledge, or a pending one read again at the provider."""
    if pledge.pending:
        return payments.expire_or_settle(pledge, now)
    return payments.refund_paid(pledge, live=False)


def _settle_batch(batch: list[Pledge], campaign: Campaign, now: datetime) -> int:
    """Each pledge of a batch to its end: a succeeded campaign's paid pledges collected in a
    few writes (no provider call: the escrow goes to the owner whole), every other one
    refunded or read again at the provider, REFUND_CONCURRENCY at once over the whole batch.
    Answers how many wait for a later pass."""
    collect = campaign.status == "succeeded"
    paid = [p for p in batch if p.status == "paid" and collect]
    for pledge, moved in zip(paid, storage.pledges.collect(paid, clock.iso(now)), strict=True):
        if moved:
            payments.mail_contributor("pledge_collected", pledge, campaign.title)
    to_move = [p for p in batch if p.pending or (p.status == "paid" and not collect)]
    if not to_move:
        return 0
    attempt = observability.carried(functools.partial(_attempt, campaign=campaign, now=now, halted=threading.Event()))
    with ThreadPoolExecutor(max_workers=get_settings().refund_concurrency) as pool:
        outcomes = list(pool.map(attempt, to_move))
    return outcomes.count(False)


def _attempt(pledge: Pledge, campaign: Campaign, now: datetime, halted: threading.Event) -> bool:
    """One pledge settled, or left for the next pass. Once the provider could not answer
    (down, or its rate limit reached: Mangopay's is 2,300 calls in 15 minutes by default),
    the rest of the batch waits too, rather than each pledge waiting for a timeout or
    spending the allowance again."""
    if halted.is_set():
        return False
    try:
        _settle_one(pledge, campaign, now)
        return True
    except (ServiceUnavailable, Conflict) as error:
        if isinstance(error, ServiceUnavailable):
            halted.set()
        observability.count(observability.REFUNDS_DELAYED)
        logger.warning("a pledge waits for the next pass", extra={"pledge_id": pledge.id, "why": str(error)})
        return False


def settle(campaign_id: str, now: datetime, budget: int | None = None) -> bool:
    """Settle a closed campaign's pledges from its checkpoint, up to `budget` pledges (one
    batch, checkpointed once settled: a pass that crashes does it again, each move being
    once only); True when this pass is over (all settled, or some wait for a later pass)."""
    found = storage.settlement.get(campaign_id)
    if found is None or not found.campaign.is_closed or found.settled:
        return True
    campaign, stamp = found.campaign, clock.iso(now)
    if storage.settlement.claim_owner_mail(campaign_id, stamp):
        _mail_owner(f"owner_{campaign.status}", campaign)
    # Its public money: due or given back, once.
    matching.close_campaign(campaign, stamp, already_closed=found.matching_closed)
    budget = budget or get_settings().settlement_batch_count
    batch: list[Pledge] = []
    cursor = found.cursor
    while len(batch) < budget:
        page, cursor = storage.pledges.list_for_campaign(
            campaign_id, limit=min(PAGE, budget - len(batch)), cursor=cursor, counted_only=False
        )
        batch += page
        if not cursor:
            break
    retry_pending = found.retry_pending + _settle_batch(batch, campaign, now)
    if cursor:
        storage.settlement.save_progress(campaign_id, cursor, retry_pending, stamp)
        return False
    if retry_pending:
        storage.settlement.save_progress(campaign_id, None, 0, stamp)  # next pass retries them
    else:
        payout = payouts.start(campaign, stamp) if campaign.status == "succeeded" else None
        storage.settlement.finish(campaign_id, stamp, payout)
    return True


def dispatch(campaign_id: str, now: datetime) -> None:
    """Hand a campaign to settlement: a queue message in hosted stages, here otherwise."""
    queue_url = get_settings().settlement_queue_url
    if queue_url:
        storage.settlement.touch(campaign_id, clock.iso(now))
        queue.send(queue_url, {"campaign_id": campaign_id})
        return
    while not settle(campaign_id, now):
        pass


def settle_message(body: str, now: datetime) -> None:
    """One SQS message: settle a batch, and hand the rest on in a new message."""
    campaign_id = json.loads(body)["campaign_id"]
    if not settle(campaign_id, now):
        dispatch(campaign_id, now)


def dispatch_settlements(now: datetime) -> list[str]:
    """Hand on the settling campaigns nobody has touched lately: new closures,
    cancellations, crashed or failed passes."""
    stale_before = clock.iso(now - STALLED_AFTER)
    handed = []
    for settling in storage.every(storage.settlement.list_settling):
        if settling.heartbeat < stale_before:
            dispatch(settling.campaign.id, now)
            handed.append(settling.campaign.id)
    return handed


def run(now: datetime) -> dict[str, Any]:
    """The scheduled job; `now` comes from the clock, never from the event."""
    report = {
        "expired": payments.sweep(now),  # first: the payments of the window, then the closures
        "closed": close_due(now, unread_payments(now)),
        "reminded": remind_owners(now),
        "dispatched": dispatch_settlements(now),
        "paid_out": payouts.advance_all(now),
    }
    logger.info("finalisation run", extra={k: len(v) for k, v in report.items()})
    return report
