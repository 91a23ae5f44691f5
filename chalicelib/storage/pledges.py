"""Pledges, with what each one moves in the same transaction: the campaign's totals and
reward stock, the matching fund's reservation, the contributor's marker and the
idempotency record of the request. The platform figures follow from the table's stream
(chalicelib/figures.py), not from these transactions."""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from ..records import Campaign, Fund, Idempotency, Pledge, TopUp
from . import campaigns, dynamo, funds, keys

Page = tuple[list[Pledge], str | None]


class PledgeContext(NamedTuple):
    """What one BatchGetItem reads for a pledge."""

    campaign: Campaign | None
    idempotency: Idempotency | None
    known_contributor: bool
    fund: Fund | None


def from_item(item: dict[str, Any]) -> Pledge:
    return dynamo.record(Pledge, item)


def read_context(campaign_id: str, contributor_id: str, scope: str, fund_id: str | None = None) -> PledgeContext:
    """One read for a pledge: the campaign, the idempotency record of this key, whether
    this contributor has pledged before, and the matching fund `fund_id`."""
    wanted = [keys.campaign(campaign_id), keys.idempotency(scope), keys.contributor(contributor_id)]
    by_kind = {
        keys.kind(pk): item for pk, item in dynamo.batch_get([*wanted, *([keys.fund(fund_id)] if fund_id else [])])
    }
    campaign, record, fund = by_kind.get(keys.CAMPAIGN), by_kind.get("IDEMPOTENCY"), by_kind.get(keys.FUND)
    return PledgeContext(
        campaigns.from_item(campaign) if campaign else None,
        dynamo.record(Idempotency, record) if record else None,
        "CONTRIBUTOR" in by_kind,
        funds.from_item(fund) if fund else None,
    )


def first_pledged_at(contributor_id: str) -> str | None:
    """When someone first pledged (None: never)."""
    marker = dynamo.get(keys.contributor(contributor_id), consistent=False)
    return marker["first_pledge_at"] if marker else None


def _campaign_money(pledge: Pledge, sign: int, now: str, top_up: TopUp | None = None) -> dynamo.TransactionItem:
    """Move a campaign's totals (crowd, matched, raised = crowd + matched), pledge count and
    reward stock by one pledge, while it is live; with a top-up, only while the campaign's
    matching cap and the crowd amount it was computed from hold."""
    names: dict[str, str] = {"#status": "status"}
    values: dict[str, Any] = {
        ":amount": sign * (pledge.amount_cents + pledge.matched_cents),
        ":crowd": sign * pledge.amount_cents,
        ":matched": sign * pledge.matched_cents,
        ":count": sign,
        ":live": "live",
        ":now": now,
    }
    stock_set, condition = "", "#status = :live AND ends_at >= :now"
    if pledge.reward_id and pledge.reward_limited:
        names.update({"#rw": "rewards", "#rid": pledge.reward_id, "#rem": "remaining"})
        stock_set, values[":stock"] = "SET #rw.#rid.#rem = #rw.#rid.#rem + :stock ", -sign
        if sign > 0:
            condition += " AND #rw.#rid.#rem >= :unit"
            values[":unit"] = 1
    if top_up is not None and top_up.cents > 0:
        values[":room"] = top_up.campaign_room
        condition += " AND matched_cents <= :room"
        if top_up.crowd_seen:
            values[":crowd_seen"] = top_up.crowd_seen
            condition += " AND crowd_cents >= :crowd_seen"
    expression = f"{stock_set}ADD raised_cents :amount, crowd_cents :crowd, matched_cents :matched, pledge_count :count"
    request = dynamo.update(
        keys.campaign(pledge.campaign_id), expression, condition=condition, names=names, values=values
    )
    return {"Update": request}, "campaign"


