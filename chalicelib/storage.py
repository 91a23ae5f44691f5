"""DynamoDB access: the only module that knows table keys, indexes and expressions.

Key design (the whole table: infra/template.yaml; each section below lists its items):

    item                pk                       sk           index attributes
    campaign            CAMPAIGN#<id>            CAMPAIGN     user_pk/user_sk (owner),
                                                              status_pk/status_sk (submitted, live, settling),
                                                              public_pk (+ launched_at, ends_at, raised_cents)
    platform counters   STATS                    GLOBAL       -

A campaign's rewards and media live inside its item (maps `rewards`, `media`), so one
GetItem serves a campaign page and one Query a list page, and a pledge updates stock and
totals of one item. Domain errors come out of here instead of botocore's ClientError.
"""

import base64
import binascii
import json
import random
import time
from collections.abc import Callable
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
    "by_closure": ("closed_pk", "closed_at"),
}
KEY_ATTRIBUTES = ("pk", "sk", "user_pk", "user_sk", "status_pk", "status_sk", "public_pk", "closed_pk")
# Partition of by_closure: every closed campaign, for good, by closure time (exports, open data).
CLOSED_PARTITION = "CLOSED"
MAX_READ_AHEAD = 5
PAGE = 100  # items per request when `every` reads all of a list
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
    if status in CLOSED_STATES:
        values["closed_pk"] = CLOSED_PARTITION
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


def conditional_update(request: dict[str, Any]) -> bool:
    """UpdateItem whose ConditionExpression may refuse it: True if it was written."""
    try:
        _dynamodb().update_item(**request)
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


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


def every(read: Callable[..., tuple[list[dict[str, Any]], str | None]], *args: Any, **kwargs: Any):
    """Every item of a paged reader of this module (one taking `limit` and `cursor`),
    page after page of 100, as they come."""
    cursor = None
    while True:
        items, cursor = read(*args, limit=PAGE, cursor=cursor, **kwargs)
        yield from items
        if not cursor:
            return


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
    if not conditional_update(_campaign_update(campaign_id, "draft", changes, map_entries=map_entries)):
        raise Conflict("the campaign is no longer a draft")


def transition(
    campaign: dict[str, Any],
    new_status: str,
    changes: dict[str, Any],
    remove: list[str] = (),
    unchanged: tuple[str, ...] = (),
    audit: dict[str, Any] | None = None,
) -> None:
    """Move a campaign from its current status to `new_status`, with the platform
    counters (and the `audit` entry, if any) in the same transaction; fails with
    Conflict if its status (or any attribute named in `unchanged`) changed since read."""
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
    counters = _counter_update(
        {
            f"count_{campaign['status']}": -1,
            f"count_{new_status}": 1,
            **_area_counters(campaign, new_status),
        }
    )
    items = [({"Update": update}, "campaign"), (counters, "counters")]
    if audit:
        items.append((audit_put(audit), "audit"))
    transact(items, f"the campaign is no longer {campaign['status']}")


def _area_counters(campaign: dict[str, Any], new_status: str) -> dict[str, int]:
    """Counters of public campaigns by category and by commune (`category#<name>#<state>`,
    `commune#<name>#<state>`), and what their succeeded ones raised. Only public states
    count: a campaign's category and commune can no longer change once it is live."""
    changes: dict[str, int] = {}
    for area in (f"category#{campaign['category']}", f"commune#{campaign['commune']}"):
        if campaign["status"] in PUBLIC_PARTITIONS:
            changes[f"{area}#{campaign['status']}"] = -1
        if new_status in PUBLIC_PARTITIONS:
            changes[f"{area}#{new_status}"] = 1
        if new_status == "succeeded":
            changes[f"{area}#succeeded_raised_cents"] = campaign["raised_cents"]
    return changes


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


