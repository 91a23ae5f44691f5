"""The table as the repositories left it: raw items, keys and bookkeeping included, read by
the test itself (tests/aws_calls.py counts only the application's calls)."""

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chalicelib import aws
from chalicelib.settings import get_settings

_from, _to = TypeDeserializer(), TypeSerializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _table() -> str:
    return get_settings().table_name


def item(key: dict[str, str]) -> dict[str, Any] | None:
    """The item at `key` (keys.campaign(…), keys.pledge(…)…), every attribute, numbers as int."""
    found = aws.client("dynamodb").get_item(
        TableName=_table(), Key={k: _to.serialize(v) for k, v in key.items()}, ConsistentRead=True
    )
    return {k: _plain(_from.deserialize(v)) for k, v in found["Item"].items()} if "Item" in found else None


def pay(pledge: Any, entry: Any, top_up: Any) -> Any:
    """Pay a pending pledge as chalicelib/payments.py does: the contributor's marker read
    with the campaign, then the payment's transaction."""
    from chalicelib import storage

    known = storage.pledges.read_for_payment(pledge.campaign_id, pledge.contributor_id, None).known_contributor
    return storage.pledges.pay(pledge, entry, top_up, new_contributor=not known)
