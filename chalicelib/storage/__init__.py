"""DynamoDB access: the only code that knows the table, its keys and its expressions.

One repository module per aggregate, each taking and returning the typed records of
chalicelib/records/ (never raw items: keys and bookkeeping attributes stay here):

    keys         every key prefix, key builder, partition and index name (the table's map)
    dynamo       the core: values, expressions, transactions with the reason a condition
                 failed, queries, pages and cursors
    campaigns    campaigns and their lists;  media: a campaign's media entries
    pledges      pledges, with the totals, stock, top-up and counters they move
    funds        matching funds and the record of each closed campaign's public money
    settlement   closed campaigns until every pledge is settled
    audit        the append-only audit trail
    news         news posts, unsubscriptions, the unsubscribe links' secret
    owners       owners' payout accounts at the payment provider
    payouts      succeeded campaigns' money to their owners
    erasure      rewrites that erase a person's identity (GDPR)
    counters     the platform figures of /stats;  stream: the table's changes that feed them
    ledger       every money movement at the payment provider, append-only
    sandbox      the sandbox payment provider's own state
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .dynamo import ConditionFailed, StorageError, every

if TYPE_CHECKING:
    from . import (
        audit,
        campaigns,
        counters,
        erasure,
        funds,
        keys,
        ledger,
        media,
        news,
        owners,
        payouts,
        pledges,
        sandbox,
        settlement,
        stream,
    )

__all__ = [
    "ConditionFailed",
    "StorageError",
    "audit",
    "campaigns",
    "counters",
    "dynamo",
    "erasure",
    "every",
    "funds",
    "keys",
    "ledger",
    "media",
    "news",
    "owners",
    "payouts",
    "pledges",
    "sandbox",
    "settlement",
    "stream",
]
REPOSITORIES = frozenset(__all__) - {"ConditionFailed", "StorageError", "dynamo", "every"}


def __getattr__(name: str) -> Any:
    """A repository module, imported on first use (`storage.pledges…`): a request touches a
    few of them, and each module imported is cold-start time (make bench)."""
    if name in REPOSITORIES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
