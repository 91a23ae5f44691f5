"""DynamoDB access: the only module that knows table keys, indexes and expressions.

Key design (also in infra/template.yaml):

    item                pk                       sk           index attributes
    campaign            CAMPAIGN#<id>            CAMPAIGN     user_pk/user_sk (owner),
                                                              status_pk/status_sk (submitted, live),
                                                              public_pk (+ launched_at, ends_at, raised_cents)
    platform counters   STATS                    GLOBAL       -

A campaign's rewards and media live inside its item (maps `rewards`, `media`), so one GetItem serves a
campaign page and one Query a list page, and a pledge updates stock and totals of one
item. Domain errors come out of here instead of botocore's ClientError.
"""

import base64
import binascii
import json
import random
import time
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from . import aws
from .errors import BadRequest, Conflict
from .settings import get_settings

STATS_KEY = {"pk": "STATS", "sk": "GLOBAL"}
# Partitions of the public_* indexes: the default public list shows live and ended
# campaigns in one Query; cancelled ones are listed only when asked for.
PUBLIC_PARTITIONS = {"live": "PUBLIC", "succeeded": "PUBLIC", "failed": "PUBLIC", "cancelled": "CANCELLED"}
# Partitions of by_status, with the attribute that orders each: the moderation queue by
# submission time, live campaigns by deadline (those due for closure, those to remind),
# closed ones by closure time until their pledges are settled.
WORK_PARTITIONS = {"submitted": ("SUBMITTED", "submitted_at"), "live": ("LIVE", "ends_at")}
SETTLING_PARTITION = ("SETTLING", "closed_at")
CLOSED_STATES = {"succeeded", "failed", "cancelled"}
PUBLIC_SORTS = {
    "newest": ("public_newest", False),
    "ending_soon": ("public_ending", True),
    "most_funded": ("public_funded", False),
}
INDEX_KEYS = {
    "by_user": ("user_pk", "user_sk"),
    "by_status": ("status_pk", "status_sk"),
    "public_newest": ("public_pk", "launched_at"),
    "public_ending": ("public_pk", "ends_at"),
    "public_funded": ("public_pk", "raised_cents"),
    "by_campaign": ("campaign_pk", "created_at"),
}
KEY_ATTRIBUTES = ("pk", "sk", "user_pk", "user_sk", "status_pk", "status_sk", "public_pk")
MAX_READ_AHEAD = 5
TRANSACTION_ATTEMPTS = 5

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _dynamodb():
    return aws.client("dynamodb")


def _table() -> str:
    return get_settings().table_name


def _to_ddb(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in value.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set)):
        return [_plain(v) for v in value]
    return value


def _from_ddb(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items() if k not in KEY_ATTRIBUTES}


def _campaign_key(campaign_id: str) -> dict[str, str]:
    return {"pk": f"CAMPAIGN#{campaign_id}", "sk": "CAMPAIGN"}


