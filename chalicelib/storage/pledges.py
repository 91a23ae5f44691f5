"""Pledges, with what each move of theirs changes in the same transaction.

A pledge is written pending its payment, with its idempotency record and its reward unit
held; its payment confirmed moves it to paid with the campaign's totals, the matching
fund's reservation of its top-up, the contributor's marker and the ledger's entry; a
failed or expired payment gives its unit back; a refund moves it out of the totals. The
platform figures follow from the table's stream (chalicelib/figures.py), not from these
transactions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from ..records import Campaign, Fund, Idempotency, LedgerEntry, Pledge, TopUp
from . import campaigns, dynamo, funds, keys, ledger

Page = tuple[list[Pledge], str | None]


class PledgeContext(NamedTuple):
    """What one BatchGetItem reads for a new pledge."""

    campaign: Campaign | None
    idempotency: Idempotency | None
    payer_id: str | None  # the contributor's user at the payment provider, once registered


class PaymentContext(NamedTuple):
    """What one BatchGetItem reads to move a pledge by its payment."""

    campaign: Campaign | None
    fund: Fund | None
    known_contributor: bool  # whether the contributor has paid a pledge before
    pledge: Pledge | None = None  # when asked for by id


def from_item(item: dict[str, Any]) -> Pledge:
    return dynamo.record(Pledge, item)


def read_context(campaign_id: str, contributor_id: str, scope: str) -> PledgeContext:
    """One read for a pledge: the campaign, the idempotency record of this key, and the
    contributor's user at the payment provider."""
    wanted = [keys.campaign(campaign_id), keys.idempotency(scope), keys.payer(contributor_id)]
    by_kind = {keys.kind(pk): item for pk, item in dynamo.batch_get(wanted)}
    campaign, record, payer = by_kind.get(keys.CAMPAIGN), by_kind.get("IDEMPOTENCY"), by_kind.get("PAYER")
    return PledgeContext(
        campaigns.from_item(campaign) if campaign else None,
        dynamo.record(Idempotency, record) if record else None,
        payer["psp_user_id"] if payer else None,
    )


def read_for_payment(
    campaign_id: str, contributor_id: str, fund_id: str | None, pledge_id: str | None = None
) -> PaymentContext:
    """One read for a pledge's payment: its campaign, the campaign's matching fund
    `fund_id`, whether its contributor has paid before, and the pledge `pledge_id`."""
    wanted = [keys.campaign(campaign_id), keys.contributor(contributor_id)]
    wanted += [keys.fund(fund_id)] if fund_id else []
    wanted += [keys.pledge(pledge_id)] if pledge_id else []
    by_kind = {keys.kind(pk): item for pk, item in dynamo.batch_get(wanted)}
    campaign, fund, pledge = by_kind.get(keys.CAMPAIGN), by_kind.get(keys.FUND), by_kind.get(keys.PLEDGE)
    return PaymentContext(
        campaigns.from_item(campaign) if campaign else None,
        funds.from_item(fund) if fund else None,
        "CONTRIBUTOR" in by_kind,
        from_item(pledge) if pledge else None,
    )


def first_pledged_at(contributor_id: str) -> str | None:
    """When someone's first pledge was paid (None: never)."""
    marker = dynamo.get(keys.contributor(contributor_id), consistent=False)
    return marker["first_pledge_at"] if marker else None


def _stock(pledge: Pledge, sign: int, names: dict[str, str], values: dict[str, Any]) -> tuple[str, str]:
    """The clause that moves a limited reward's stock by `sign` units, and (taking one) the
    condition that a unit is left."""
    if not (pledge.reward_id and pledge.reward_limited):
        return "", ""
    names.update({"#rw": "rewards", "#rid": pledge.reward_id, "#rem": "remaining"})
    values[":stock"] = sign
    values.update({":unit": 1} if sign < 0 else {})
    return "#rw.#rid.#rem = #rw.#rid.#rem + :stock", " AND #rw.#rid.#rem >= :unit" if sign < 0 else ""


