"""The platform's counters (GET /stats): one item, moved by ADD in the transactions of the
writes they count, read in one GetItem.

    count_<state>                        campaigns by state
    raised_cents, matched_cents, pledge_count, contributors
    category#<name>#<state>              public campaigns of a category by state
    category#<name>#succeeded_raised_cents
    commune#<name>#…                     the same by commune
"""

from __future__ import annotations

from collections.abc import Mapping

from ..records import CAMPAIGN_STATES, PUBLIC_STATES, AreaFigures, Campaign, Counters
from . import dynamo, keys

AREAS = ("category", "commune")


def add(changes: Mapping[str, int]) -> dynamo.TransactionItem:
    """The transaction item adding to the counters (attribute name -> delta)."""
    names = {f"#c{i}": name for i, name in enumerate(changes)}
    values = {f":c{i}": delta for i, delta in enumerate(changes.values())}
    expression = "ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))
    return {"Update": dynamo.update(keys.STATS, expression, names=names, values=values)}, "counters"


def _area(kind: str, name: str, figure: str) -> str:
    return f"{kind}#{name}#{figure}"


def transition(campaign: Campaign, new_status: str) -> dynamo.TransactionItem:
    """A campaign's move between states, counted: by state, and (public states only: a
    campaign's category and commune no longer change once it is live) by area, with
    what its succeeded campaigns raised."""
    changes = {f"count_{campaign.status}": -1, f"count_{new_status}": 1}
    for kind, name in (("category", campaign.category), ("commune", campaign.commune)):
        if campaign.status in PUBLIC_STATES:
            changes[_area(kind, name, campaign.status)] = -1
        if new_status in PUBLIC_STATES:
            changes[_area(kind, name, new_status)] = 1
        if new_status == "succeeded":
            changes[_area(kind, name, "succeeded_raised_cents")] = campaign.raised_cents
    return add(changes)


def add_once(changes: Mapping[str, int], batch: str, expires_at: int) -> bool:
    """Add a batch of changes to the counters once: a batch delivered again (the stream
    retries a failed invocation) is refused by its marker. True when this call added it."""
    marker = {**keys.figures_batch(batch), "expires_at": expires_at}
    try:
        dynamo.transact([(dynamo.put(marker), "batch"), add(changes)], "this batch was counted")
        return True
    except dynamo.ConditionFailed:
        return False


def created(status: str) -> dynamo.TransactionItem:
    return add({f"count_{status}": 1})


def get() -> Counters:
    item = dynamo.get(keys.STATS, consistent=False) or {}
    areas: dict[str, dict[str, dict[str, int]]] = {kind: {} for kind in AREAS}
    for attribute, value in item.items():
        kind, _, rest = attribute.partition("#")
        if kind in areas and "#" in rest:
            name, figure = rest.rsplit("#", 1)
            areas[kind].setdefault(name, {})[figure] = value
    return Counters(
        campaigns_by_status={status: item.get(f"count_{status}", 0) for status in CAMPAIGN_STATES},
        raised_cents=item.get("raised_cents", 0),
        matched_cents=item.get("matched_cents", 0),
        pledge_count=item.get("pledge_count", 0),
        contributors=item.get("contributors", 0),
        by_category={name: AreaFigures(**f) for name, f in sorted(areas["category"].items())},
        by_commune={name: AreaFigures(**f) for name, f in sorted(areas["commune"].items())},
    )
