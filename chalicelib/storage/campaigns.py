"""Campaigns: one item each, its rewards and media inside it (maps by id), so that one
GetItem serves a campaign page, one Query a list page, and a pledge moves stock and
totals of one item. A campaign's state decides the partitions it is listed in
(keys.PUBLIC_PARTITIONS, keys.WORK_PARTITIONS)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import Conflict
from ..records import CLOSED_STATES, AuditEntry, Campaign, MediaEntry, Reward
from . import audit, counters, dynamo, keys

Page = tuple[list[Campaign], str | None]


def from_item(item: Mapping[str, Any]) -> Campaign:
    rewards = tuple(dynamo.record(Reward, r) for r in item.get("rewards", {}).values())
    media = tuple(dynamo.record(MediaEntry, m) for m in item.get("media", {}).values())
    return dynamo.record(Campaign, item, rewards=rewards, media=media)


def _index_attributes(campaign: Campaign) -> tuple[dict[str, Any], list[str]]:
    """Index attributes to set and to remove for a campaign in its current state."""
    status = campaign.status
    values: dict[str, Any] = {}
    removed: list[str] = []
    work = keys.WORK_PARTITIONS.get(status)
    if status in CLOSED_STATES:
        work = (keys.SETTLING, keys.SETTLING_ORDER)  # until its pledges are settled
    if work:
        partition, order = work
        values["status_pk"], values["status_sk"] = partition, getattr(campaign, order)
    else:
        removed += ["status_pk", "status_sk"]
    if status in keys.PUBLIC_PARTITIONS:
        values["public_pk"] = keys.PUBLIC_PARTITIONS[status]
    else:
        removed.append("public_pk")
    if status in CLOSED_STATES:
        values["closed_pk"] = keys.CLOSED
    return values, removed


def create(campaign: Campaign) -> None:
    index_values, _ = _index_attributes(campaign)
    item = {
        **dynamo.attributes(campaign, leave_out=("rewards", "media")),
        "rewards": {r.id: dynamo.attributes(r) for r in campaign.rewards},
        "media": {m.id: dynamo.attributes(m) for m in campaign.media},
        **keys.campaign(campaign.id),
        **index_values,
        "user_pk": keys.user(campaign.owner_id),
        "user_sk": keys.user_item(keys.CAMPAIGN, campaign.created_at, campaign.id),
    }
    dynamo.transact(
        [(dynamo.put(item), "campaign"), counters.created(campaign.status)], "a campaign with this id exists"
    )


def get(campaign_id: str) -> Campaign | None:
    item = dynamo.get(keys.campaign(campaign_id))
    return from_item(item) if item else None


def get_many(campaign_ids: Iterable[str]) -> dict[str, Campaign]:
    wanted = sorted(set(campaign_ids))
    if not wanted:
        return {}
    found = (from_item(item) for _, item in dynamo.batch_get([keys.campaign(c) for c in wanted]))
    return {campaign.id: campaign for campaign in found}


def _update(
    campaign_id: str,
    expected_status: str,
    set_values: Mapping[str, Any],
    remove: Sequence[str] = (),
    map_entries: Mapping[str, Mapping[str, Any]] | None = None,
) -> dynamo.Item:
    expression, names, values = dynamo.update_expression(set_values, remove, map_entries)
    names["#status"], values[":expected"] = "status", expected_status
    return dynamo.update(
        keys.campaign(campaign_id), expression, condition="#status = :expected", names=names, values=values
    )


def update_draft(campaign_id: str, changes: Mapping[str, Any], rewards: Mapping[str, Reward | None] = {}) -> None:
    """Edit a campaign that must still be a draft when the write lands; `rewards` maps a
    reward id to the reward to store, or None to remove it."""
    entries = {"rewards": {k: dynamo.attributes(r) if r else None for k, r in rewards.items()}} if rewards else None
    if not dynamo.conditional_update(_update(campaign_id, "draft", changes, map_entries=entries)):
        raise Conflict("the campaign is no longer a draft")


def transition(
    campaign: Campaign,
    new_status: str,
    changes: Mapping[str, Any],
    remove: Sequence[str] = (),
    *,
    unchanged: Sequence[str] = (),
    entry: AuditEntry | None = None,
) -> Campaign:
    """Move a campaign from its current state to `new_status`, with the platform
    counters (and the audit `entry`, if any) in the same transaction; Conflict if its
    state (or any field named in `unchanged`) changed since it was read. Answers the
    campaign as it now is."""
    cleared: dict[str, Any] = {name: None for name in remove}
    after = campaign._replace(**changes, **cleared, status=new_status)
    index_values, index_removed = _index_attributes(after)
    request = _update(
        campaign.id,
        campaign.status,
        {**changes, "status": new_status, **index_values},
        [
            *remove,
            *index_removed,
        ],
    )
    for i, name in enumerate(unchanged):
        request["ConditionExpression"] += f" AND #u{i} = :u{i}"
        request["ExpressionAttributeNames"][f"#u{i}"] = name
        request["ExpressionAttributeValues"][f":u{i}"] = dynamo.serialize(getattr(campaign, name))
    items = [({"Update": request}, "campaign"), counters.transition(campaign, new_status)]
    dynamo.transact(audit.with_entry(items, entry), f"the campaign is no longer {campaign.status}")
    return after


def _page(page: tuple[list[dynamo.Item], str | None]) -> Page:
    items, cursor = page
    return [from_item(item) for item in items], cursor


def list_public(
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    now: str,
    status: str | None = None,
    category: str | None = None,
    postcode: str | None = None,
) -> Page:
    index, forward = keys.PUBLIC_SORTS[sort]
    partition = keys.PUBLIC_PARTITIONS[status or "live"]
    values: dict[str, Any] = {":p": partition}
    key_condition = "public_pk = :p"
    if sort == "ending_soon":
        key_condition += " AND ends_at >= :now"
        values[":now"] = now
    filters, names = [], {}
    for name, value in (("status", status if partition == keys.PUBLIC else None), ("category", category)):
        if value:
            names[f"#{name}"], values[f":{name}"] = name, value
            filters.append(f"#{name} = :{name}")
    if postcode:
        values[":postcode"] = postcode
        filters.append("begins_with(postcode, :postcode)")
    q = dynamo.Query(index, key_condition, values, " AND ".join(filters) or None, names or None, forward)
    return _page(dynamo.query(q, limit=limit, cursor=cursor))


def list_by_owner(owner_id: str, *, limit: int, cursor: str | None) -> Page:
    return _page(dynamo.query(dynamo.by_user(owner_id, keys.CAMPAIGN), limit=limit, cursor=cursor))


def list_submitted(*, limit: int, cursor: str | None) -> Page:
    """The moderation queue, by submission time."""
    return _page(
        dynamo.query(dynamo.Query(keys.BY_STATUS, "status_pk = :p", {":p": keys.SUBMITTED}), limit=limit, cursor=cursor)
    )


def list_due(*, before: str, limit: int, cursor: str | None) -> Page:
    """Live campaigns whose deadline is before `before`, soonest first."""
    q = dynamo.Query(keys.BY_STATUS, "status_pk = :p AND status_sk < :before", {":p": keys.LIVE, ":before": before})
    return _page(dynamo.query(q, limit=limit, cursor=cursor))


def list_to_remind(*, after: str, before: str, limit: int, cursor: str | None) -> Page:
    """Live campaigns ending between `after` and `before` whose owner was not reminded."""
    q = dynamo.Query(
        keys.BY_STATUS,
        "status_pk = :p AND status_sk BETWEEN :after AND :before",
        {":p": keys.LIVE, ":after": after, ":before": before},
        "attribute_not_exists(reminded_at)",
    )
    return _page(dynamo.query(q, limit=limit, cursor=cursor))


def mark_reminded(campaign_id: str, now: str) -> bool:
    """True for the one caller that marks the owner reminded (and so sends the mail)."""
    return flag(campaign_id, "reminded_at", now)


def flag(campaign_id: str, attribute: str, now: str) -> bool:
    """Set a bookkeeping `attribute` once; True for the one caller that set it."""
    return dynamo.conditional_update(
        dynamo.update(
            keys.campaign(campaign_id),
            "SET #a = :now",
            condition="attribute_exists(pk) AND attribute_not_exists(#a)",
            names={"#a": attribute},
            values={":now": now},
        )
    )


def set_escrow(campaign_id: str, escrow_id: str) -> None:
    """Keep the campaign's escrow at the provider (the same id however often it is opened)."""
    dynamo.write(
        dynamo.update(
            keys.campaign(campaign_id), "SET escrow_id = :e", condition="attribute_exists(pk)", values={":e": escrow_id}
        )
    )


def list_closed(*, since: str, until: str, limit: int, cursor: str | None, newest_first: bool = False) -> Page:
    """Closed campaigns (succeeded, failed, cancelled) by closure time, between two times."""
    q = dynamo.Query(
        keys.BY_CLOSURE,
        "closed_pk = :p AND closed_at BETWEEN :since AND :until",
        {":p": keys.CLOSED, ":since": since, ":until": until},
        forward=not newest_first,
    )
    return _page(dynamo.query(q, limit=limit, cursor=cursor))
