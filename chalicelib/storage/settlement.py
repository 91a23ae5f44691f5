"""Settlement of closed campaigns (chalicelib/finalisation.py): the settling partition and
the checkpoint of each pass.

A closed campaign stays in by_status's SETTLING partition until every pledge is settled;
its item keeps the pass's checkpoint (settlement_cursor, settlement_retry_pending,
settlement_heartbeat) and the claims of its one-time steps (owner_notified_at,
matching_closed_at), none of which leave storage but as a Settlement record. Each pledge's
move is written by chalicelib/storage/pledges.py, from the state it was read in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..records import Payout, Settlement
from . import campaigns, dynamo, keys, payouts


def _settlement(item: Mapping[str, Any]) -> Settlement:
    return Settlement(
        campaign=campaigns.from_item(item),
        settled="settled_at" in item,
        cursor=item.get("settlement_cursor"),
        retry_pending=item.get("settlement_retry_pending", 0),
        heartbeat=item.get("settlement_heartbeat", ""),
        matching_closed="matching_closed_at" in item,
    )


def get(campaign_id: str) -> Settlement | None:
    item = dynamo.get(keys.campaign(campaign_id))
    return _settlement(item) if item else None


def list_settling(*, limit: int, cursor: str | None) -> tuple[list[Settlement], str | None]:
    """Closed campaigns whose pledges are not all settled, oldest closure first."""
    q = dynamo.Query(keys.BY_STATUS, "status_pk = :p", {":p": keys.SETTLING})
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [_settlement(item) for item in items], next_cursor


def claim_owner_mail(campaign_id: str, now: str) -> bool:
    """True for the one caller that tells the owner how their campaign ended."""
    return campaigns.flag(campaign_id, "owner_notified_at", now)


def save_progress(campaign_id: str, cursor: str | None, retry_pending: int, now: str) -> None:
    """The checkpoint of a pass: where to go on, and how many pledges of this pass wait
    for a later one (the provider could not answer)."""
    set_values: dict[str, Any] = {"settlement_heartbeat": now, "settlement_retry_pending": retry_pending}
    if cursor:
        set_values["settlement_cursor"] = cursor
    expression, names, values = dynamo.update_expression(set_values, [] if cursor else ["settlement_cursor"])
    dynamo.write(dynamo.update(keys.campaign(campaign_id), expression, names=names, values=values))


def touch(campaign_id: str, now: str) -> None:
    """Note that settlement was handed on, so that the next runs leave it alone a while."""
    dynamo.write(dynamo.update(keys.campaign(campaign_id), "SET settlement_heartbeat = :now", values={":now": now}))


def finish(campaign_id: str, now: str, payout: Payout | None = None) -> bool:
    """Take a campaign out of the settling partition, once; a succeeded one's `payout`
    to its owner starts in the same write."""
    settled = dynamo.update(
        keys.campaign(campaign_id),
        "SET settled_at = :now REMOVE status_pk, status_sk, settlement_cursor, settlement_retry_pending",
        condition="attribute_not_exists(settled_at)",
        values={":now": now},
    )
    items: list[dynamo.TransactionItem] = [({"Update": settled}, "campaign")]
    items += [payouts.item(payout)] if payout else []
    try:
        dynamo.transact(items, "the campaign is settled already")
        return True
    except dynamo.ConditionFailed:
        return False