def _index_attributes(campaign: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Index attributes to set and to remove for a campaign in its current status."""
    status = campaign["status"]
    values: dict[str, Any] = {}
    removed: list[str] = []
    work = WORK_PARTITIONS.get(status)
    if status in CLOSED_STATES and "settled_at" not in campaign:
        work = SETTLING_PARTITION
    if work:
        partition, order = work
        values["status_pk"], values["status_sk"] = partition, campaign[order]
    else:
        removed += ["status_pk", "status_sk"]
    if status in PUBLIC_PARTITIONS:
        values["public_pk"] = PUBLIC_PARTITIONS[status]
    else:
        removed.append("public_pk")
    return values, removed


# --- cursors -------------------------------------------------------------------------


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise BadRequest(
            "cursor: not a cursor given by this API", [{"field": "cursor", "message": "invalid cursor"}]
        ) from exc
    # Key attributes are S or N; any other shape would fail botocore's validation (a 500).
    if not isinstance(key, dict) or not all(
        isinstance(v, dict) and len(v) == 1 and isinstance(v.get("S", v.get("N")), str) for v in key.values()
    ):
        raise BadRequest("cursor: not a cursor given by this API", [{"field": "cursor", "message": "invalid cursor"}])
    return key


# --- low-level calls -------------------------------------------------------------------


class ConditionFailed(Conflict):
    """A conditional write was refused; `item` names which item of the request failed."""

    def __init__(self, detail: str, item: str):
        super().__init__(detail)
        self.item = item


RETRYABLE_REASONS = {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}


def _cancellation_codes(error: ClientError) -> list[str]:
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def transact(items: list[tuple[dict[str, Any], str]], conflict_detail: str) -> None:
    """TransactWriteItems over (item, name) pairs, retried with bounded backoff on
    transaction conflicts and throttling. A failed condition raises ConditionFailed
    naming the first item whose condition failed."""
    request = [item for item, _ in items]
    for attempt in range(TRANSACTION_ATTEMPTS):
        try:
            _dynamodb().transact_write_items(TransactItems=request)
            return
        except ClientError as error:
            code = error.response["Error"]["Code"]
            codes = _cancellation_codes(error)
            if code == "TransactionCanceledException" and "ConditionalCheckFailed" in codes:
                raise ConditionFailed(conflict_detail, items[codes.index("ConditionalCheckFailed")][1]) from error
            retryable = code in ("TransactionConflictException", "TransactionInProgressException") or (
                code == "TransactionCanceledException" and RETRYABLE_REASONS.intersection(codes)
            )
            if not retryable or attempt == TRANSACTION_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, 0.05 * 2**attempt))


def _query(
    index: str | None,
    key_condition: str,
    values: dict[str, Any],
    *,
    limit: int,
    cursor: str | None,
    forward: bool = True,
    filter_expression: str | None = None,
    names: dict[str, str] | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a Query. Without a filter, exactly one request; with a filter, reads
    ahead (a bounded number of requests) until the page is full."""
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": _to_ddb(values),
        "ScanIndexForward": forward,
    }
    if index:
        request["IndexName"] = index
    if filter_expression:
        request["FilterExpression"] = filter_expression
    if names:
        request["ExpressionAttributeNames"] = names
    start_key = decode_cursor(cursor)
    raw: list[dict[str, Any]] = []
    for _ in range(MAX_READ_AHEAD):
        # A full page per request: with a filter, fewer items than Limit come back.
        request["Limit"] = limit
        if start_key:
            request["ExclusiveStartKey"] = start_key
        try:
            answer = _dynamodb().query(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException" and start_key:
                raise BadRequest(
                    "cursor: not a cursor for this list", [{"field": "cursor", "message": "invalid cursor"}]
                ) from error
            raise
        raw += answer.get("Items", [])
        start_key = answer.get("LastEvaluatedKey")
        if not start_key or len(raw) >= limit:
            break
    if len(raw) > limit:
        # The page ends inside the last request's items: go on after its last item.
        raw = raw[:limit]
        start_key = {name: raw[-1][name] for name in ("pk", "sk", *INDEX_KEYS.get(index, ()))}
    return [_from_ddb(item) for item in raw], encode_cursor(start_key)


# --- campaigns -------------------------------------------------------------------------


def _counter_update(changes: dict[str, int]) -> dict[str, Any]:
    """ADD to the platform counters (attribute name -> delta)."""
    names = {f"#c{i}": name for i, name in enumerate(changes)}
    values = {f":c{i}": delta for i, delta in enumerate(changes.values())}
    return {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(STATS_KEY),
            "UpdateExpression": "ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True)),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _to_ddb(values),
        }
    }