def _by_user(user_id: str, kind: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """A user's campaigns or pledges, newest first."""
    return _query(
        "by_user",
        "user_pk = :u AND begins_with(user_sk, :kind)",
        {":u": f"USER#{user_id}", ":kind": f"{kind}#"},
        limit=limit,
        cursor=cursor,
        forward=False,
    )


def list_by_owner(owner_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    return _by_user(owner_id, "CAMPAIGN", limit, cursor)


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


def _update_media(
    campaign_id: str,
    expression: str,
    condition: str,
    names: dict,
    values: dict,
    detail: str,
    audit: dict[str, Any] | None = None,
) -> None:
    request = {
        "TableName": _table(),
        "Key": _to_ddb(_campaign_key(campaign_id)),
        "UpdateExpression": expression,
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": _to_ddb(values),
    }
    if audit:
        transact([({"Update": request}, "campaign"), (audit_put(audit), "audit")], detail)
    elif not conditional_update(request):
        raise Conflict(detail)


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


def remove_media(
    campaign_id: str, media_id: str, *, now: str, is_cover: bool, audit: dict[str, Any] | None = None
) -> None:
    """Remove an entry while the campaign takes media; the cover goes with its image
    (the condition on the cover fails if it changed since it was read). The `audit`
    entry is written in the same transaction."""
    names = {"#media": "media", "#id": media_id, "#status": "status", "#cover": "cover_media_id"}
    values = {":id": media_id, ":draft": "draft", ":live": "live", ":now": now}
    expression = "SET updated_at = :now REMOVE #media.#id"
    condition = f"{_TAKES_MEDIA} AND attribute_exists(#media.#id)"
    if is_cover:
        expression += ", #cover"
        condition += " AND #cover = :id"
    else:
        condition += " AND (attribute_not_exists(#cover) OR #cover <> :id)"
    _update_media(
        campaign_id, expression, condition, names, values, "the campaign or its media changed; try again", audit
    )


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


def get_contributor(contributor_id: str) -> dict[str, Any] | None:
    """The marker of someone who ever pledged (first_pledge_at)."""
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_contributor_key(contributor_id)))
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def read_pledge_context(campaign_id: str, contributor_id: str, idempotency_scope: str, fund_id: str | None = None):
    """One read for a pledge: the campaign, the idempotency record of this key (or None),
    whether this contributor has pledged before, and the matching fund `fund_id` (or None)."""
    keys = [_campaign_key(campaign_id), _idempotency_key(idempotency_scope), _contributor_key(contributor_id)]
    items = _batch_get([*keys, _fund_key(fund_id)] if fund_id else keys)
    by_pk = {item["pk"]["S"].split("#", 1)[0]: _from_ddb(item) for item in items}
    return by_pk.get("CAMPAIGN"), by_pk.get("IDEMPOTENCY"), "CONTRIBUTOR" in by_pk, by_pk.get("FUND")


def _reward_stock(reward_id: str | None, limited: bool, delta: int) -> tuple[str, str, dict[str, str], dict[str, Any]]:
    """SET clause and condition moving a limited reward's stock by `delta`."""
    if not (reward_id and limited):
        return "", "", {}, {}
    names = {"#rw": "rewards", "#rid": reward_id, "#rem": "remaining"}
    stock = "#rw.#rid.#rem"
    condition = f" AND {stock} >= :unit" if delta < 0 else ""
    return f"SET {stock} = {stock} + :stock ", condition, names, {":stock": delta, ":unit": 1}


