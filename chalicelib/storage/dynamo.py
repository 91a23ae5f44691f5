"""The DynamoDB core under the repositories: values, expressions, transactions, pages.

Domain errors come out of here instead of botocore's ClientError: a refused condition is
ConditionFailed (naming which item of a transaction refused), a bad cursor BadRequest.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .. import aws
from ..errors import BadRequest, Conflict, FieldError, NotFound
from ..settings import get_settings
from . import keys

Item = dict[str, Any]
R = TypeVar("R")

MAX_READ_AHEAD = 5  # Queries one filtered page may read before it answers
PAGE = 100  # items per request when `every` reads all of a list
TRANSACTION_ATTEMPTS = 5
TRANSACTION_MAX_ITEMS = 100  # DynamoDB's limit of items in one TransactWriteItems
RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def client() -> Any:
    return aws.client("dynamodb")


def table() -> str:
    return get_settings().table_name


# --- values ----------------------------------------------------------------------------


def to_ddb(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in value.items()}


def serialize(value: Any) -> Any:
    return _serializer.serialize(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def from_ddb(item: Mapping[str, Any]) -> Item:
    """An item's attributes as plain Python values (numbers as int), keys left out."""
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items() if k not in keys.KEY_ATTRIBUTES}


def record(cls: type[R], attributes: Mapping[str, Any], **converted: Any) -> R:
    """A record of `cls` from an item's attributes: the fields it has, nothing else (what
    only storage keeps stays here). `converted` gives fields already turned into records."""
    fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    values = {name: attributes[name] for name in fields if name in attributes}
    return cls(**{**values, **converted})


def attributes(value: NamedTuple, *, leave_out: Sequence[str] = ()) -> Item:
    """A record's fields to store: None means absent."""
    return {k: v for k, v in value._asdict().items() if v is not None and k not in leave_out}


# --- expressions -----------------------------------------------------------------------


