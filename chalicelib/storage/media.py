"""A campaign's media: entries of its map `media`, keyed by media id, each write
conditioned on the campaign still taking media (a draft, or live before its end)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Conflict
from ..records import AuditEntry, MediaEntry
from . import audit, dynamo, keys

_TAKES_MEDIA = "(#status = :draft OR (#status = :live AND ends_at > :now))"


def _takes_media(now: str) -> dict[str, Any]:
    return {":draft": "draft", ":live": "live", ":now": now}


def _write(
    campaign_id: str,
    expression: str,
    condition: str,
    names: Mapping[str, str],
    values: Mapping[str, Any],
    detail: str,
    entry: AuditEntry | None = None,
) -> None:
    request = dynamo.update(keys.campaign(campaign_id), expression, condition=condition, names=names, values=values)
    if entry:
        dynamo.transact([({"Update": request}, "campaign"), audit.put(entry)], detail)
    elif not dynamo.conditional_update(request):
        raise Conflict(detail)


def add(campaign_id: str, media: MediaEntry, *, now: str, max_count: int) -> None:
    """Add a pending entry, if the campaign takes media and has fewer than `max_count`."""
    _write(
        campaign_id,
        "SET #media.#id = :entry",
        f"{_TAKES_MEDIA} AND size(#media) < :max AND attribute_not_exists(#media.#id)",
        {"#media": "media", "#id": media.id, "#status": "status"},
        {":entry": dynamo.attributes(media), ":max": max_count, **_takes_media(now)},
        "the campaign no longer takes media, or has reached its number of media",
    )


def replace(campaign_id: str, media: MediaEntry, *, expected: str, now: str | None = None) -> None:
    """Replace an entry that is still `expected` (pending -> ready or rejected); with
    `now`, only while the campaign takes media."""
    condition = "#media.#id.#state = :expected"
    names = {"#media": "media", "#id": media.id, "#state": "status"}
    values: dict[str, Any] = {":entry": dynamo.attributes(media), ":expected": expected}
    expression = "SET #media.#id = :entry"
    if now:
        condition += f" AND {_TAKES_MEDIA}"
        names["#status"] = "status"
        values.update(_takes_media(now))
        expression += ", updated_at = :now"
    _write(campaign_id, expression, condition, names, values, f"the media is no longer {expected}")


def drop(campaign_id: str, expected: Mapping[str, str]) -> None:
    """Remove entries still in the given states (media id -> status): abandoned uploads."""
    names, values, removes, conditions = {"#media": "media", "#state": "status"}, {}, [], []
    for i, (media_id, status) in enumerate(expected.items()):
        names[f"#d{i}"], values[f":d{i}"] = media_id, status
        removes.append(f"#media.#d{i}")
        conditions.append(f"#media.#d{i}.#state = :d{i}")
    _write(campaign_id, "REMOVE " + ", ".join(removes), " AND ".join(conditions), names, values, "the media changed")


def remove(campaign_id: str, media_id: str, *, now: str, is_cover: bool, entry: AuditEntry | None = None) -> None:
    """Remove an entry while the campaign takes media; the cover goes with its image
    (the condition on the cover fails if it changed since it was read). The audit
    `entry` is written in the same transaction."""
    names = {"#media": "media", "#id": media_id, "#status": "status", "#cover": "cover_media_id"}
    values = {":id": media_id, **_takes_media(now)}
    expression = "SET updated_at = :now REMOVE #media.#id"
    condition = f"{_TAKES_MEDIA} AND attribute_exists(#media.#id)"
    if is_cover:
        expression += ", #cover"
        condition += " AND #cover = :id"
    else:
        condition += " AND (attribute_not_exists(#cover) OR #cover <> :id)"
    _write(campaign_id, expression, condition, names, values, "the campaign or its media changed; try again", entry)
