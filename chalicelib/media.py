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

from . import audit, clock, storage
from .adapters import media_store
from .errors import Conflict, Forbidden, NotFound, field_error
from .identity import Identity
from .records import Campaign, MediaEntry
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


def _bucket() -> str:
    return media_store.bucket()


def pending_key(campaign_id: str, media_id: str) -> str:
    return f"{PENDING}{campaign_id}/{media_id}"


def published_key(campaign_id: str, media_id: str) -> str:
    return f"{PUBLISHED}{campaign_id}/{media_id}"


def _delete(key: str) -> None:
    media_store.delete(key)


# --- rules -----------------------------------------------------------------------------


def _require_owner(campaign: Campaign, user: Identity) -> None:
    if user.sub != campaign.owner_id:
        raise Forbidden("only the campaign's owner may manage its media")


def _takes_media(campaign: Campaign, now: str) -> bool:
    return campaign.status == "draft" or (campaign.status == "live" and (campaign.ends_at or "") > now)


def _require_open(campaign: Campaign, now: str) -> None:
    if not _takes_media(campaign, now):
        state = "ended" if campaign.status == "live" else campaign.status
        raise Conflict(f"media can change only on a draft or live campaign; this one is {state}")


def _entry(campaign: Campaign, media_id: str) -> MediaEntry:
    entry = campaign.media_entry(media_id)
    if entry is None:
        raise NotFound(f"campaign {campaign.id} has no media {media_id}")
    return entry


def _check_room(campaign: Campaign, now: str) -> None:
    _require_open(campaign, now)
    limit = get_settings().media_max_count
    if len(campaign.media) >= limit:
        raise field_error("media", f"a campaign has at most {limit} media")


def check_cover(campaign: Campaign, media_id: str) -> None:
    """A cover must be one of the campaign's ready images."""
    entry = campaign.media_entry(media_id)
    if entry is None or entry.status != "ready" or entry.kind != "image":
        raise field_error("cover_media_id", "must be a ready image of this campaign")


# --- upload ----------------------------------------------------------------------------


def _drop_abandoned(campaign: Campaign, now: datetime) -> Campaign:
    """Free the slots of rejected entries and of uploads never made (best effort)."""
    cutoff = clock.iso(now - timedelta(seconds=get_settings().media_upload_seconds) - ABANDONED_AFTER)
    stale = {
        m.id: m.status
        for m in campaign.media
        if m.status == "rejected" or (m.status == "pending" and m.created_at < cutoff)
    }
    if not stale:
        return campaign
    try:
        storage.media.drop(campaign.id, stale)
    except Conflict:
        return campaign  # changed meanwhile: the count check below stays on the safe side
    return campaign._replace(media=tuple(m for m in campaign.media if m.id not in stale))


def _new_id() -> str:
    """32 hex digits that sort in creation order (within a second too): the gallery's order."""
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def _presigned_post(campaign_id: str, entry: MediaEntry) -> dict[str, Any]:
    post = media_store.presigned_post(
        pending_key(campaign_id, entry.id), entry.content_type, entry.size_bytes, get_settings().media_upload_seconds
    )
    expiration = json.loads(base64.b64decode(post["fields"]["policy"]))["expiration"]
    return {"url": post["url"], "fields": post["fields"], "expires_at": expiration}


def request_upload(campaign: Campaign, user: Identity, data: MediaRequest) -> dict[str, Any]:
    """A pending entry and where to upload its file: the answer as the owner sees it."""
    _require_owner(campaign, user)
    now = clock.now()
    _require_open(campaign, clock.iso(now))  # before any cleanup: a refused call writes nothing
    campaign = _drop_abandoned(campaign, now)
    _check_room(campaign, clock.iso(now))
    entry = MediaEntry(**data.model_dump(), id=_new_id(), status="pending", created_at=clock.iso(now))
    try:
        storage.media.add(campaign.id, entry, now=clock.iso(now), max_count=get_settings().media_max_count)
    except Conflict:
        # Say precisely why when we can (ended, full); else the storage's own detail.
        current = storage.campaigns.get(campaign.id)
        if current is not None:
            _check_room(current, clock.iso(now))
        raise
    shown = ("id", "kind", "content_type", "size_bytes", "filename", "status")
    return {**{name: getattr(entry, name) for name in shown}, "upload": _presigned_post(campaign.id, entry)}


# --- settling: the check, then publish or reject ----------------------------------------


def _inspect(key: str, entry: MediaEntry) -> tuple[str | None, str | None]:
    """Why the uploaded object is refused (None if it is good), and its ETag."""
    head = media_store.head(key)
    if head is None:
        return "no file was uploaded for this media", None
    if head.size != entry.size_bytes:
        return f"the file has {head.size} bytes, not the {entry.size_bytes} declared", None
    if head.content_type != entry.content_type:
        return f"the file was sent as {head.content_type or 'no type'}, not {entry.content_type}", None
    first = media_store.read_start(key, HEAD_BYTES, head.etag)
    if first is None:
        return "the file was replaced while it was checked; upload it again", None
    label, matches = SIGNATURES[entry.content_type]
    if not matches(first):
        return f"the file's content is not {label}", None
    return None, head.etag