def _hold(pledge: Pledge, now: str) -> dynamo.TransactionItem:
    """The campaign still live and open, and a unit of the pledge's limited reward taken."""
    names: dict[str, str] = {"#status": "status"}
    values: dict[str, Any] = {":live": "live", ":now": now}
    stock, stock_condition = _stock(pledge, -1, names, values)
    condition = "#status = :live AND ends_at >= :now" + stock_condition
    request = dynamo.update(
        keys.campaign(pledge.campaign_id), f"SET {stock}", condition=condition, names=names, values=values
    )
    if stock:
        return {"Update": request}, "campaign"
    del request["UpdateExpression"]
    return {"ConditionCheck": request}, "campaign"


def _release(pledge: Pledge) -> dynamo.TransactionItem | None:
    """The pledge's unit back in its reward's stock (whatever the campaign's state)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    stock, _ = _stock(pledge, +1, names, values)
    if not stock:
        return None
    request = dynamo.update(
        keys.campaign(pledge.campaign_id), f"SET {stock}", condition="attribute_exists(pk)", names=names, values=values
    )
    return {"Update": request}, "campaign"


def _totals(pledge: Pledge, sign: int, top_up: TopUp | None = None) -> dynamo.TransactionItem:
    """The campaign's totals (crowd, matched, raised = crowd + matched) and pledge count
    moved by one pledge while it is live; a pledge that leaves gives its unit back. With a
    top-up, only while the campaign's matching cap and the crowd amount it was computed
    from hold."""
    names: dict[str, str] = {"#status": "status"}
    values: dict[str, Any] = {
        ":amount": sign * (pledge.amount_cents + pledge.matched_cents),
        ":crowd": sign * pledge.amount_cents,
        ":matched": sign * pledge.matched_cents,
        ":count": sign,
        ":live": "live",
    }
    stock, _ = _stock(pledge, +1, names, values) if sign < 0 else ("", "")
    condition = "#status = :live"
    if top_up is not None and top_up.cents > 0:
        values[":room"] = top_up.campaign_room
        condition += " AND matched_cents <= :room"
        if top_up.crowd_seen:
            values[":crowd_seen"] = top_up.crowd_seen
            condition += " AND crowd_cents >= :crowd_seen"
    expression = (
        f"{'SET ' + stock + ' ' if stock else ''}ADD raised_cents :amount, crowd_cents :crowd, "
        "matched_cents :matched, pledge_count :count"
    )
    request = dynamo.update(
        keys.campaign(pledge.campaign_id), expression, condition=condition, names=names, values=values
    )
    return {"Update": request}, "campaign"


def _move(pledge: Pledge, to: str, changes: dict[str, Any], *, leaves_pending: bool = False) -> dynamo.TransactionItem:
    """The pledge from the state it was read in to `to`, with `changes`."""
    expression, names, values = dynamo.update_expression(
        {"status": to, **changes}, ["status_pk", "status_sk"] if leaves_pending else []
    )
    names["#from"], values[":from"] = "status", pledge.status
    request = dynamo.update(keys.pledge(pledge.id), expression, condition="#from = :from", names=names, values=values)
    return {"Update": request}, "pledge"


def _transact(items: list[dynamo.TransactionItem | None], detail: str) -> None:
    dynamo.transact([item for item in items if item is not None], detail)


# --- a new pledge, waiting for its payment ------------------------------------------------


def record(pledge: Pledge, idempotency: Idempotency, *, now: str, new_payer: str | None = None) -> None:
    """The pledge waiting for its payment, its idempotency record, and its reward unit
    held, in one transaction; with the contributor's new user at the provider. The
    ConditionFailed's item says what refused it: "idempotency" (the key is taken) or
    "campaign" (no longer live, past its deadline, or the reward sold out)."""
    assert pledge.payment_expires_at is not None
    item = {
        **dynamo.attributes(pledge),
        **keys.pledge(pledge.id),
        **keys.pending(pledge.id, pledge.payment_expires_at),
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
    payer = (dynamo.put({**keys.payer(pledge.contributor_id), "psp_user_id": new_payer}, new=False), "payer")
    _transact(
        [(key_record, "idempotency"), (dynamo.put(item), "pledge"), _hold(pledge, now), payer if new_payer else None],
        "the pledge was refused",
    )


def get(pledge_id: str) -> Pledge | None:
    item = dynamo.get(keys.pledge(pledge_id))
    return from_item(item) if item else None


# --- its payment's outcome ------------------------------------------------------------------


def pay(pledge: Pledge, entry: LedgerEntry, top_up: TopUp, *, new_contributor: bool) -> Pledge:
    """A pending pledge paid: counted in its live campaign's totals with its top-up
    reserved from the matching fund, the contributor counted, the payment in the ledger,
    in one transaction. ConditionFailed.item: "pledge" (it moved meanwhile), "campaign"
    (no longer live, or its matching cap or crowd amount moved), "fund" (its remaining
    budget or rule version moved, or it stayed busy), "ledger" (this payment is recorded),
    "contributor" (`new_contributor`, as read, but their first payment raced another:
    paying again finds them counted).

    The contributor's marker is put once, by their first payment: its INSERT in the stream
    counts a distinct contributor (chalicelib/figures.py). Not an UpdateItem that creates
    it: moto's stream gives two INSERTs for that, counting the contributor twice locally."""
    paid = pledge._replace(status="paid", paid_at=entry.created_at, **_top_up_fields(top_up))
    changes = {"paid_at": entry.created_at, **_top_up_fields(top_up)}
    marker = {**keys.contributor(pledge.contributor_id), "first_pledge_at": entry.created_at}
    items: list[dynamo.TransactionItem | None] = [
        _move(pledge, "paid", changes, leaves_pending=True),
        _totals(paid, +1, top_up),
        funds.reservation(top_up.fund_id, top_up.cents, rule_version=top_up.rule_version)
        if top_up.cents and top_up.fund_id
        else None,
        ledger.put(entry),
        (dynamo.put(marker), "contributor") if new_contributor else None,
    ]
    present = [item for item in items if item is not None]
    try:
        dynamo.transact(present, "the pledge moved meanwhile")
    except ClientError as error:
        # A fund that stays busy after the retries must not cost the pledge: the caller
        # tries again without a top-up. A conflict on another item (a busy campaign) is
        # not the fund's, and costs no top-up.
        codes = dynamo.cancellation_codes(error)
        names = [name for _, name in present]
        if "fund" in names and len(codes) == len(names) and codes[names.index("fund")] == "TransactionConflict":
            raise dynamo.ConditionFailed("the matching fund is busy", "fund") from error
        raise
    return paid


