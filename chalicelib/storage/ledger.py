"""The ledger: every money movement at the payment provider, append-only.

An entry's key is its campaign and the provider transaction it records, so that a replayed
notification, sweep or settlement cannot write it twice, and it can be written in the
same transaction as the state change it records (a pledge paid, refunded, collected).
"""

from __future__ import annotations

from typing import Any

from ..records import EscrowCheck, LedgerEntry, Reconciliation
from . import dynamo, keys


def _item(entry: LedgerEntry) -> dynamo.Item:
    return {**dynamo.attributes(entry), **keys.ledger(entry.campaign_id, entry.kind, entry.transaction_id)}


def put(entry: LedgerEntry) -> dynamo.TransactionItem:
    """The transaction item that appends `entry` (refused if this movement is recorded)."""
    return dynamo.put(_item(entry)), "ledger"


def append(entry: LedgerEntry) -> bool:
    """Append an entry on its own; False when this movement was already recorded."""
    return dynamo.conditional_put(put(entry)[0]["Put"])


def entries(campaign_id: str, *, limit: int, cursor: str | None) -> tuple[list[LedgerEntry], str | None]:
    """A campaign's entries, by kind and transaction."""
    q = dynamo.Query(None, "pk = :pk", {":pk": keys.ledger_partition(campaign_id)})
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [dynamo.record(LedgerEntry, item) for item in items], next_cursor


def escrow_balance(campaign_id: str) -> int:
    """What the ledger says the campaign's escrow holds."""
    return sum(entry.escrow_effect_cents for entry in dynamo.every(entries, campaign_id))


def save_reconciliation(report: Reconciliation) -> None:
    """Keep `report` as the latest reconciliation (an older run never replaces a newer)."""
    item = {
        **keys.reconciliation(),
        "run_at": report.run_at,
        "escrows_checked": report.escrows_checked,
        "differences": [check._asdict() for check in report.differences],
        "unreadable": list(report.unreadable),
    }
    request = dynamo.put(item, new=False)["Put"]
    request["ConditionExpression"] = "attribute_not_exists(run_at) OR run_at <= :at"
    request["ExpressionAttributeValues"] = dynamo.to_ddb({":at": report.run_at})
    dynamo.conditional_put(request)


def latest_reconciliation() -> Reconciliation | None:
    item = dynamo.get(keys.reconciliation())
    if item is None:
        return None
    checks: list[Any] = item.get("differences", [])
    return Reconciliation(
        run_at=item["run_at"],
        escrows_checked=int(item["escrows_checked"]),
        differences=tuple(dynamo.record(EscrowCheck, check) for check in checks),
        unreadable=tuple(item.get("unreadable", [])),
    )