def _current(campaign_id: str, media_id: str) -> MediaEntry | None:
    campaign = storage.campaigns.get(campaign_id)
    return campaign.media_entry(media_id) if campaign else None


def _reject(campaign_id: str, entry: MediaEntry, reason: str) -> MediaEntry | None:
    rejected = entry._replace(status="rejected", reason=reason)
    try:
        storage.media.replace(campaign_id, rejected, expected="pending")
    except Conflict:
        return _current(campaign_id, entry.id)  # settled (or removed) by the other caller
    _delete(pending_key(campaign_id, entry.id))
    logger.info("media %s of campaign %s rejected: %s", entry.id, campaign_id, reason)
    return rejected


def _publish(campaign_id: str, entry: MediaEntry, etag: str) -> MediaEntry | None:
    source, target = pending_key(campaign_id, entry.id), published_key(campaign_id, entry.id)
    # The copy is of the very object checked (AWS enforces the ETag; moto does not).
    if not media_store.copy_if_unchanged(source, target, etag):
        current = _current(campaign_id, entry.id)
        if current is not None and current.status != "pending":
            return current
        return _reject(campaign_id, entry, "the file was replaced while it was checked; upload it again")
    now = clock.iso(clock.now())
    ready = entry._replace(status="ready", key=target, ready_at=now)
    try:
        storage.media.replace(campaign_id, ready, expected="pending", now=now)
    except Conflict:
        current = _current(campaign_id, entry.id)
        if current is not None and current.status == "ready":
            return current  # the other caller published the same bytes
        _delete(target)
        if current is None:
            return None  # removed meanwhile
        return _reject(campaign_id, entry, "the campaign no longer takes media")
    _delete(source)
    return ready


def _settle(campaign_id: str, entry: MediaEntry) -> MediaEntry | None:
    """Check a pending entry's upload, then publish or reject it; answers the entry as
    it now is (None if it was removed meanwhile)."""
    reason, etag = _inspect(pending_key(campaign_id, entry.id), entry)
    if reason or etag is None:
        return _reject(campaign_id, entry, reason or "no file was uploaded for this media")
    return _publish(campaign_id, entry, etag)


def _reloaded(campaign_id: str) -> Campaign:
    campaign = storage.campaigns.get(campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def complete(campaign: Campaign, user: Identity, media_id: str) -> Campaign:
    _require_owner(campaign, user)
    entry: MediaEntry | None = _entry(campaign, media_id)
    if entry and entry.status == "pending":
        _require_open(campaign, clock.iso(clock.now()))
        entry = _settle(campaign.id, entry)
    if entry is None:
        raise NotFound(f"campaign {campaign.id} has no media {media_id}")
    if entry.status == "rejected":
        raise field_error("file", entry.reason or "rejected")
    return _reloaded(campaign.id)


def on_object_created(detail: dict[str, Any]) -> dict[str, Any]:
    """The S3 "Object Created" event's detail: settle the upload as complete would."""
    bucket, key = detail.get("bucket", {}).get("name"), detail.get("object", {}).get("key", "")
    match = PENDING_KEY.fullmatch(key)
    if bucket != _bucket() or match is None:
        return {"outcome": "ignored", "key": key}
    campaign_id, media_id = match.groups()
    campaign = storage.campaigns.get(campaign_id)
    entry = campaign.media_entry(media_id) if campaign else None
    if campaign is None or entry is None or entry.status != "pending":
        _delete(key)  # not awaited: abandoned, removed or uploaded again after settling
        return {"outcome": "discarded", "key": key}
    if not _takes_media(campaign, clock.iso(clock.now())):
        settled = _reject(campaign_id, entry, "the campaign no longer takes media")
    else:
        settled = _settle(campaign_id, entry)
    return {
        "outcome": settled.status if settled else "discarded",
        "key": key,
        "reason": settled.reason if settled else None,
    }


# --- removal and views -----------------------------------------------------------------


def remove(campaign: Campaign, user: Identity, media_id: str) -> Campaign:
    _require_owner(campaign, user)
    entry = _entry(campaign, media_id)
    now = clock.iso(clock.now())
    _require_open(campaign, now)
    is_cover = campaign.cover_media_id == media_id
    target = f"campaign/{campaign.id}/media/{media_id}"
    before = {k: v for k, v in entry._asdict().items() if v is not None}
    removed = audit.entry(user, "media_removed", target, before, None)
    storage.media.remove(campaign.id, media_id, now=now, is_cover=is_cover, entry=removed)
    for key in (published_key(campaign.id, media_id), pending_key(campaign.id, media_id)):
        _delete(key)
    return _reloaded(campaign.id)


def published(campaign: Campaign) -> list[dict[str, Any]]:
    """A campaign's ready media as answers show them, oldest first, each with its URL."""
    ready = sorted((m for m in campaign.media if m.status == "ready" and m.key), key=lambda m: (m.created_at, m.id))
    fields = ("id", "kind", "content_type", "size_bytes", "created_at")
    return [{**{name: getattr(m, name) for name in fields}, "url": media_store.public_url(m.key or "")} for m in ready]
