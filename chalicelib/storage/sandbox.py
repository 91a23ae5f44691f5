"""The sandbox payment provider's own state of each pledge's payment (chalicelib/payments.py),
kept in the table as a real provider keeps its own."""

from __future__ import annotations

from ..records import Payment
from . import dynamo, keys


def get(pledge_id: str) -> Payment | None:
    item = dynamo.get(keys.payment(pledge_id))
    return dynamo.record(Payment, item) if item else None


def put(pledge_id: str, payment: Payment) -> None:
    dynamo.client().put_item(
        TableName=dynamo.table(), Item=dynamo.to_ddb({**payment._asdict(), **keys.payment(pledge_id)})
    )
