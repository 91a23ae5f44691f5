"""Deadline closure and settlement: every campaign closes once, every pledge settles once.

A scheduled run (`run`) closes the live campaigns past their deadline, reminds owners a
week before theirs, and hands each closed campaign whose pledges are not all settled to
settlement (an SQS message per campaign in hosted stages, the calling process locally).

Exactly once, whatever runs twice, concurrently or crashes half-way:
- closure is a conditional transition (still live, total unchanged since read);
- settlement walks the campaign's pledges from a checkpoint saved after each page; a
  pledge moves only from "not settled" (or the failed attempt this run saw) to its
  outcome, and the provider is idempotent on the pledge id;
- each mail is sent by the one caller whose conditional write claimed it.
"""

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from . import clock, matching, notifications, observability, payments, storage
from .adapters import queue
from .errors import Conflict
from .records import Campaign, Pledge
from .settings import get_settings

logger = logging.getLogger("oze.finalisation")

PAGE = 100
STALLED_AFTER = timedelta(minutes=10)  # a settling campaign untouched this long is handed on again
REMINDER_BEFORE = timedelta(days=7)


def outcome(campaign: Campaign) -> str:
    raised = campaign.raised_cents
    if campaign.funding_model == "keep_it_all":
        return "succeeded" if raised > 0 else "failed"
    return "succeeded" if raised >= campaign.goal_cents else "failed"


def close(campaign_id: str, now: datetime) -> str | None:
    """Close one campaign past its deadline; answers its outcome, or None if it was not
    (or no longer) live and due."""
    campaign = storage.campaigns.get(campaign_id)
    if campaign is None or campaign.status != "live" or (campaign.ends_at or "") >= clock.iso(now):
        return None
    status = outcome(campaign)
    try:
        storage.campaigns.transition(campaign, status, {"closed_at": clock.iso(now)}, unchanged=("raised_cents",))
    except Conflict:
        return None  # another run closed it, or a last pledge landed: the next run decides
    observability.count(observability.CAMPAIGNS_SUCCEEDED if status == "succeeded" else observability.CAMPAIGNS_FAILED)
    return status


def close_due(now: datetime) -> list[str]:
    due = storage.every(storage.campaigns.list_due, before=clock.iso(now))
    return [campaign.id for campaign in due if close(campaign.id, now)]


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
    notifications.send(
        template,
        campaign.owner_email,
        name=campaign.owner_name,
        title=campaign.title,
        raised=notifications.euros(campaign.raised_cents),
        goal=notifications.euros(campaign.goal_cents),
        ends_on=ends_on,
        link=notifications.campaign_link(campaign.id),
    )


def _outcome(pledge: Pledge, collect: bool, now: str) -> dict[str, Any] | None:
    """Ask the provider to collect or release one pledge; answers the settlement fields to
    record, or None when the pledge is done (settled, or failed for the last time)."""
    attempts = pledge.payment_attempts
    if pledge.settlement in ("collected", "released"):
        return None
    if pledge.settlement == "payment_failed" and attempts >= get_settings().payment_max_attempts:
        return None  # reported when it failed for the last time
    provider = payments.provider()
    result = provider.collect(pledge) if collect else provider.release(pledge)
    if result.ok:
        state = "collected" if collect else "released"
        return {"settlement": state, "settled_at": now, "payment_attempts": attempts + collect}
    return {
        "settlement": "payment_failed",
        "settlement_reason": result.reason,
        "payment_attempts": attempts + 1,
        "settled_at": now,
    }


def _after_move(pledge: Pledge, fields: Mapping[str, Any], campaign: Campaign) -> bool:
    """What the one run that moved a pledge does next: its mail, or the report of a failed
    payment. True when the pledge waits for another payment attempt."""
    state = fields["settlement"]
    if state != "payment_failed":
        notifications.send(
            f"pledge_{state}",
            pledge.contributor_email,
            name=pledge.contributor_name,
            title=campaign.title,
            amount=notifications.euros(pledge.amount_cents),
            link=notifications.campaign_link(campaign.id),
        )
        return False
    observability.count(observability.PAYMENT_FAILURES)
    if fields["payment_attempts"] >= get_settings().payment_max_attempts:
        observability.count(observability.PAYMENTS_ABANDONED)
        logger.error(
            "payment failed for good",
            extra={"pledge_id": pledge.id, "campaign_id": campaign.id, "reason": fields["settlement_reason"]},
        )
        return False
    return True


def _settle_page(page: list[Pledge], campaign: Campaign, collect: bool, now: str) -> int:
    """The provider for each pledge of a page, then all their outcomes in one write; answers
    how many wait for another payment attempt. A crash before the write only means asking
    the (idempotent) provider again on the rerun."""
    outcomes = [(pledge, fields) for pledge in page if (fields := _outcome(pledge, collect, now))]
    moved = storage.settlement.record_outcomes(outcomes)
    return sum(_after_move(p, fields, campaign) for (p, fields), ok in zip(outcomes, moved, strict=True) if ok)


def settle(campaign_id: str, now: datetime, budget: int | None = None) -> bool:
    """Settle a closed campaign's pledges from its checkpoint, up to `budget` pledges;
    True when this pass is over (all settled, or failed payments wait for a later pass)."""
    found = storage.settlement.get(campaign_id)
    if found is None or not found.campaign.is_closed or found.settled:
        return True
    campaign, stamp = found.campaign, clock.iso(now)
    if storage.settlement.claim_owner_mail(campaign_id, stamp):
        _mail_owner(f"owner_{campaign.status}", campaign)
    # Its public money: spent or given back, once.
    matching.close_campaign(campaign, stamp, already_closed=found.matching_closed)
    collect = campaign.status == "succeeded"
    cursor, retry_pending = found.cursor, found.retry_pending
    budget = budget or get_settings().settlement_batch_count
    handled = 0
    while handled < budget:
        page, cursor = storage.pledges.list_for_campaign(campaign_id, limit=min(PAGE, budget - handled), cursor=cursor)
        retry_pending += _settle_page(page, campaign, collect, stamp)
        handled += len(page)
        if cursor:
            storage.settlement.save_progress(campaign_id, cursor, retry_pending, stamp)
            continue
        if retry_pending:
            storage.settlement.save_progress(campaign_id, None, 0, stamp)  # next pass retries them
        else:
            storage.settlement.finish(campaign_id, stamp)
        return True
    return False


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
        "closed": close_due(now),
        "reminded": remind_owners(now),
        "dispatched": dispatch_settlements(now),
    }
    logger.info("finalisation run", extra={k: len(v) for k, v in report.items()})
    return report
