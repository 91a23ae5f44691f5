"""The table's stream (infra/template.yaml, StreamSpecification): its records decoded into
the changes of records that the platform figures count (chalicelib/figures.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..records import Pledge, TableChange
from . import dynamo, keys


def _pledge(image: Mapping[str, Any] | None) -> Pledge | None:
    return dynamo.record(Pledge, dynamo.from_ddb(image)) if image else None


def changes(records: Iterable[Mapping[str, Any]]) -> list[TableChange]:
    """Stream records (Lambda's event records, or GetRecords' answer) as changes."""
    found = []
    for record in records:
        change = record.get("dynamodb", {})
        kind = keys.kind(change.get("Keys", {}).get("pk", {}).get("S", ""))
        if kind == keys.PLEDGE:
            found.append(TableChange("pledge", _pledge(change.get("OldImage")), _pledge(change.get("NewImage"))))
        elif kind == "CONTRIBUTOR" and record.get("eventName") == "INSERT":
            found.append(TableChange("contributor"))
    return found


def batch_id(records: Iterable[Mapping[str, Any]]) -> str | None:
    """A batch's identity: its first and last sequence numbers (a redelivery repeats both)."""
    numbers = [r.get("dynamodb", {}).get("SequenceNumber", "") for r in records]
    return f"{numbers[0]}-{numbers[-1]}" if numbers and all(numbers) else None
