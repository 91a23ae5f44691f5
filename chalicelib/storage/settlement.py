"""Settlement of closed campaigns (chalicelib/finalisation.py): the settling partition, the
checkpoint of each pass, and each pledge's outcome written once.

A closed campaign stays in by_status's SETTLING partition until every pledge is settled;
its item keeps the pass's checkpoint (settlement_cursor, settlement_retry_pending,
settlement_heartbeat) and the claims of its one-time steps (owner_notified_at,
matching_closed_at), none of which leave storage but as a Settlement record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records import Pledge, Settlement
from . import campaigns, dynamo, keys


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
    for another payment attempt."""
    set_values: dict[str, Any] = {"settlement_heartbeat": now, "settlement_retry_pending": retry_pending}
    if cursor:
        set_values["settlement_cursor"] = cursor
    expression, names, values = dynamo.update_expression(set_values, [] if cursor else ["settlement_cursor"])
    dynamo.write(dynamo.update(keys.campaign(campaign_id), expression, names=names, values=values))


def touch(campaign_id: str, now: str) -> None:
    """Note that settlement was handed on, so that the next runs leave it alone a while."""
    dynamo.write(dynamo.update(keys.campaign(campaign_id), "SET settlement_heartbeat = :now", values={":now": now}))


def finish(campaign_id: str, now: str) -> bool:
    """Take a campaign out of the settling partition, once."""
    return dynamo.conditional_update(
        dynamo.update(
            keys.campaign(campaign_id),
            "SET settled_at = :now REMOVE status_pk, status_sk, settlement_cursor, settlement_retry_pending",
            condition="attribute_not_exists(settled_at)",
            values={":now": now},
        )
    )


def _outcome_update(pledge: Pledge, fields: Mapping[str, Any]) -> dynamo.Item:
    """A pledge's settlement outcome, unless another run already settled it for good: only
    a pledge with no settlement, or with the failed attempt this run saw, moves."""
    expression, names, values = dynamo.update_expression(fields)
    values[":failed"] = "payment_failed"
    values[":seen"] = pledge.payment_attempts
    return dynamo.update(
        keys.pledge(pledge.id),
        expression,
        condition="attribute_not_exists(settlement) OR "
        "(settlement = :failed AND (attribute_not_exists(payment_attempts) OR payment_attempts = :seen))",
        names=names,
        values=values,
    )


def record_outcome(pledge: Pledge, fields: Mapping[str, Any]) -> bool:
    """Write a pledge's settlement outcome; True when this call moved it."""
    return dynamo.conditional_update(_outcome_update(pledge, fields))


def record_outcomes(outcomes: Sequence[tuple[Pledge, Mapping[str, Any]]]) -> list[bool]:
    """Write pledges' outcomes, one transaction per 100 instead of one request each. If a
    condition fails (another run moved one of them), the transaction writes nothing and
    its pledges are written one by one. Answers which moved, in order."""
    moved: list[bool] = []
    for start in range(0, len(outcomes), dynamo.TRANSACTION_MAX_ITEMS):
        batch = outcomes[start : start + dynamo.TRANSACTION_MAX_ITEMS]
        if len(batch) > 1:
            try:
                dynamo.transact([({"Update": _outcome_update(p, f)}, p.id) for p, f in batch], "a pledge moved")
                moved += [True] * len(batch)
                continue
            except dynamo.ConditionFailed:
                pass
        moved += [record_outcome(p, f) for p, f in batch]
    return moved
