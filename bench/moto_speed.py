"""Two speed-ups of in-process moto for the large closure benchmark; no answer changes.

moto 5.2 emulates DynamoDB with costs that grow with the whole table, which real
DynamoDB does not have, and which make 50,000 pledges unmeasurable (hours):
- TransactWriteItems deep-copies the table once per item of the transaction, to roll
  it back if a condition fails (a pledge, five items, copied a 150,000-item table five
  times). Here only the items the transaction touches are saved and restored.
- Every Query lists all the items of the table and sorts them by key, then keeps the
  ones of the partition asked for (and sorts those again for an index). Here the first,
  useless, sort is skipped; the listing remains, so a Query still costs a pass over the
  table.
- An answer with items (GetItem, Query, BatchGetItem…) is already a dict in DynamoDB's
  JSON when moto's response serializer walks it against the botocore model, attribute by
  attribute: about 1 s for a page of 100 pledges. Here it is dumped as it is (the same
  JSON, checked equal on the benchmark's answers; the serializer still runs for anything
  json.dumps refuses).

Used by bench/closure.py and bench/escrow.py around in-process moto, and by
bench/pledging.py for a second emulator server (`python -m bench.moto_speed --port N`);
tests, `make run` and the first emulator of bench/pledging.py run stock moto. Request
counts do not depend on it, only wall times do.

Not a speed-up but a guard: `one_request_at_a_time` serialises in-process moto's requests
as devtools/emulator.py serialises its server's. moto's DynamoDB is not thread-safe (two
concurrent ADDs to one item may lose one), and settlement refunds from a thread pool.
"""

import copy
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _KeepTables:
    """moto's `copy` module as seen by its DynamoDB backend: tables are not copied."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _touched(backend, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, copy of the item or None) for each item written."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items:
        (_, operation), *_ = entry.items()
        table = backend.tables.get(operation.get("TableName"))
        key = operation.get("Item") or operation.get("Key") or {}
        if table is None or table.hash_key_attr not in key:
            continue
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
        if table.range_key_attr and range_key is None:
            continue  # moto refuses it itself
        saved.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
    return saved


def _restore(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
        elif item is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item


@contextmanager
def faster_moto() -> Iterator[None]:
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoResult

    original_transact = models.DynamoDBBackend.transact_write_items
    original_all_items = Table.all_items
    original_copy = models.copy
    original_result = DynamoResult.execute_result

    def transact_write_items(self, transact_items):
        saved = _touched(self, transact_items)
        try:
            return original_transact(self, transact_items)
        except Exception:
            _restore(saved)  # moto "restored" the tables it did not copy: undo by hand
            raise

    def all_items(self):
        if self.range_key_attr:
            return [item for items in self.items.values() for item in items.values()]
        return list(self.items.values())

    def execute_result(self, context):
        try:
            body = json.dumps(self.result)
        except TypeError:
            return original_result(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    models.copy = _KeepTables
    models.DynamoDBBackend.transact_write_items = transact_write_items
    Table.all_items = all_items
    DynamoResult.execute_result = execute_result
    try:
        yield
    finally:
        models.copy = original_copy
        models.DynamoDBBackend.transact_write_items = original_transact
        Table.all_items = original_all_items
        DynamoResult.execute_result = original_result


@contextmanager
def one_request_at_a_time() -> Iterator[None]:
    """In-process moto answering one request at a time, whatever the threads calling it
    (the time a caller spends outside moto, a provider's latency, still overlaps)."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__
    lock = threading.Lock()

    def locked(self, event_name, request, **kwargs):
        with lock:
            return original(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = locked
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original


def main() -> None:
    """The locked emulator (devtools/emulator.py) with these speed-ups: same arguments."""
    from devtools import emulator

    with faster_moto():
        emulator.main()


if __name__ == "__main__":
    main()