def _top_up_fields(top_up: TopUp) -> dict[str, Any]:
    if not top_up.fund_id:
        return {}
    return {
        "matched_cents": top_up.cents,
        "matching_fund_id": top_up.fund_id,
        "matching_rule_version": top_up.rule_version,
    }


def end_pending(
    pledge: Pledge, status: str, now: str, reason: str | None = None, *, cancellation_id: str | None = None
) -> Pledge:
    """A pending pledge that will not be paid (payment_failed, expired, cancelled, with the
    cancelling request's id): its unit back in stock, once. ConditionFailed "pledge" if it
    moved meanwhile."""
    changes: dict[str, Any] = {"failure_reason": reason} if reason else {}
    if status == "cancelled":
        changes.update(cancelled_at=now, cancellation_id=cancellation_id)
    _transact([_move(pledge, status, changes, leaves_pending=True), _release(pledge)], "the pledge moved meanwhile")
    return pledge._replace(status=status, **changes)


def refund(pledge: Pledge, entries: list[LedgerEntry], *, live: bool, withdrawn: bool = False) -> Pledge:
    """A pledge whose payment was refunded: out of its campaign's totals while the campaign
    is `live` (with its unit and top-up given back), the refund (and a late payment) in the
    ledger, once; `withdrawn` by its contributor (cancelled_at). ConditionFailed "pledge" if
    it moved meanwhile, "campaign" if the campaign is no longer live."""
    refund_entry = entries[-1]
    changes: dict[str, Any] = {"refund_id": refund_entry.transaction_id, "refunded_at": refund_entry.created_at}
    if withdrawn:
        changes["cancelled_at"] = refund_entry.created_at
    items: list[dynamo.TransactionItem | None] = [
        _move(pledge, "refunded", changes, leaves_pending=pledge.pending),
        *(ledger.put(entry) for entry in entries),
    ]
    if live and pledge.counted:
        items.append(_totals(pledge, -1))
        if pledge.matched_cents and pledge.matching_fund_id:
            items.append(funds.reservation(pledge.matching_fund_id, -pledge.matched_cents))
    elif pledge.pending:
        items.append(_release(pledge))
    _transact(items, "the pledge moved meanwhile")
    return pledge._replace(status="refunded", **changes)