def _campaign_money(pledge: dict[str, Any], sign: int, now: str, top_up: Any = None) -> dict[str, Any]:
    """Move a campaign's totals (crowd, matched, raised = crowd + matched), pledge count and
    reward stock by one pledge, while it is live; with a `top_up` (chalicelib/matching.py),
    only while the campaign's matching cap and the crowd amount it was computed from hold."""
    stock_set, stock_condition, names, values = _reward_stock(pledge.get("reward_id"), pledge["reward_limited"], -sign)
    matched = pledge.get("matched_cents", 0)
    values = {
        **values,
        ":amount": sign * (pledge["amount_cents"] + matched),
        ":crowd": sign * pledge["amount_cents"],
        ":matched": sign * matched,
        ":count": sign,
        ":live": "live",
        ":now": now,
    }
    if not stock_condition:
        values.pop(":unit", None)
    matching_condition = ""
    if top_up is not None and top_up.cents > 0:
        values[":room"] = top_up.campaign_room
        matching_condition = " AND matched_cents <= :room"
        if top_up.crowd_seen:
            values[":crowd_seen"] = top_up.crowd_seen
            matching_condition += " AND crowd_cents >= :crowd_seen"
    return {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_campaign_key(pledge["campaign_id"])),
            "UpdateExpression": (
                f"{stock_set}ADD raised_cents :amount, crowd_cents :crowd, matched_cents :matched, pledge_count :count"
            ),
            "ConditionExpression": f"#status = :live AND ends_at >= :now{stock_condition}{matching_condition}",
            "ExpressionAttributeNames": {**names, "#status": "status"},
            "ExpressionAttributeValues": _to_ddb(values),
        }
    }


def record_pledge(
    pledge: dict[str, Any], idempotency: dict[str, Any], *, new_contributor: bool, now: str, top_up: Any = None
) -> None:
    """The pledge, its idempotency record, the campaign's totals and stock, the matching
    fund's reservation of its `top_up` (if any) and the platform counters, in one
    transaction. ConditionFailed.item says what refused it: "idempotency" (the key is
    taken), "contributor" (first pledge raced), "campaign" (no longer live, past its
    deadline, the reward sold out, or the campaign's matching cap or crowd amount moved),
    "fund" (its remaining budget or rule version moved, or it stayed busy)."""
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
        (_campaign_money(pledge, +1, now, top_up), "campaign"),
    ]
    matched = pledge.get("matched_cents", 0)
    if matched:
        items.append((_fund_reservation(top_up.fund_id, matched, rule_version=top_up.rule_version), "fund"))
    counters = {"raised_cents": pledge["amount_cents"] + matched, "matched_cents": matched, "pledge_count": 1}
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
    try:
        transact(items, "the pledge was refused")
    except ClientError as error:
        # A fund that stays busy after the retries must not cost the contributor the
        # pledge: the caller tries again without a top-up.
        codes = _cancellation_codes(error)
        names = [name for _, name in items]
        if "fund" in names and len(codes) == len(names) and codes[names.index("fund")] == "TransactionConflict":
            raise ConditionFailed("the matching fund is busy", "fund") from error
        raise


def get_pledge(pledge_id: str) -> dict[str, Any] | None:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_pledge_key(pledge_id)), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def cancel_pledge(pledge: dict[str, Any], now: str, cancellation_id: str) -> None:
    """Mark an active pledge cancelled and give back its amount and reward, and its top-up
    to its matching fund, in one transaction. ConditionFailed.item: "pledge" (not active
    any more: `cancellation_id` on the pledge tells whose cancellation it was) or
    "campaign" (no longer live)."""
    matched = pledge.get("matched_cents", 0)
    cancel = {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_pledge_key(pledge["id"])),
            "UpdateExpression": "SET #status = :cancelled, cancelled_at = :now, cancellation_id = :cid",
            "ConditionExpression": "#status = :active",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _to_ddb(
                {":cancelled": "cancelled", ":active": "active", ":now": now, ":cid": cancellation_id}
            ),
        }
    }
    counters = {"raised_cents": -(pledge["amount_cents"] + matched), "matched_cents": -matched, "pledge_count": -1}
    items = [
        (cancel, "pledge"),
        (_campaign_money(pledge, -1, now), "campaign"),
        (_counter_update(counters), "counters"),
    ]
    if matched:
        # The campaign is live (its condition above), so the fund still holds this reservation.
        items.append((_fund_reservation(pledge["matching_fund_id"], -matched), "fund"))
    transact(items, "the cancellation was refused")


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
    return _by_user(contributor_id, "PLEDGE", limit, cursor)


