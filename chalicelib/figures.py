"""The platform figures of GET /stats that pledges move: total raised, top-ups, pledges and
distinct contributors.

They are counted from the table's stream (the `figures` function), in batches, instead of
by every pledge's transaction: no item that every pledge on the platform writes, so
pledges on different campaigns never contend. A pledge counts while it is counted
(records.COUNTED_PLEDGE_STATES); a change into or out of that state moves the figures by
its amount. Campaigns by state are still counted by each transition, in its transaction.
The figures lag the pledges by the stream's delay (about a second).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import clock, storage
from .records import Pledge, TableChange

BATCH_MARKER_SECONDS = 2 * 24 * 3600  # longer than the stream keeps its records


def _counted(pledge: Pledge | None) -> int:
    return 1 if pledge is not None and pledge.counted else 0


def delta(changes: Iterable[TableChange]) -> dict[str, int]:
    """What a batch of changes adds to the figures."""
    total: Counter[str] = Counter()
    for change in changes:
        if change.kind == "contributor":
            total["contributors"] += 1
            continue
        for pledge, sign in ((change.old, -1), (change.new, 1)):
            if pledge is not None and _counted(pledge):
                total["raised_cents"] += sign * (pledge.amount_cents + pledge.matched_cents)
                total["matched_cents"] += sign * pledge.matched_cents
                total["pledge_count"] += sign
    return {name: value for name, value in total.items() if value}


def count(records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """A batch of the stream's records, counted once; answers what it added."""
    changes = delta(storage.stream.changes(records))
    batch = storage.stream.batch_id(records)
    if not changes or batch is None:
        return {}
    expires_at = int(clock.now().timestamp()) + BATCH_MARKER_SECONDS
    return changes if storage.counters.add_once(changes, batch, expires_at) else {}
