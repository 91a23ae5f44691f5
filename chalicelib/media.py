"""Project media: uploaded by owners straight to S3, checked, then served.

    request_upload   a pending entry in the campaign's map `media`, and a presigned POST
                     for pending/<campaign id>/<media id>: exact key, type and size, short expiry
    complete         (the owner's call) and on_object_created (S3 "Object Created" through
                     EventBridge, for clients that never call complete) both settle a pending
                     entry: the object must exist, have the declared size and type, and start
                     with that type's signature. Good: copied to media/<campaign id>/<media id>
                     and the entry is ready. Bad: deleted, and the entry rejected with why.
    remove           the entry, then its objects

File bodies never pass through the API. Settling is idempotent: whichever of the two
callers comes second finds the entry settled and changes nothing. The bucket's lifecycle
rule deletes what stays under pending/ for a day.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from . import audit, aws, clock, storage
from .errors import Conflict, Forbidden, NotFound, field_error
from .identity import Identity
from .settings import get_settings

if TYPE_CHECKING:  # the models load with their route (chalicelib/models), not with this module
    from .models.media import MediaRequest

logger = logging.getLogger("oze")

PENDING = "pending/"
PUBLISHED = "media/"
PENDING_KEY = re.compile(r"pending/([0-9a-f]{32})/([0-9a-f]{32})")
# What the EventBridge rule delivers (see app.py); the handler still checks the bucket.
UPLOAD_EVENTS = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {"bucket": {"name": [{"prefix": "oze-"}]}, "object": {"key": [{"prefix": PENDING}]}},
}
HEAD_BYTES = 32
# A pending entry this long past its upload's expiry was abandoned: its slot is freed.
ABANDONED_AFTER = timedelta(hours=1)
# ISO base media files that are not MP4 videos (HEIF/AVIF still images, QuickTime).
NOT_MP4_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis", b"qt  "}

SIGNATURES = {
    "image/jpeg": ("a JPEG image", lambda head: head.startswith(b"\xff\xd8\xff")),
    "image/png": ("a PNG image", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    "image/webp": ("a WebP image", lambda head: head[:4] == b"RIFF" and head[8:15] == b"WEBPVP8"),
    "video/mp4": ("an MP4 video", lambda head: head[4:8] == b"ftyp" and head[8:12] not in NOT_MP4_BRANDS),
}


def _s3():
    return aws.client("s3")


def _bucket() -> str:
    return get_settings().media_bucket


def pending_key(campaign_id: str, media_id: str) -> str:
    return f"{PENDING}{campaign_id}/{media_id}"


def published_key(campaign_id: str, media_id: str) -> str:
    return f"{PUBLISHED}{campaign_id}/{media_id}"


def _delete(key: str) -> None:
    _s3().delete_object(Bucket=_bucket(), Key=key)


def _error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


# --- rules -----------------------------------------------------------------------------


def _require_owner(campaign: dict[str, Any], user: Identity) -> None:
    if user.sub != campaign["owner_id"]:
        raise Forbidden("only the campaign's owner may manage its media")


def _takes_media(campaign: dict[str, Any], now: str) -> bool:
    return campaign["status"] == "draft" or (campaign["status"] == "live" and campaign["ends_at"] > now)


def _require_open(campaign: dict[str, Any], now: str) -> None:
    if not _takes_media(campaign, now):
        state = "ended" if campaign["status"] == "live" else campaign["status"]
        raise Conflict(f"media can change only on a draft or live campaign; this one is {state}")


def _entry(campaign: dict[str, Any], media_id: str) -> dict[str, Any]:
    entry = campaign["media"].get(media_id)
    if entry is None:
        raise NotFound(f"campaign {campaign['id']} has no media {media_id}")
    return entry


def _check_room(campaign: dict[str, Any], now: str) -> None:
    _require_open(campaign, now)
    limit = get_settings().media_max_count
    if len(campaign["media"]) >= limit:
        raise field_error("media", f"a campaign has at most {limit} media")


def check_cover(campaign: dict[str, Any], media_id: str) -> None:
    """A cover must be one of the campaign's ready images."""
    entry = campaign["media"].get(media_id)
    if entry is None or entry["status"] != "ready" or entry["kind"] != "image":
        raise field_error("cover_media_id", "must be a ready image of this campaign")


# --- upload ----------------------------------------------------------------------------