def create_campaign(campaign: dict[str, Any]) -> None:
    index_values, _ = _index_attributes(campaign)
    item = {
        **campaign,
        **_campaign_key(campaign["id"]),
        **index_values,
        "user_pk": f"USER#{campaign['owner_id']}",
        "user_sk": f"CAMPAIGN#{campaign['created_at']}#{campaign['id']}",
    }
    put = {
        "Put": {
            "TableName": _table(),
            "Item": _to_ddb(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    transact(
        [(put, "campaign"), (_counter_update({f"count_{campaign['status']}": 1}), "counters")],
        "a campaign with this id exists",
    )


def get_campaign(campaign_id: str) -> dict[str, Any] | None:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_campaign_key(campaign_id)), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def _update_expression(
    set_values: dict[str, Any], remove: list[str], map_entries: dict[str, dict[str, Any] | None]
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
    for i, (attribute, entries) in enumerate(map_entries.items()):
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


def _campaign_update(
    campaign_id: str,
    expected_status: str,
    set_values: dict[str, Any],
    remove: list[str] = (),
    map_entries: dict[str, dict[str, Any] | None] | None = None,
) -> dict[str, Any]:
    expression, names, values = _update_expression(set_values, list(remove), map_entries or {})
    names["#status"] = "status"
    values[":expected"] = expected_status
    return {
        "TableName": _table(),
        "Key": _to_ddb(_campaign_key(campaign_id)),
        "UpdateExpression": expression,
        "ConditionExpression": "#status = :expected",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": _to_ddb(values),
    }


def update_draft(
    campaign_id: str, changes: dict[str, Any], map_entries: dict[str, dict[str, Any] | None] | None = None
) -> None:
    """Edit a campaign that must still be a draft when the write lands."""
    request = _campaign_update(campaign_id, "draft", changes, map_entries=map_entries)
    try:
        _dynamodb().update_item(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict("the campaign is no longer a draft") from error
        raise


def transition(
    campaign: dict[str, Any],
    new_status: str,
    changes: dict[str, Any],
    remove: list[str] = (),
    unchanged: tuple[str, ...] = (),
) -> None:
    """Move a campaign from its current status to `new_status`, with the platform
    counters in the same transaction; fails with Conflict if its status (or any
    attribute named in `unchanged`) changed since read."""
    after = {**campaign, **changes, "status": new_status}
    index_values, index_removed = _index_attributes(after)
    update = _campaign_update(
        campaign["id"],
        campaign["status"],
        {**changes, "status": new_status, **index_values},
        [*remove, *index_removed],
    )
    for i, name in enumerate(unchanged):
        update["ConditionExpression"] += f" AND #u{i} = :u{i}"
        update["ExpressionAttributeNames"][f"#u{i}"] = name
        update["ExpressionAttributeValues"][f":u{i}"] = _serializer.serialize(campaign[name])
    counters = _counter_update({f"count_{campaign['status']}": -1, f"count_{new_status}": 1})
    transact(
        [({"Update": update}, "campaign"), (counters, "counters")], f"the campaign is no longer {campaign['status']}"
    )


def list_public(
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    now: str,
    status: str | None,
    category: str | None,
    postcode: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    index, forward = PUBLIC_SORTS[sort]
    partition = PUBLIC_PARTITIONS.get(status or "live")
    values: dict[str, Any] = {":p": partition}
    key_condition = "public_pk = :p"
    if sort == "ending_soon":
        key_condition += " AND ends_at >= :now"
        values[":now"] = now
    filters, names = [], {}
    for name, value in (("status", status if partition == "PUBLIC" else None), ("category", category)):
        if value:
            names[f"#{name}"], values[f":{name}"] = name, value
            filters.append(f"#{name} = :{name}")
    if postcode:
        values[":postcode"] = postcode
        filters.append("begins_with(postcode, :postcode)")
    return _query(
        index,
        key_condition,
        values,
        limit=limit,
        cursor=cursor,
        forward=forward,
        filter_expression=" AND ".join(filters) or None,
        names=names or None,
    )


def list_by_owner(owner_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return _query(
        "by_user",
        "user_pk = :u AND begins_with(user_sk, :kind)",
        {":u": f"USER#{owner_id}", ":kind": "CAMPAIGN#"},
        limit=limit,
        cursor=cursor,
        forward=False,
    )


def list_by_status(
    status: str, *, limit: int, cursor: str | None, until: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Submitted campaigns by submission time, or live ones by deadline (up to `until`)."""
    partition, _ = WORK_PARTITIONS[status]
    key_condition, values = "status_pk = :p", {":p": partition}
    if until:
        key_condition += " AND status_sk <= :until"
        values[":until"] = until
    return _query("by_status", key_condition, values, limit=limit, cursor=cursor)


def get_counters() -> dict[str, int]:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(STATS_KEY))
    return _from_ddb(answer.get("Item", {}))


# --- media (entries of a campaign's map `media`, keyed by media id) ----------------------

# A campaign takes media while a draft, or while live and before its end.
_TAKES_MEDIA = "(#status = :draft OR (#status = :live AND ends_at > :now))"


def _update_media(campaign_id: str, expression: str, condition: str, names: dict, values: dict, detail: str) -> None:
    try:
        _dynamodb().update_item(
            TableName=_table(),
            Key=_to_ddb(_campaign_key(campaign_id)),
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_to_ddb(values),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict(detail) from error
        raise


def add_media(campaign_id: str, entry: dict[str, Any], *, now: str, max_count: int) -> None:
    """Add a pending entry, if the campaign takes media and has fewer than `max_count`."""
    _update_media(
        campaign_id,
        "SET #media.#id = :entry",
        f"{_TAKES_MEDIA} AND size(#media) < :max AND attribute_not_exists(#media.#id)",
        {"#media": "media", "#id": entry["id"], "#status": "status"},
        {":entry": entry, ":draft": "draft", ":live": "live", ":now": now, ":max": max_count},
        "the campaign no longer takes media, or has reached its number of media",
    )


def replace_media(campaign_id: str, entry: dict[str, Any], *, expected: str, now: str | None = None) -> None:
    """Replace an entry that is still `expected` (pending -> ready or rejected); with
    `now`, only while the campaign takes media."""
    condition = "#media.#id.#state = :expected"
    names = {"#media": "media", "#id": entry["id"], "#state": "status"}
    values: dict[str, Any] = {":entry": entry, ":expected": expected}
    expression = "SET #media.#id = :entry"
    if now:
        condition += f" AND {_TAKES_MEDIA}"
        names["#status"] = "status"
        values.update({":draft": "draft", ":live": "live", ":now": now})
        expression += ", updated_at = :now"
    _update_media(campaign_id, expression, condition, names, values, f"the media is no longer {expected}")


def drop_media(campaign_id: str, expected: dict[str, str]) -> None:
    """Remove entries still in the given states (media id -> status): abandoned uploads."""
    names, values, removes, conditions = {"#media": "media", "#state": "status"}, {}, [], []
    for i, (media_id, status) in enumerate(expected.items()):
        names[f"#d{i}"], values[f":d{i}"] = media_id, status
        removes.append(f"#media.#d{i}")
        conditions.append(f"#media.#d{i}.#state = :d{i}")
    _update_media(
        campaign_id, "REMOVE " + ", ".join(removes), " AND ".join(conditions), names, values, "the media changed"
    )


def remove_media(campaign_id: str, media_id: str, *, now: str, is_cover: bool) -> None:
    """Remove an entry while the campaign takes media; the cover goes with its image
    (the condition on the cover fails if it changed since it was read)."""
    names = {"#media": "media", "#id": media_id, "#status": "status", "#cover": "cover_media_id"}
    values = {":id": media_id, ":draft": "draft", ":live": "live", ":now": now}
    expression = "SET updated_at = :now REMOVE #media.#id"
    condition = f"{_TAKES_MEDIA} AND attribute_exists(#media.#id)"
    if is_cover:
        expression += ", #cover"
        condition += " AND #cover = :id"
    else:
        condition += " AND (attribute_not_exists(#cover) OR #cover <> :id)"
    _update_media(campaign_id, expression, condition, names, values, "the campaign or its media changed; try again")


# --- pledges ---------------------------------------------------------------------------
#
#   pledge               PLEDGE#<id>               PLEDGE        user_pk/user_sk (contributor),
#                                                                campaign_pk/created_at (backers)
#   idempotency record   IDEMPOTENCY#<hash>        IDEMPOTENCY   ttl: expires_at (epoch seconds)
#   contributor marker   CONTRIBUTOR#<sub>         CONTRIBUTOR   - (counts distinct contributors)


def _pledge_key(pledge_id: str) -> dict[str, str]:
    return {"pk": f"PLEDGE#{pledge_id}", "sk": "PLEDGE"}


def _idempotency_key(scope: str) -> dict[str, str]:
    return {"pk": f"IDEMPOTENCY#{scope}", "sk": "IDEMPOTENCY"}


def _contributor_key(contributor_id: str) -> dict[str, str]:
    return {"pk": f"CONTRIBUTOR#{contributor_id}", "sk": "CONTRIBUTOR"}


def _batch_get(keys: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Strongly consistent BatchGetItem (one request unless DynamoDB leaves keys unprocessed)."""
    wanted = {"Keys": [_to_ddb(key) for key in keys], "ConsistentRead": True}
    found: list[dict[str, Any]] = []
    while wanted:
        answer = _dynamodb().batch_get_item(RequestItems={_table(): wanted})
        found += answer["Responses"].get(_table(), [])
        wanted = answer.get("UnprocessedKeys", {}).get(_table())
    return found


def read_pledge_context(campaign_id: str, contributor_id: str, idempotency_scope: str):
    """One read for a pledge: the campaign, the idempotency record of this key (or None),
    and whether this contributor has pledged before."""
    items = _batch_get(
        [_campaign_key(campaign_id), _idempotency_key(idempotency_scope), _contributor_key(contributor_id)]
    )
    by_pk = {item["pk"]["S"].split("#", 1)[0]: _from_ddb(item) for item in items}
    return by_pk.get("CAMPAIGN"), by_pk.get("IDEMPOTENCY"), "CONTRIBUTOR" in by_pk


def _reward_stock(reward_id: str | None, limited: bool, delta: int) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """SET clause and condition moving a limited reward's stock by `delta`."""
    if not (reward_id and limited):
        return "", "", {}, {}
    names = {"#rw": "rewards", "#rid": reward_id, "#rem": "remaining"}
    stock = "#rw.#rid.#rem"
    condition = f" AND {stock} >= :unit" if delta < 0 else ""
    return f"SET {stock} = {stock} + :stock ", condition, names, {":stock": delta, ":unit": 1}


def _campaign_money(pledge: dict[str, Any], sign: int, now: str) -> dict[str, Any]:
    """Move a campaign's total, pledge count and reward stock by one pledge, while it is live."""
    stock_set, stock_condition, names, values = _reward_stock(pledge.get("reward_id"), pledge["reward_limited"], -sign)
    values = {**values, ":amount": sign * pledge["amount_cents"], ":count": sign, ":live": "live", ":now": now}
    if not stock_condition:
        values.pop(":unit", None)
    return {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_campaign_key(pledge["campaign_id"])),
            "UpdateExpression": f"{stock_set}ADD raised_cents :amount, pledge_count :count",
            "ConditionExpression": f"#status = :live AND ends_at >= :now{stock_condition}",
            "ExpressionAttributeNames": {**names, "#status": "status"},
            "ExpressionAttributeValues": _to_ddb(values),
        }
    }


def record_pledge(pledge: dict[str, Any], idempotency: dict[str, Any], *, new_contributor: bool, now: str) -> None:
    """The pledge, its idempotency record, the campaign's totals and stock and the platform
    counters, in one transaction. ConditionFailed.item says what refused it:
    "idempotency" (the key is taken), "contributor" (first pledge raced), "campaign"
    (no longer live, past its deadline, or the reward sold out)."""
    pledge_item = {
        **pledge,
        **_pledge_key(pledge["id"]),
        "user_pk": f"USER#{pledge['contributor_id']}",
        "user_sk": f"PLEDGE#{pledge['created_at']}#{pledge['id']}",
        "campaign_pk": f"CAMPAIGN#{pledge['campaign_id']}",
    }
    record = {**idempotency, **_idempotency_key(idempotency["scope"])}
    items = [
        (
            {
                "Put": {
                    "TableName": _table(),
                    "Item": _to_ddb(record),
                    "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :epoch",
                    "ExpressionAttributeValues": _to_ddb({":epoch": idempotency["created_epoch"]}),
                }
            },
            "idempotency",
        ),
        (
            {
                "Put": {
                    "TableName": _table(),
                    "Item": _to_ddb(pledge_item),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            "pledge",
        ),
        (_campaign_money(pledge, +1, now), "campaign"),
    ]
    counters = {"raised_cents": pledge["amount_cents"], "pledge_count": 1}
    if new_contributor:
        marker = {**_contributor_key(pledge["contributor_id"]), "first_pledge_at": pledge["created_at"]}
        items.append(
            (
                {
                    "Put": {
                        "TableName": _table(),
                        "Item": _to_ddb(marker),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                "contributor",
            )
        )
        counters["contributors"] = 1
    items.append((_counter_update(counters), "counters"))
    transact(items, "the pledge was refused")


def get_pledge(pledge_id: str) -> dict[str, Any] | None:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_pledge_key(pledge_id)), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def cancel_pledge(pledge: dict[str, Any], now: str) -> None:
    """Mark an active pledge cancelled and give back its amount and reward, in one
    transaction. ConditionFailed.item: "pledge" (not active any more) or "campaign"
    (no longer live)."""
    cancel = {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_pledge_key(pledge["id"])),
            "UpdateExpression": "SET #status = :cancelled, cancelled_at = :now",
            "ConditionExpression": "#status = :active",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _to_ddb({":cancelled": "cancelled", ":active": "active", ":now": now}),
        }
    }
    transact(
        [
            (cancel, "pledge"),
            (_campaign_money(pledge, -1, now), "campaign"),
            (_counter_update({"raised_cents": -pledge["amount_cents"], "pledge_count": -1}), "counters"),
        ],
        "the cancellation was refused",
    )


def list_campaign_pledges(campaign_id: str, *, limit: int, cursor: str | None, active_only: bool = True):
    """A campaign's pledges, newest first."""
    return _query(
        "by_campaign",
        "campaign_pk = :c",
        {":c": f"CAMPAIGN#{campaign_id}", **({":active": "active"} if active_only else {})},
        limit=limit,
        cursor=cursor,
        forward=False,
        filter_expression="#status = :active" if active_only else None,
        names={"#status": "status"} if active_only else None,
    )


def list_contributor_pledges(contributor_id: str, *, limit: int, cursor: str | None):
    return _query(
        "by_user",
        "user_pk = :u AND begins_with(user_sk, :kind)",
        {":u": f"USER#{contributor_id}", ":kind": "PLEDGE#"},
        limit=limit,
        cursor=cursor,
        forward=False,
    )


def get_campaigns(campaign_ids: set[str]) -> dict[str, dict[str, Any]]:
    if not campaign_ids:
        return {}
    items = _batch_get([_campaign_key(campaign_id) for campaign_id in sorted(campaign_ids)])
    return {campaign["id"]: campaign for campaign in map(_from_ddb, items)}


# --- closure and settlement ----------------------------------------------------------------
#
#   payment (sandbox)    PAYMENT#<pledge id>       PAYMENT       - (the sandbox provider's own state)


def list_live_ending(*, after: str | None = None, before: str, limit: int, cursor: str | None, not_flagged: str = ""):
    """Live campaigns whose deadline is before `before` (and after `after`), soonest first;
    `not_flagged` skips those that already carry that attribute."""
    key_condition = (
        "status_pk = :p AND status_sk BETWEEN :after AND :before" if after else "status_pk = :p AND status_sk < :before"
    )
    values = {":p": "LIVE", ":before": before, **({":after": after} if after else {})}
    return _query(
        "by_status",
        key_condition,
        values,
        limit=limit,
        cursor=cursor,
        filter_expression=f"attribute_not_exists({not_flagged})" if not_flagged else None,
    )


def list_settling(*, limit: int, cursor: str | None):
    """Closed campaigns whose pledges are not all settled, oldest closure first."""
    return _query("by_status", "status_pk = :p", {":p": SETTLING_PARTITION[0]}, limit=limit, cursor=cursor)


def flag_campaign(campaign_id: str, attribute: str, now: str) -> bool:
    """Set `attribute` once; True for the one caller that set it (claims a mail, a step)."""
    try:
        _dynamodb().update_item(
            TableName=_table(),
            Key=_to_ddb(_campaign_key(campaign_id)),
            UpdateExpression="SET #a = :now",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#a)",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues=_to_ddb({":now": now}),
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def save_settlement_progress(campaign_id: str, cursor: str | None, retry_pending: int, now: str) -> None:
    """The checkpoint of a settlement pass: where to go on, and how many pledges of this
    pass wait for another payment attempt."""
    set_values = {"settlement_heartbeat": now, "settlement_retry_pending": retry_pending}
    if cursor:
        set_values["settlement_cursor"] = cursor
    expression, names, values = _update_expression(set_values, [] if cursor else ["settlement_cursor"], {})
    _dynamodb().update_item(
        TableName=_table(),
        Key=_to_ddb(_campaign_key(campaign_id)),
        UpdateExpression=expression,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=_to_ddb(values),
    )


def touch_settlement(campaign_id: str, now: str) -> None:
    """Note that settlement was handed on, so that the next runs leave it alone a while."""
    _dynamodb().update_item(
        TableName=_table(),
        Key=_to_ddb(_campaign_key(campaign_id)),
        UpdateExpression="SET settlement_heartbeat = :now",
        ExpressionAttributeValues=_to_ddb({":now": now}),
    )


def finish_settlement(campaign_id: str, now: str) -> bool:
    """Take a campaign out of the settling partition, once."""
    try:
        _dynamodb().update_item(
            TableName=_table(),
            Key=_to_ddb(_campaign_key(campaign_id)),
            UpdateExpression=(
                "SET settled_at = :now REMOVE status_pk, status_sk, settlement_cursor, settlement_retry_pending"
            ),
            ConditionExpression="attribute_not_exists(settled_at)",
            ExpressionAttributeValues=_to_ddb({":now": now}),
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def record_settlement(pledge: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Write a pledge's settlement outcome unless another run already settled it for
    good: only a pledge with no settlement, or with the failed attempt this run saw, moves.
    True when this call moved it."""
    expression, names, values = _update_expression(fields, [], {})
    values[":failed"] = "payment_failed"
    values[":seen"] = pledge.get("payment_attempts", 0)
    try:
        _dynamodb().update_item(
            TableName=_table(),
            Key=_to_ddb(_pledge_key(pledge["id"])),
            UpdateExpression=expression,
            ConditionExpression=(
                "attribute_not_exists(settlement) OR "
                "(settlement = :failed AND (attribute_not_exists(payment_attempts) OR payment_attempts = :seen))"
            ),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=_to_ddb(values),
        )
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


def _payment_key(pledge_id: str) -> dict[str, str]:
    return {"pk": f"PAYMENT#{pledge_id}", "sk": "PAYMENT"}


def get_payment(pledge_id: str) -> dict[str, Any] | None:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_payment_key(pledge_id)), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def put_payment(pledge_id: str, state: dict[str, Any]) -> None:
    _dynamodb().put_item(TableName=_table(), Item=_to_ddb({**state, **_payment_key(pledge_id)}))
