"""Lighter transaction backups for moto's DynamoDB, in tests and in the local emulator.

moto backs up each table that a transaction writes to, once per item of the transaction,
with copy.deepcopy(table): its definition, every item and every stream record, so a
transaction costs more the more was written before it (half the CPU of the API tier, and
most of a threaded race against the emulator, whose table keeps its whole stream). Its only
use is to put the table back if the transaction fails, and a write changes only the items
and the stream: the backup copies the items and the list of stream records (each record is
written once and never changed) and shares the rest.
"""

import copy
from typing import Any


def lighten() -> None:
    from moto.dynamodb.models.table import StreamShard, Table

    def backup(table: Any, memo: dict[int, Any]) -> Any:
        copied: Any = Table.__new__(Table)
        memo[id(table)] = copied
        copied.__dict__.update(table.__dict__)
        copied.items = copy.deepcopy(table.items, memo)
        if table.stream_shard is not None:
            shard: Any = StreamShard.__new__(StreamShard)
            copied.stream_shard = shard
            shard.__dict__.update(table.stream_shard.__dict__)
            shard.table, shard.items = copied, list(table.stream_shard.items)
        return copied

    setattr(Table, "__deepcopy__", backup)  # noqa: B010 (moto's Table declares no __deepcopy__)