def record(pledge: Pledge, idempotency: Idempotency, *, new_contributor: bool, now: str, top_up: TopUp) -> None:
    """The pledge, its idempotency record, the campaign's totals and stock, and the matching
    fund's reservation of its top-up (if any), in one transaction (the platform figures
    follow from the stream). ConditionFailed.item says what refused it: "idempotency" (the
    key is taken), "contributor" (first pledge raced), "campaign" (no longer live, past its
    deadline, the reward sold out, or the campaign's matching cap or crowd amount moved),
    "fund" (its remaining budget or rule version moved, or it stayed busy)."""
    item = {
        **dynamo.attributes(pledge),
        **keys.pledge(pledge.id),
        "user_pk": keys.user(pledge.contributor_id),
        "user_sk": keys.user_item(keys.PLEDGE, pledge.created_at, pledge.id),
        "campaign_pk": keys.campaign_partition(pledge.campaign_id),
    }
    key_record = {
        "Put": {
            "TableName": dynamo.table(),
            "Item": dynamo.to_ddb({**dynamo.attributes(idempotency), **keys.idempotency(idempotency.scope)}),
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :epoch",
            "ExpressionAttributeValues": dynamo.to_ddb({":epoch": idempotency.created_epoch}),
        }
    }
    items = [(key_record, "idempotency"), (dynamo.put(item), "pledge"), _campaign_money(pledge, +1, now, top_up)]
    if pledge.matched_cents and top_up.fund_id:
        items.append(funds.reservation(top_up.fund_id, pledge.matched_cents, rule_version=top_up.rule_version))
    if new_contributor:
        marker = {**keys.contributor(pledge.contributor_id), "first_pledge_at": pledge.created_at}
        items.append((dynamo.put(marker), "contributor"))
    try:
        dynamo.transact(items, "the pledge was refused")
    except ClientError as error:
        # A fund that stays busy after the retries must not cost the contributor the
        # pledge: the caller tries again without a top-up.
        codes = dynamo.cancellation_codes(error)
        names = [name for _, name in items]
        if "fund" in names and len(codes) == len(names) and codes[names.index("fund")] == "TransactionConflict":
            raise dynamo.ConditionFailed("the matching fund is busy", "fund") from error
        raise


def get(pledge_id: str) -> Pledge | None:
    item = dynamo.get(keys.pledge(pledge_id))
    return from_item(item) if item else None


def cancel(pledge: Pledge, now: str, cancellation_id: str) -> None:
    """Mark an active pledge cancelled and give back its amount and reward, and its top-up
    to its matching fund, in one transaction. ConditionFailed.item: "pledge" (not active
    any more: `cancellation_id` on the pledge tells whose cancellation it was) or
    "campaign" (no longer live)."""
    request = dynamo.update(
        keys.pledge(pledge.id),
        "SET #status = :cancelled, cancelled_at = :now, cancellation_id = :cid",
        condition="#status = :active",
        names={"#status": "status"},
        values={":cancelled": "cancelled", ":active": "active", ":now": now, ":cid": cancellation_id},
    )
    items = [({"Update": request}, "pledge"), _campaign_money(pledge, -1, now)]
    if pledge.matched_cents and pledge.matching_fund_id:
        # The campaign is live (its condition above), so the fund still holds this reservation.
        items.append(funds.reservation(pledge.matching_fund_id, -pledge.matched_cents))
    dynamo.transact(items, "the cancellation was refused")


def list_for_campaign(campaign_id: str, *, limit: int, cursor: str | None, active_only: bool = True) -> Page:
    """A campaign's pledges, newest first."""
    q = dynamo.Query(
        keys.BY_CAMPAIGN,
        "campaign_pk = :c",
        {":c": keys.campaign_partition(campaign_id), **({":active": "active"} if active_only else {})},
        "#status = :active" if active_only else None,
        {"#status": "status"} if active_only else None,
        forward=False,
    )
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [from_item(item) for item in items], next_cursor


def list_for_contributor(contributor_id: str, *, limit: int, cursor: str | None) -> Page:
    items, next_cursor = dynamo.query(dynamo.by_user(contributor_id, keys.PLEDGE), limit=limit, cursor=cursor)
    return [from_item(item) for item in items], next_cursor


def backs(campaign_id: str, contributor_id: str) -> bool:
    """Whether this contributor has an active pledge on this campaign: pages through their
    own pledges (a person's pledges are few), stopping at the first match."""
    q = dynamo.by_user(contributor_id, keys.PLEDGE)
    return dynamo.any_match(
        q._replace(
            values={**q.values, ":c": campaign_id, ":active": "active"},
            filter="campaign_id = :c AND #status = :active",
            names={"#status": "status"},
        )
    )
