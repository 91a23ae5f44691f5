"""Matching funds (abondement: chalicelib/matching.py) and the record of each closed
matched campaign's public money.

A fund keeps budget = reserved + spent + remaining: `remaining_cents` is stored because a
condition cannot subtract, and `remaining_cents >= :top_up` guards every reservation. A
matched campaign carries matching_fund_id, crowd_cents and matched_cents (its
raised_cents is crowd + matched); a matched pledge its matched_cents, matching_fund_id and
the matching_rule_version it was computed with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..records import AuditEntry, Fund, MatchingRecord
from . import audit, dynamo, keys


def from_item(item: Mapping[str, Any]) -> Fund:
    return dynamo.record(
        Fund,
        item,
        categories=tuple(item.get("categories", ())),
        postcode_prefixes=tuple(item.get("postcode_prefixes", ())),
    )


def reservation(fund_id: str, cents: int, *, rule_version: int | None = None) -> dynamo.TransactionItem:
    """Reserve `cents` (> 0) of a fund's remaining budget, under the rule version the
    top-up was computed with; or give `-cents` back (< 0)."""
    values: dict[str, Any] = {":reserved": cents, ":remaining": -cents}
    condition = "attribute_exists(pk)"
    if cents > 0:
        values.update({":top_up": cents, ":version": rule_version})
        condition = "remaining_cents >= :top_up AND rule_version = :version"
    expression = "ADD reserved_cents :reserved, remaining_cents :remaining"
    return {"Update": dynamo.update(keys.fund(fund_id), expression, condition=condition, values=values)}, "fund"


def create(fund: Fund, entry: AuditEntry | None = None) -> None:
    listing = {
        **keys.fund_listing(fund.id),
        "fund_id": fund.id,
        "status_pk": keys.FUNDS,
        "status_sk": keys.ordered(fund.created_at, fund.id),
    }
    items = [
        (dynamo.put({**dynamo.attributes(fund), **keys.fund(fund.id)}), "fund"),
        (dynamo.put(listing, new=False), "listing"),
    ]
    dynamo.transact(audit.with_entry(items, entry), "a fund with this id exists")


def get(fund_id: str) -> Fund | None:
    item = dynamo.get(keys.fund(fund_id))
    return from_item(item) if item else None


def list_funds(*, limit: int, cursor: str | None) -> tuple[list[Fund], str | None]:
    """Funds, newest first: a Query of the listing entries, then one BatchGetItem of the
    funds themselves (their counters move with every matched pledge)."""
    q = dynamo.Query(keys.BY_STATUS, "status_pk = :p", {":p": keys.FUNDS}, forward=False)
    entries, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    if not entries:
        return [], next_cursor
    found = {f.id: f for f in (from_item(i) for _, i in dynamo.batch_get([keys.fund(e["fund_id"]) for e in entries]))}
    return [found[e["fund_id"]] for e in entries if e["fund_id"] in found], next_cursor


def update(
    fund_id: str,
    changes: Mapping[str, Any],
    *,
    seen_version: int,
    budget_delta: int = 0,
    seen_budget: int | None = None,
    entry: AuditEntry | None = None,
) -> None:
    """Change a fund if its rule version is still `seen_version`; its budget only if it is
    still `seen_budget` (two changes at once: one is refused, none lost), and a cut only
    while its remaining budget covers it. ConditionFailed("fund") otherwise."""
    expression, names, values = dynamo.update_expression(changes)
    values[":seen"] = seen_version
    condition = "rule_version = :seen"
    if budget_delta:
        expression += " ADD remaining_cents :delta"
        values |= {":delta": budget_delta, ":budget": seen_budget}
        condition += " AND budget_cents = :budget"
        if budget_delta < 0:
            values[":cut"] = -budget_delta
            condition += " AND remaining_cents >= :cut"
    request = dynamo.update(keys.fund(fund_id), expression, condition=condition, names=names, values=values)
    dynamo.transact(audit.with_entry([({"Update": request}, "fund")], entry), "the fund changed meanwhile")


def attach(campaign_id: str, fund: Fund, now: str, entry: AuditEntry | None = None) -> None:
    """Attach a fund to a submitted or live campaign that has none, if the fund's rules
    are still those its eligibility was checked with. ConditionFailed: "campaign" or "fund"."""
    campaign_update = dynamo.update(
        keys.campaign(campaign_id),
        "SET matching_fund_id = :fund, matched_cents = if_not_exists(matched_cents, :zero), "
        "crowd_cents = if_not_exists(crowd_cents, :zero), updated_at = :now",
        condition="#status IN (:submitted, :live) AND attribute_not_exists(matching_fund_id)",
        names={"#status": "status"},
        values={":fund": fund.id, ":zero": 0, ":now": now, ":submitted": "submitted", ":live": "live"},
    )
    fund_update = dynamo.update(
        keys.fund(fund.id),
        "ADD campaign_count :one",
        condition="rule_version = :version",
        values={":one": 1, ":version": fund.rule_version},
    )
    items = [({"Update": campaign_update}, "campaign"), ({"Update": fund_update}, "fund")]
    dynamo.transact(audit.with_entry(items, entry), "the campaign or the fund changed meanwhile")


def close_matching(record: MatchingRecord, now: str) -> bool:
    """Once per closed campaign: its reservation becomes spent (`record.spent_cents`) or
    goes back to the fund's remaining budget, with the record of it. True for the one
    caller that wrote it."""
    due = {"status_pk": keys.SUBSIDIES_DUE, "status_sk": keys.ordered(record.closed_at, record.campaign_id)}
    put = dynamo.put(
        {
            **dynamo.attributes(record),
            **keys.matching_record(record.fund_id, record.campaign_id),
            **(due if record.spent_cents > 0 else {}),
        }
    )
    fund_update = dynamo.update(
        keys.fund(record.fund_id),
        "ADD reserved_cents :reserved, spent_cents :spent, remaining_cents :released",
        values={":reserved": -record.matched_cents, ":spent": record.spent_cents, ":released": record.released_cents},
    )
    campaign_update = dynamo.update(
        keys.campaign(record.campaign_id),
        "SET matching_closed_at = :now, matching_spent_cents = :spent",
        condition="attribute_not_exists(matching_closed_at)",
        values={":now": now, ":spent": record.spent_cents},
    )
    try:
        dynamo.transact(
            [(put, "record"), ({"Update": fund_update}, "fund"), ({"Update": campaign_update}, "campaign")],
            "already recorded",
        )
        return True
    except dynamo.ConditionFailed:
        return False


def get_matching_record(fund_id: str, campaign_id: str) -> MatchingRecord | None:
    item = dynamo.get(keys.matching_record(fund_id, campaign_id))
    return dynamo.record(MatchingRecord, item) if item else None


def list_subsidies_due(*, limit: int, cursor: str | None) -> tuple[list[MatchingRecord], str | None]:
    """Succeeded matched campaigns whose top-ups the public accountant has not paid yet,
    oldest closure first."""
    q = dynamo.Query(keys.BY_STATUS, "status_pk = :p", {":p": keys.SUBSIDIES_DUE})
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [dynamo.record(MatchingRecord, item) for item in items], next_cursor


def mark_subsidy_paid(record: MatchingRecord, mandate_ref: str, now: str, entry: AuditEntry) -> bool:
    """A subsidy due marked paid, once, with its audit entry; False if it was already."""
    update = dynamo.update(
        keys.matching_record(record.fund_id, record.campaign_id),
        "SET paid_at = :now, mandate_ref = :ref REMOVE status_pk, status_sk",
        condition="attribute_exists(status_pk) AND attribute_not_exists(paid_at)",
        values={":now": now, ":ref": mandate_ref},
    )
    try:
        dynamo.transact(audit.with_entry([({"Update": update}, "subsidy")], entry), "the subsidy is paid already")
        return True
    except dynamo.ConditionFailed:
        return False