def _drop_abandoned(campaign: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Free the slots of rejected entries and of uploads never made (best effort)."""
    cutoff = clock.iso(now - timedelta(seconds=get_settings().media_upload_seconds) - ABANDONED_AFTER)
    stale = {
        media_id: entry["status"]
        for media_id, entry in campaign["media"].items()
        if entry["status"] == "rejected" or (entry["status"] == "pending" and entry["created_at"] < cutoff)
    }
    if not stale:
        return campaign
    try:
        storage.drop_media(campaign["id"], stale)
    except Conflict:
        return campaign  # changed meanwhile: the count check below stays on the safe side
    return {**campaign, "media": {k: v for k, v in campaign["media"].items() if k not in stale}}


def _new_id() -> str:
    """32 hex digits that sort in creation order (within a second too): the gallery's order."""
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def _presigned_post(campaign_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    content_type, size = entry["content_type"], entry["size_bytes"]
    post = _s3().generate_presigned_post(
        Bucket=_bucket(),
        Key=pending_key(campaign_id, entry["id"]),
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=get_settings().media_upload_seconds,
    )
    expiration = json.loads(base64.b64decode(post["fields"]["policy"]))["expiration"]
    return {"url": post["url"], "fields": post["fields"], "expires_at": expiration}


def request_upload(campaign: dict[str, Any], user: Identity, data: MediaRequest) -> dict[str, Any]:
    _require_owner(campaign, user)
    now = clock.now()
    _require_open(campaign, clock.iso(now))  # before any cleanup: a refused call writes nothing
    campaign = _drop_abandoned(campaign, now)
    _check_room(campaign, clock.iso(now))
    entry = {**data.model_dump(), "id": _new_id(), "status": "pending", "created_at": clock.iso(now)}
    settings = get_settings()
    try:
        storage.add_media(campaign["id"], entry, now=clock.iso(now), max_count=settings.media_max_count)
    except Conflict:
        # Say precisely why when we can (ended, full); else the storage's own detail.
        current = storage.get_campaign(campaign["id"])
        if current is not None:
            _check_room(current, clock.iso(now))
        raise
    return {**entry, "upload": _presigned_post(campaign["id"], entry)}


# --- settling: the check, then publish or reject ----------------------------------------


def _inspect(key: str, entry: dict[str, Any]) -> tuple[str | None, str | None]:
    """Why the uploaded object is refused (None if it is good), and its ETag."""
    try:
        head = _s3().head_object(Bucket=_bucket(), Key=key)
    except ClientError as error:
        if _error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return "no file was uploaded for this media", None
        raise
    if head["ContentLength"] != entry["size_bytes"]:
        return f"the file has {head['ContentLength']} bytes, not the {entry['size_bytes']} declared", None
    if head.get("ContentType") != entry["content_type"]:
        return f"the file was sent as {head.get('ContentType') or 'no type'}, not {entry['content_type']}", None
    try:
        first = (
            _s3()
            .get_object(Bucket=_bucket(), Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}", IfMatch=head["ETag"])["Body"]
            .read()
        )
    except ClientError as error:
        if _error_code(error) in ("412", "PreconditionFailed", "404", "NoSuchKey"):
            return "the file was replaced while it was checked; upload it again", None
        raise
    label, matches = SIGNATURES[entry["content_type"]]
    if not matches(first):
        return f"the file's content is not {label}", None
    return None, head["ETag"]


def _current(campaign_id: str, media_id: str) -> dict[str, Any] | None:
    campaign = storage.get_campaign(campaign_id)
    return campaign["media"].get(media_id) if campaign else None


def _reject(campaign_id: str, entry: dict[str, Any], reason: str) -> dict[str, Any] | None:
    rejected = {**entry, "status": "rejected", "reason": reason}
    try:
        storage.replace_media(campaign_id, rejected, expected="pending")
    except Conflict:
        return _current(campaign_id, entry["id"])  # settled (or removed) by the other caller
    _delete(pending_key(campaign_id, entry["id"]))
    logger.info("media %s of campaign %s rejected: %s", entry["id"], campaign_id, reason)
    return rejected


def _publish(campaign_id: str, entry: dict[str, Any], etag: str) -> dict[str, Any] | None:
    source, target = pending_key(campaign_id, entry["id"]), published_key(campaign_id, entry["id"])
    try:
        # The copy is of the very object checked (AWS enforces the ETag; moto does not).
        _s3().copy_object(
            Bucket=_bucket(), Key=target, CopySource={"Bucket": _bucket(), "Key": source}, CopySourceIfMatch=etag
        )
    except ClientError as error:
        if _error_code(error) not in ("412", "PreconditionFailed", "NoSuchKey"):
            raise
        current = _current(campaign_id, entry["id"])
        if current is not None and current["status"] != "pending":
            return current
        return _reject(campaign_id, entry, "the file was replaced while it was checked; upload it again")
    now = clock.iso(clock.now())
    ready = {**entry, "status": "ready", "key": target, "ready_at": now}
    try:
        storage.replace_media(campaign_id, ready, expected="pending", now=now)
    except Conflict:
        current = _current(campaign_id, entry["id"])
        if current is not None and current["status"] == "ready":
            return current  # the other caller published the same bytes
        _delete(target)
        if current is None:
            return None  # removed meanwhile
        return _reject(campaign_id, entry, "the campaign no longer takes media")
    _delete(source)
    return ready


def _settle(campaign_id: str, entry: dict[str, Any]) -> dict[str, Any] | None:
    """Check a pending entry's upload, then publish or reject it; answers the entry as
    it now is (None if it was removed meanwhile)."""
    reason, etag = _inspect(pending_key(campaign_id, entry["id"]), entry)
    if reason:
        return _reject(campaign_id, entry, reason)
    return _publish(campaign_id, entry, etag)


def complete(campaign: dict[str, Any], user: Identity, media_id: str) -> dict[str, Any]:
    _require_owner(campaign, user)
    entry = _entry(campaign, media_id)
    if entry["status"] == "pending":
        _require_open(campaign, clock.iso(clock.now()))
        entry = _settle(campaign["id"], entry)
    if entry is None:
        raise NotFound(f"campaign {campaign['id']} has no media {media_id}")
    if entry["status"] == "rejected":
        raise field_error("file", entry["reason"])
    return storage.get_campaign(campaign["id"])


def on_object_created(detail: dict[str, Any]) -> dict[str, Any]:
    """The S3 "Object Created" event's detail: settle the upload as complete would."""
    bucket, key = detail.get("bucket", {}).get("name"), detail.get("object", {}).get("key", "")
    match = PENDING_KEY.fullmatch(key)
    if bucket != _bucket() or match is None:
        return {"outcome": "ignored", "key": key}
    campaign_id, media_id = match.groups()
    campaign = storage.get_campaign(campaign_id)
    entry = campaign["media"].get(media_id) if campaign else None
    if entry is None or entry["status"] != "pending":
        _delete(key)  # not awaited: abandoned, removed or uploaded again after settling
        return {"outcome": "discarded", "key": key}
    if not _takes_media(campaign, clock.iso(clock.now())):
        entry = _reject(campaign_id, entry, "the campaign no longer takes media")
    else:
        entry = _settle(campaign_id, entry)
    return {"outcome": entry["status"] if entry else "discarded", "key": key, "reason": (entry or {}).get("reason")}


# --- removal and views -----------------------------------------------------------------


def remove(campaign: dict[str, Any], user: Identity, media_id: str) -> dict[str, Any]:
    _require_owner(campaign, user)
    entry = _entry(campaign, media_id)
    now = clock.iso(clock.now())
    _require_open(campaign, now)
    is_cover = campaign.get("cover_media_id") == media_id
    removed = audit.entry(user, "media_removed", f"campaign/{campaign['id']}/media/{media_id}", entry, None)
    storage.remove_media(campaign["id"], media_id, now=now, is_cover=is_cover, audit=removed)
    for key in (published_key(campaign["id"], media_id), pending_key(campaign["id"], media_id)):
        _delete(key)
    return storage.get_campaign(campaign["id"])


def _url(key: str) -> str:
    settings = get_settings()
    if settings.media_public_base_url:
        return f"{settings.media_public_base_url}/{key}"
    return _s3().generate_presigned_url(
        "get_object", Params={"Bucket": settings.media_bucket, "Key": key}, ExpiresIn=settings.media_url_seconds
    )


def published(campaign: dict[str, Any]) -> list[dict[str, Any]]:
    """A campaign's ready media as answers show them, oldest first, each with its URL."""
    ready = sorted(
        (m for m in campaign["media"].values() if m["status"] == "ready"), key=lambda m: (m["created_at"], m["id"])
    )
    fields = ("id", "kind", "content_type", "size_bytes", "created_at")
    return [{**{name: m[name] for name in fields}, "url": _url(m["key"])} for m in ready]
