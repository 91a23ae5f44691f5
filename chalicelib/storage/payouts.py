"""Succeeded campaigns' payouts to their owners (chalicelib/payouts.py): one item per
campaign, in by_status's PAYOUTS partition until paid. Each move is conditioned on the
version it was read in and writes the next, with its ledger entries in the same
transaction, so two runs racing move it once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records import LedgerEntry, Payout
from . import dynamo, keys, ledger


def from_item(item: Mapping[str, Any]) -> Payout:
    return dynamo.record(Payout, item)


def _listed(payout: Payout) -> dict[str, str]:
    return {"status_pk": keys.PAYOUTS, "status_sk": keys.ordered(payout.created_at, payout.campaign_id)}


def item(payout: Payout) -> dynamo.TransactionItem:
    """The transaction item that creates a campaign's payout (once)."""
    return dynamo.put({**dynamo.attributes(payout), **keys.payout(payout.campaign_id), **_listed(payout)}), "payout"


def get(campaign_id: str) -> Payout | None:
    found = dynamo.get(keys.payout(campaign_id))
    return from_item(found) if found else None


def of_provider_payout(payout_id: str) -> Payout | None:
    """The payout whose attempt the provider's payout `payout_id` is."""
    found = dynamo.get(keys.provider_payout(payout_id))
    return get(found["campaign_id"]) if found else None


def list_open(*, limit: int, cursor: str | None) -> tuple[list[Payout], str | None]:
    """Payouts not paid yet (waiting, in progress or failed), oldest first."""
    q = dynamo.Query(keys.BY_STATUS, "status_pk = :p", {":p": keys.PAYOUTS})
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [from_item(found) for found in items], next_cursor


def move(payout: Payout, changes: Mapping[str, Any], entries: Sequence[LedgerEntry] = ()) -> Payout | None:
    """Move a payout from the version it was read in, with the ledger entries of the money
    that moved; None when another run moved it first. A paid payout leaves the PAYOUTS
    partition (and comes back if the bank returns it); a new provider payout is findable
    by its id."""
    moved = payout._replace(**changes, version=payout.version + 1)
    remove = ["status_pk", "status_sk"] if moved.status == "paid" else []
    relisted = _listed(payout) if payout.status == "paid" and moved.status != "paid" else {}
    expression, names, values = dynamo.update_expression({**changes, **relisted, "version": moved.version}, remove)
    names["#version"] = "version"
    values[":read"] = payout.version
    update = dynamo.update(
        keys.payout(payout.campaign_id), expression, condition="#version = :read", names=names, values=values
    )
    items: list[dynamo.TransactionItem] = [({"Update": update}, "payout")]
    if moved.payout_id and moved.payout_id != payout.payout_id:
        lookup = {**keys.provider_payout(moved.payout_id), "campaign_id": payout.campaign_id}
        items.append((dynamo.put(lookup, new=False), "lookup"))
    items += [ledger.put(entry) for entry in entries]
    try:
        dynamo.transact(items, "the payout moved meanwhile")
    except dynamo.ConditionFailed:
        return None
    return moved
