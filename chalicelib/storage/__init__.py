"""DynamoDB access: the only code that knows the table, its keys and its expressions.

One repository module per aggregate, each taking and returning the typed records of
chalicelib/records.py (never raw items: keys and bookkeeping attributes stay here):

    keys         every key prefix, key builder, partition and index name (the table's map)
    dynamo       the core: values, expressions, transactions with the reason a condition
                 failed, queries, pages and cursors
    campaigns    campaigns and their lists;  media: a campaign's media entries
    pledges      pledges, with the totals, stock, top-up and counters they move
    funds        matching funds and the record of each closed campaign's public money
    settlement   closed campaigns until every pledge is settled
    audit        the append-only audit trail
    news         news posts, unsubscriptions, the unsubscribe links' secret
    erasure      rewrites that erase a person's identity (GDPR)
    counters     the platform figures of /stats
    sandbox      the sandbox payment provider's own state
"""

from . import audit, campaigns, counters, dynamo, erasure, funds, keys, media, news, pledges, sandbox, settlement
from .dynamo import ConditionFailed, every

__all__ = [
    "ConditionFailed",
    "audit",
    "campaigns",
    "counters",
    "dynamo",
    "erasure",
    "every",
    "funds",
    "keys",
    "media",
    "news",
    "pledges",
    "sandbox",
    "settlement",
]