def get_campaigns(campaign_ids: set[str]) -> dict[str, dict[str, Any]]:
    if not campaign_ids:
        return {}
    items = _batch_get([_campaign_key(campaign_id) for campaign_id in sorted(campaign_ids)])
    return {campaign["id"]: campaign for campaign in map(_from_ddb, items)}


# --- matching funds (abondement: chalicelib/matching.py) ------------------------------------
#
#   matching fund        FUND#<id>                 FUND          - (rules and counters; no index
#                                                                attribute: the update of every matched
#                                                                pledge writes no index)
#   fund listing entry   FUND#<id>                 LISTING       status_pk "FUNDS"/status_sk <created_at>#<id>
#   closure record       FUND#<id>                 CLOSURE#<campaign id>   - (the public money of one
#                                                                closed campaign, written once)
#
# A fund keeps budget = reserved + spent + remaining: `remaining_cents` is stored because a
# condition cannot subtract, and `remaining_cents >= :top_up` guards every reservation. A
# matched campaign carries matching_fund_id, crowd_cents and matched_cents (its raised_cents
# is crowd + matched); a matched pledge its matched_cents, matching_fund_id and the
# matching_rule_version it was computed with.

FUNDS_PARTITION = "FUNDS"


def _fund_key(fund_id: str) -> dict[str, str]:
    return {"pk": f"FUND#{fund_id}", "sk": "FUND"}


def _fund_reservation(fund_id: str, cents: int, *, rule_version: int | None = None) -> dict[str, Any]:
    """Reserve `cents` (> 0) of a fund's remaining budget, under the rule version the
    top-up was computed with; or give `-cents` back (< 0)."""
    values: dict[str, Any] = {":reserved": cents, ":remaining": -cents}
    condition = "attribute_exists(pk)"
    if cents > 0:
        values.update({":top_up": cents, ":version": rule_version})
        condition = "remaining_cents >= :top_up AND rule_version = :version"
    return {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_fund_key(fund_id)),
            "UpdateExpression": "ADD reserved_cents :reserved, remaining_cents :remaining",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": _to_ddb(values),
        }
    }


def _with_audit(items: list[tuple[dict[str, Any], str]], audit: dict[str, Any] | None):
    return [*items, (audit_put(audit), "audit")] if audit else items