def collect(pledges: list[Pledge], now: str) -> list[bool]:
    """Paid pledges of a succeeded campaign marked collected, a transaction per 100 (one by
    one if another run moved one of them); answers which moved, in order."""
    moved: list[bool] = []
    for start in range(0, len(pledges), dynamo.TRANSACTION_MAX_ITEMS):
        batch = pledges[start : start + dynamo.TRANSACTION_MAX_ITEMS]
        try:
            dynamo.transact([_move(p, "collected", {"collected_at": now}) for p in batch], "a pledge moved")
            moved += [True] * len(batch)
        except dynamo.ConditionFailed:
            for p in batch:
                try:
                    dynamo.transact([_move(p, "collected", {"collected_at": now})], "the pledge moved")
                    moved.append(True)
                except dynamo.ConditionFailed:
                    moved.append(False)
    return moved


# --- lists ----------------------------------------------------------------------------------


def list_pending_due(shard: int, before: str, *, limit: int, cursor: str | None) -> Page:
    """Pledges of one pending partition whose payment window ended before `before`."""
    q = dynamo.Query(
        keys.BY_STATUS,
        "status_pk = :p AND status_sk < :before",
        {":p": keys.pending_partition(shard), ":before": before},
    )
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [from_item(item) for item in items], next_cursor


def list_for_campaign(campaign_id: str, *, limit: int, cursor: str | None, counted_only: bool = True) -> Page:
    """A campaign's pledges, newest first: those that count (paid, collected), or all."""
    q = dynamo.Query(keys.BY_CAMPAIGN, "campaign_pk = :c", {":c": keys.campaign_partition(campaign_id)}, forward=False)
    if counted_only:
        q = q._replace(
            values={**q.values, ":paid": "paid", ":collected": "collected"},
            filter="#status IN (:paid, :collected)",
            names={"#status": "status"},
        )
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [from_item(item) for item in items], next_cursor


def list_for_contributor(contributor_id: str, *, limit: int, cursor: str | None) -> Page:
    items, next_cursor = dynamo.query(dynamo.by_user(contributor_id, keys.PLEDGE), limit=limit, cursor=cursor)
    return [from_item(item) for item in items], next_cursor


def backs(campaign_id: str, contributor_id: str) -> bool:
    """Whether this contributor backs this campaign (records.Pledge.backs): pages through
    their own pledges on it (a person's pledges are few), stopping at the first match."""
    q = dynamo.by_user(contributor_id, keys.PLEDGE)
    on_campaign = q._replace(values={**q.values, ":c": campaign_id}, filter="campaign_id = :c")
    cursor = None
    while True:
        items, cursor = dynamo.query(on_campaign, limit=dynamo.PAGE, cursor=cursor)
        if any(from_item(item).backs for item in items):
            return True
        if not cursor:
            return False