def update_expression(
    set_values: Mapping[str, Any],
    remove: Sequence[str] = (),
    map_entries: Mapping[str, Mapping[str, Any | None]] | None = None,
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """SET/REMOVE clauses over plain attributes and over entries of map attributes
    (`map_entries` maps "rewards" -> {entry id: value, or None to remove it})."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets, removes = [], []
    for i, (name, value) in enumerate(set_values.items()):
        names[f"#s{i}"], values[f":s{i}"] = name, value
        sets.append(f"#s{i} = :s{i}")
    for i, name in enumerate(remove):
        names[f"#r{i}"] = name
        removes.append(f"#r{i}")
    for i, (attribute, entries) in enumerate((map_entries or {}).items()):
        names[f"#m{i}"] = attribute
        for j, (entry_id, value) in enumerate(entries.items()):
            names[f"#m{i}e{j}"] = entry_id
            if value is None:
                removes.append(f"#m{i}.#m{i}e{j}")
            else:
                values[f":m{i}e{j}"] = value
                sets.append(f"#m{i}.#m{i}e{j} = :m{i}e{j}")
    expression = ""
    if sets:
        expression += "SET " + ", ".join(sets)
    if removes:
        expression += " REMOVE " + ", ".join(removes)
    return expression.strip(), names, values


def update(
    key: keys.Key,
    expression: str,
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Item:
    """The parameters of an UpdateItem (also the body of a transaction's Update)."""
    request: Item = {"TableName": table(), "Key": to_ddb(key), "UpdateExpression": expression}
    if condition:
        request["ConditionExpression"] = condition
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    if values:
        request["ExpressionAttributeValues"] = to_ddb(values)
    return request


def put(item: Mapping[str, Any], *, new: bool = True) -> Item:
    """A transaction's Put of `item`; `new`: refused if an item with its key exists."""
    request: Item = {"TableName": table(), "Item": to_ddb(item)}
    if new:
        request["ConditionExpression"] = "attribute_not_exists(pk)"
    return {"Put": request}


# --- reads -----------------------------------------------------------------------------


def get(key: keys.Key, *, consistent: bool = True) -> Item | None:
    answer = client().get_item(TableName=table(), Key=to_ddb(key), ConsistentRead=consistent)
    return from_ddb(answer["Item"]) if "Item" in answer else None


def batch_get(wanted_keys: Sequence[keys.Key]) -> list[tuple[str, Item]]:
    """Strongly consistent BatchGetItem (one request unless DynamoDB leaves keys
    unprocessed); answers (pk, attributes) of the items found."""
    wanted: Item | None = {"Keys": [to_ddb(key) for key in wanted_keys], "ConsistentRead": True}
    found: list[tuple[str, Item]] = []
    while wanted:
        answer = client().batch_get_item(RequestItems={table(): wanted})
        found += [(item["pk"]["S"], from_ddb(item)) for item in answer["Responses"].get(table(), [])]
        wanted = answer.get("UnprocessedKeys", {}).get(table())
    return found


# --- cursors ---------------------------------------------------------------------------

INVALID_CURSOR: list[FieldError] = [{"field": "cursor", "message": "invalid cursor"}]


def encode_cursor(last_key: Mapping[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise BadRequest("cursor: not a cursor given by this API", INVALID_CURSOR) from exc
    # Key attributes are S or N; any other shape would fail botocore's validation (a 500).
    if not isinstance(key, dict) or not all(
        isinstance(v, dict) and len(v) == 1 and isinstance(v.get("S", v.get("N")), str) for v in key.values()
    ):
        raise BadRequest("cursor: not a cursor given by this API", INVALID_CURSOR)
    return key


class Query(NamedTuple):
    """A Query's conditions: key condition, its values, optional filter and names."""

    index_name: str | None
    key_condition: str
    values: Mapping[str, Any]
    filter: str | None = None
    names: Mapping[str, str] | None = None
    forward: bool = True


def by_user(user_id: str, kind: str) -> Query:
    """A user's items of one kind (campaigns, pledges, audit entries…), newest first."""
    return Query(
        keys.BY_USER,
        "user_pk = :u AND begins_with(user_sk, :kind)",
        {":u": keys.user(user_id), ":kind": f"{kind}#"},
        forward=False,
    )


def query(q: Query, *, limit: int, cursor: str | None) -> tuple[list[Item], str | None]:
    """One page of a Query. Without a filter, exactly one request; with a filter, reads
    ahead (a bounded number of requests) until the page is full."""
    request: Item = {
        "TableName": table(),
        "KeyConditionExpression": q.key_condition,
        "ExpressionAttributeValues": to_ddb(q.values),
        "ScanIndexForward": q.forward,
    }
    if q.index_name:
        request["IndexName"] = q.index_name
    if q.filter:
        request["FilterExpression"] = q.filter
    if q.names:
        request["ExpressionAttributeNames"] = dict(q.names)
    start_key = decode_cursor(cursor)
    raw: list[Item] = []
    for _ in range(MAX_READ_AHEAD):
        # A full page per request: with a filter, fewer items than Limit come back.
        request["Limit"] = limit
        if start_key:
            request["ExclusiveStartKey"] = start_key
        try:
            answer = client().query(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException" and start_key:
                raise BadRequest("cursor: not a cursor for this list", INVALID_CURSOR) from error
            raise
        raw += answer.get("Items", [])
        start_key = answer.get("LastEvaluatedKey")
        if not start_key or len(raw) >= limit:
            break
    if len(raw) > limit:
        # The page ends inside the last request's items: go on after its last item.
        raw = raw[:limit]
        index_keys = keys.INDEX_KEYS.get(q.index_name, ()) if q.index_name else ()
        start_key = {name: raw[-1][name] for name in ("pk", "sk", *index_keys)}
    return [from_ddb(item) for item in raw], encode_cursor(start_key)


def any_match(q: Query) -> bool:
    """Whether a filtered Query finds anything, reading page after page until it does."""
    request: Item = {
        "TableName": table(),
        "IndexName": q.index_name,
        "KeyConditionExpression": q.key_condition,
        "ExpressionAttributeValues": to_ddb(q.values),
        "Limit": PAGE,
    }
    if q.filter:
        request["FilterExpression"] = q.filter
    if q.names:
        request["ExpressionAttributeNames"] = dict(q.names)
    while True:
        answer = client().query(**request)
        if answer.get("Items"):
            return True
        if "LastEvaluatedKey" not in answer:
            return False
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def every(read: Callable[..., tuple[list[R], str | None]], *args: Any, **kwargs: Any) -> Iterator[R]:
    """Every item of a paged reader of storage (one taking `limit` and `cursor`), page
    after page of 100, as they come."""
    cursor = None
    while True:
        items, cursor = read(*args, limit=PAGE, cursor=cursor, **kwargs)
        yield from items
        if not cursor:
            return


# --- writes ----------------------------------------------------------------------------


# What DynamoDB answers when it refuses a request for good (throttled past the retries, a
# transaction still in conflict): the domain may leave the work to a later run.
StorageError = ClientError


class ConditionFailed(Conflict):
    """A conditional write was refused; `item` names which item of the request failed."""

    def __init__(self, detail: str, item: str):
        super().__init__(detail)
        self.item = item


TransactionItem = tuple[Item, str]  # (the request's item, the name ConditionFailed gives it)


def cancellation_codes(error: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def transact(items: Sequence[TransactionItem], conflict_detail: str) -> None:
    """TransactWriteItems over (item, name) pairs, retried with bounded backoff on
    transaction conflicts and throttling. A failed condition raises ConditionFailed
    naming the first item whose condition failed."""
    request = [item for item, _ in items]
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            client().transact_write_items(TransactItems=request)
            return
        except ClientError as error:
            code = error.response["Error"]["Code"]
            codes = cancellation_codes(error)
            if code == "TransactionCanceledException" and "ConditionalCheckFailed" in codes:
                raise ConditionFailed(conflict_detail, items[codes.index("ConditionalCheckFailed")][1]) from error
            retryable = code in ("TransactionConflictException", "TransactionInProgressException") or (
                code == "TransactionCanceledException" and RETRYABLE_REASONS.intersection(codes)
            )
            if not retryable or attempt == TRANSACTION_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.05 * 2**attempt))


def conditional_update(request: Mapping[str, Any]) -> bool:
    """UpdateItem whose ConditionExpression may refuse it: True if it was written."""
    try:
        client().update_item(**request)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def conditional_put(request: Mapping[str, Any]) -> bool:
    """PutItem whose ConditionExpression may refuse it: True if it was written."""
    try:
        client().put_item(**request)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def write(request: Mapping[str, Any]) -> None:
    """An unconditional UpdateItem."""
    client().update_item(**request)


def delete(key: keys.Key) -> None:
    client().delete_item(TableName=table(), Key=to_ddb(key))


def rewrite(key: keys.Key, changes: Mapping[str, Any], *, remove: Sequence[str] = ()) -> None:
    """Change attributes of an item that must exist: NotFound if it is gone."""
    expression, names, values = update_expression(changes, remove)
    request = update(key, expression, condition="attribute_exists(pk)", names=names, values=values)
    if not conditional_update(request):
        raise NotFound("this item no longer exists")