def create_fund(fund: dict[str, Any], audit: dict[str, Any] | None = None) -> None:
    listing = {
        **_fund_key(fund["id"]),
        "sk": "LISTING",
        "fund_id": fund["id"],
        "status_pk": FUNDS_PARTITION,
        "status_sk": f"{fund['created_at']}#{fund['id']}",
    }
    items = [
        (
            {
                "Put": {
                    "TableName": _table(),
                    "Item": _to_ddb({**fund, **_fund_key(fund["id"])}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            "fund",
        ),
        ({"Put": {"TableName": _table(), "Item": _to_ddb(listing)}}, "listing"),
    ]
    transact(_with_audit(items, audit), "a fund with this id exists")


def get_fund(fund_id: str) -> dict[str, Any] | None:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_fund_key(fund_id)), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def list_funds(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Funds, newest first: a Query of the listing entries, then one BatchGetItem of the
    funds themselves (their counters move with every matched pledge)."""
    entries, next_cursor = _query(
        "by_status", "status_pk = :p", {":p": FUNDS_PARTITION}, limit=limit, cursor=cursor, forward=False
    )
    if not entries:
        return [], next_cursor
    found = {fund["id"]: fund for fund in map(_from_ddb, _batch_get([_fund_key(e["fund_id"]) for e in entries]))}
    return [found[e["fund_id"]] for e in entries if e["fund_id"] in found], next_cursor


def update_fund(
    fund_id: str,
    changes: dict[str, Any],
    *,
    seen_version: int,
    budget_delta: int = 0,
    audit: dict[str, Any] | None = None,
) -> None:
    """Change a fund if its rule version is still `seen_version`; a budget cut only while
    its remaining budget covers the cut. ConditionFailed("fund") otherwise."""
    expression, names, values = _update_expression(changes, [], {})
    values[":seen"] = seen_version
    condition = "rule_version = :seen"
    if budget_delta:
        expression += " ADD remaining_cents :delta"
        values[":delta"] = budget_delta
        if budget_delta < 0:
            values[":cut"] = -budget_delta
            condition += " AND remaining_cents >= :cut"
    update = {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_fund_key(fund_id)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _to_ddb(values),
        }
    }
    transact(_with_audit([(update, "fund")], audit), "the fund changed meanwhile")


def attach_fund(campaign_id: str, fund: dict[str, Any], now: str, audit: dict[str, Any] | None = None) -> None:
    """Attach a fund to a submitted or live campaign that has none, if the fund's rules
    are still those its eligibility was checked with. ConditionFailed: "campaign" or "fund"."""
    campaign_update = {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_campaign_key(campaign_id)),
            "UpdateExpression": "SET matching_fund_id = :fund, matched_cents = if_not_exists(matched_cents, :zero), "
            "crowd_cents = if_not_exists(crowd_cents, :zero), updated_at = :now",
            "ConditionExpression": "#status IN (:submitted, :live) AND attribute_not_exists(matching_fund_id)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": _to_ddb(
                {":fund": fund["id"], ":zero": 0, ":now": now, ":submitted": "submitted", ":live": "live"}
            ),
        }
    }
    fund_update = {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_fund_key(fund["id"])),
            "UpdateExpression": "ADD campaign_count :one",
            "ConditionExpression": "rule_version = :version",
            "ExpressionAttributeValues": _to_ddb({":one": 1, ":version": fund["rule_version"]}),
        }
    }
    items = [(campaign_update, "campaign"), (fund_update, "fund")]
    transact(_with_audit(items, audit), "the campaign or the fund changed meanwhile")


def close_matching(campaign_id: str, record: dict[str, Any], now: str) -> bool:
    """Once per closed campaign: its reservation becomes spent (`record["spent_cents"]`)
    or goes back to the fund's remaining budget, with the record of it. True for the one
    caller that wrote it."""
    fund_id, matched, spent = record["fund_id"], record["matched_cents"], record["spent_cents"]
    put = {
        "Put": {
            "TableName": _table(),
            "Item": _to_ddb({**record, "pk": f"FUND#{fund_id}", "sk": f"CLOSURE#{campaign_id}"}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    fund_update = {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_fund_key(fund_id)),
            "UpdateExpression": "ADD reserved_cents :reserved, spent_cents :spent, remaining_cents :released",
            "ExpressionAttributeValues": _to_ddb(
                {":reserved": -matched, ":spent": spent, ":released": matched - spent}
            ),
        }
    }
    campaign_update = {
        "Update": {
            "TableName": _table(),
            "Key": _to_ddb(_campaign_key(campaign_id)),
            "UpdateExpression": "SET matching_closed_at = :now, matching_spent_cents = :spent",
            "ConditionExpression": "attribute_not_exists(matching_closed_at)",
            "ExpressionAttributeValues": _to_ddb({":now": now, ":spent": spent}),
        }
    }
    try:
        transact([(put, "record"), (fund_update, "fund"), (campaign_update, "campaign")], "already recorded")
        return True
    except ConditionFailed:
        return False


def get_matching_record(fund_id: str, campaign_id: str) -> dict[str, Any] | None:
    key = {"pk": f"FUND#{fund_id}", "sk": f"CLOSURE#{campaign_id}"}
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(key), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


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
    return conditional_update(
        {
            "TableName": _table(),
            "Key": _to_ddb(_campaign_key(campaign_id)),
            "UpdateExpression": "SET #a = :now",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#a)",
            "ExpressionAttributeNames": {"#a": attribute},
            "ExpressionAttributeValues": _to_ddb({":now": now}),
        }
    )


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
    return conditional_update(
        {
            "TableName": _table(),
            "Key": _to_ddb(_campaign_key(campaign_id)),
            "UpdateExpression": (
                "SET settled_at = :now REMOVE status_pk, status_sk, settlement_cursor, settlement_retry_pending"
            ),
            "ConditionExpression": "attribute_not_exists(settled_at)",
            "ExpressionAttributeValues": _to_ddb({":now": now}),
        }
    )


def _settlement_update(pledge: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """A pledge's settlement outcome, unless another run already settled it for good: only
    a pledge with no settlement, or with the failed attempt this run saw, moves."""
    expression, names, values = _update_expression(fields, [], {})
    values[":failed"] = "payment_failed"
    values[":seen"] = pledge.get("payment_attempts", 0)
    return {
        "TableName": _table(),
        "Key": _to_ddb(_pledge_key(pledge["id"])),
        "UpdateExpression": expression,
        "ConditionExpression": (
            "attribute_not_exists(settlement) OR "
            "(settlement = :failed AND (attribute_not_exists(payment_attempts) OR payment_attempts = :seen))"
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": _to_ddb(values),
    }


def record_settlement(pledge: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Write a pledge's settlement outcome; True when this call moved it."""
    return conditional_update(_settlement_update(pledge, fields))


SETTLEMENTS_PER_TRANSACTION = 100  # DynamoDB's limit of items in one TransactWriteItems


def record_settlements(outcomes: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[bool]:
    """Write pledges' outcomes, one transaction per 100 instead of one request each. If a
    condition fails (another run moved one of them), the transaction writes nothing and
    its pledges are written one by one. Answers which moved, in order."""
    moved: list[bool] = []
    for start in range(0, len(outcomes), SETTLEMENTS_PER_TRANSACTION):
        batch = outcomes[start : start + SETTLEMENTS_PER_TRANSACTION]
        if len(batch) > 1:
            try:
                transact([({"Update": _settlement_update(p, f)}, p["id"]) for p, f in batch], "a pledge moved")
                moved += [True] * len(batch)
                continue
            except ConditionFailed:
                pass
        moved += [record_settlement(p, f) for p, f in batch]
    return moved


def _payment_key(pledge_id: str) -> dict[str, str]:
    return {"pk": f"PAYMENT#{pledge_id}", "sk": "PAYMENT"}


def get_payment(pledge_id: str) -> dict[str, Any] | None:
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(_payment_key(pledge_id)), ConsistentRead=True)
    return _from_ddb(answer["Item"]) if "Item" in answer else None


def put_payment(pledge_id: str, state: dict[str, Any]) -> None:
    _dynamodb().put_item(TableName=_table(), Item=_to_ddb({**state, **_payment_key(pledge_id)}))


# --- audit trail (append-only: written once, never updated or deleted) ---------------------
#
#   audit entry          AUDIT#<id>                AUDIT         status_pk "AUDIT"/status_sk (all, by time),
#                                                                campaign_pk AUDIT#<campaign id>/created_at
#                                                                (one campaign's), user_pk/user_sk (its actor)
#
# In the item, `created_at` carries "<time>#<id>" so that entries of the same second keep
# their order in by_campaign; readers get the time alone back.

AUDIT_PARTITION = "AUDIT"


def _audit_item(entry: dict[str, Any]) -> dict[str, Any]:
    order = f"{entry['created_at']}#{entry['id']}"
    item = {
        **entry,
        "pk": f"AUDIT#{entry['id']}",
        "sk": "AUDIT",
        "status_pk": AUDIT_PARTITION,
        "status_sk": order,
        "user_pk": f"USER#{entry['actor_id']}",
        "user_sk": f"AUDIT#{order}",
    }
    if entry.get("campaign_id"):
        item.update(campaign_pk=f"AUDIT#{entry['campaign_id']}", created_at=order)
    return item


def audit_put(entry: dict[str, Any]) -> dict[str, Any]:
    """The transaction item that appends `entry` (refused if its id exists)."""
    return {
        "Put": {
            "TableName": _table(),
            "Item": _to_ddb(_audit_item(entry)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def append_audit(entry: dict[str, Any]) -> None:
    try:
        _dynamodb().put_item(**audit_put(entry)["Put"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise Conflict("an audit entry is never overwritten") from error
        raise


def _audit_entries(page: tuple[list[dict[str, Any]], str | None]) -> tuple[list[dict[str, Any]], str | None]:
    items, cursor = page
    entries = [{k: v for k, v in item.items() if k != "campaign_pk"} for item in items]
    for entry in entries:
        entry["created_at"] = entry["created_at"].split("#")[0]
    return entries, cursor


def list_audit(*, campaign_id: str | None, limit: int, cursor: str | None):
    """Audit entries, newest first: all of them, or one campaign's."""
    if campaign_id:
        query = ("by_campaign", "campaign_pk = :p", {":p": f"AUDIT#{campaign_id}"})
    else:
        query = ("by_status", "status_pk = :p", {":p": AUDIT_PARTITION})
    return _audit_entries(_query(*query, limit=limit, cursor=cursor, forward=False))


def list_audit_by_actor(actor_id: str, *, limit: int, cursor: str | None):
    return _audit_entries(_by_user(actor_id, "AUDIT", limit, cursor))


# --- campaign news and unsubscriptions ------------------------------------------------------
#
#   news post            CAMPAIGN#<id>             UPDATE#<created_at>#<news id>   -
#   unsubscription       CAMPAIGN#<id>             UNSUBSCRIBED#<sub>   user_pk/user_sk (the contributor)
#   signing secret       SECRET#<name>             SECRET        - (made once when no setting gives it)


def put_news(news: dict[str, Any], audit: dict[str, Any]) -> None:
    """A news post and its audit entry, in one transaction."""
    item = {**news, "pk": f"CAMPAIGN#{news['campaign_id']}", "sk": f"UPDATE#{news['created_at']}#{news['id']}"}
    put = {"Put": {"TableName": _table(), "Item": _to_ddb(item), "ConditionExpression": "attribute_not_exists(pk)"}}
    transact([(put, "news"), (audit_put(audit), "audit")], "this news post exists")


def list_news(campaign_id: str, *, public_only: bool, limit: int, cursor: str | None):
    """A campaign's news, newest first; `public_only` leaves out those for backers only."""
    return _query(
        None,
        "pk = :pk AND begins_with(sk, :kind)",
        {":pk": f"CAMPAIGN#{campaign_id}", ":kind": "UPDATE#", **({":no": False} if public_only else {})},
        limit=limit,
        cursor=cursor,
        forward=False,
        filter_expression="backers_only = :no" if public_only else None,
    )


def has_active_pledge(campaign_id: str, contributor_id: str) -> bool:
    """Whether this contributor backs this campaign: pages through their own pledges (a
    person's pledges are few), stopping at the first match."""
    request = {
        "TableName": _table(),
        "IndexName": "by_user",
        "KeyConditionExpression": "user_pk = :u AND begins_with(user_sk, :kind)",
        "FilterExpression": "campaign_id = :c AND #status = :active",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": _to_ddb(
            {":u": f"USER#{contributor_id}", ":kind": "PLEDGE#", ":c": campaign_id, ":active": "active"}
        ),
        "Limit": 100,
    }
    while True:
        answer = _dynamodb().query(**request)
        if answer.get("Items"):
            return True
        if "LastEvaluatedKey" not in answer:
            return False
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def unsubscribe(campaign_id: str, contributor_id: str, now: str) -> None:
    """Idempotent: the first date is kept."""
    _dynamodb().update_item(
        TableName=_table(),
        Key=_to_ddb({"pk": f"CAMPAIGN#{campaign_id}", "sk": f"UNSUBSCRIBED#{contributor_id}"}),
        UpdateExpression="SET unsubscribed_at = if_not_exists(unsubscribed_at, :now), campaign_id = :c, "
        "contributor_id = :u, user_pk = :upk, user_sk = :usk",
        ExpressionAttributeValues=_to_ddb(
            {
                ":now": now,
                ":c": campaign_id,
                ":u": contributor_id,
                ":upk": f"USER#{contributor_id}",
                ":usk": f"UNSUBSCRIBED#{campaign_id}",
            }
        ),
    )


def unsubscribed(campaign_id: str) -> set[str]:
    """Ids of the contributors who unsubscribed from this campaign's news."""
    values = {":pk": f"CAMPAIGN#{campaign_id}", ":kind": "UNSUBSCRIBED#"}
    return {item["contributor_id"] for item in every(_query, None, "pk = :pk AND begins_with(sk, :kind)", values)}


def list_unsubscriptions(contributor_id: str, *, limit: int, cursor: str | None):
    return _by_user(contributor_id, "UNSUBSCRIBED", limit, cursor)


def signing_secret(name: str, make: Any) -> str:
    """A secret kept in the table, made once by `make()` (the first writer wins)."""
    key = {"pk": f"SECRET#{name}", "sk": "SECRET"}
    answer = _dynamodb().get_item(TableName=_table(), Key=_to_ddb(key), ConsistentRead=True)
    if "Item" in answer:
        return _from_ddb(answer["Item"])["value"]
    try:
        value = make()
        _dynamodb().put_item(
            TableName=_table(),
            Item=_to_ddb({**key, "value": value}),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return value
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return signing_secret(name, make)


# --- closed campaigns: exports and open data -------------------------------------------------


def list_closed(*, since: str, until: str, limit: int, cursor: str | None, newest_first: bool = False):
    """Closed campaigns (succeeded, failed, cancelled) by closure time, between two times."""
    return _query(
        "by_closure",
        "closed_pk = :p AND closed_at BETWEEN :since AND :until",
        {":p": CLOSED_PARTITION, ":since": since, ":until": until},
        limit=limit,
        cursor=cursor,
        forward=not newest_first,
    )


# --- erasure of a person's identity (GDPR) --------------------------------------------------


def erase_owner(campaign_id: str, changes: dict[str, Any], rewards: dict[str, Any]) -> None:
    """Rewrite a campaign that is not live without its owner's identity (`changes`, and
    reward id -> reward); Conflict if it went live meanwhile."""
    expression, names, values = _update_expression(changes, [], {"rewards": rewards} if rewards else {})
    names["#status"], values[":live"] = "status", "live"
    request = {
        "TableName": _table(),
        "Key": _to_ddb(_campaign_key(campaign_id)),
        "UpdateExpression": expression,
        "ConditionExpression": "attribute_exists(pk) AND #status <> :live",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": _to_ddb(values),
    }
    if not conditional_update(request):
        raise Conflict("this campaign went live meanwhile: its owner's identity stays while it runs")


def rewrite_news(news: dict[str, Any], changes: dict[str, Any]) -> None:
    key = {"pk": f"CAMPAIGN#{news['campaign_id']}", "sk": f"UPDATE#{news['created_at']}#{news['id']}"}
    _rewrite(key, changes)


def rewrite_pledge_message(pledge_id: str, message: str) -> None:
    _rewrite(_pledge_key(pledge_id), {"message": message})


def _rewrite(key: dict[str, str], changes: dict[str, Any]) -> None:
    expression, names, values = _update_expression(changes, [], {})
    _dynamodb().update_item(
        TableName=_table(),
        Key=_to_ddb(key),
        UpdateExpression=expression,
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=_to_ddb(values),
    )


def erase_contributor(pledge_id: str, now: str) -> None:
    """The contributor's name, e-mail and message off a pledge; its amount stays."""
    _dynamodb().update_item(
        TableName=_table(),
        Key=_to_ddb(_pledge_key(pledge_id)),
        UpdateExpression="SET contributor_name = :empty, contributor_email = :empty, anonymous = :yes, "
        "identity_erased_at = :now REMOVE message",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues=_to_ddb({":empty": "", ":yes": True, ":now": now}),
    )
