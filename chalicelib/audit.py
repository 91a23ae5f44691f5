"""The audit trail: who changed what, when, with the values before and after.

Every moderator and owner action that changes state appends one entry: approve, reject,
cancel (campaigns.py), media removed (media.py), fund created or changed (matching
funds), data erased (privacy.py), and also submit and news posted. Entries are written
with a condition that they do not exist and no code updates or deletes them (the stage
policies grant no DeleteItem at all); GET /audit only reads.

An append-only log and the right to erasure meet here: entries name people by their
account id only, never by name or e-mail, and personal fields are left out of the
before/after values, so erasing someone's identity (privacy.py) leaves the log whole.
"""

import time
import uuid
from typing import Any

from . import clock, storage
from .errors import Forbidden
from .identity import Identity
from .records import AuditEntry

SYSTEM = "system"
# Fields that carry a name, an e-mail or a person's own words: never copied into the log.
PERSONAL_FIELDS = frozenset(
    {"owner_name", "owner_email", "contributor_name", "contributor_email", "message", "email", "filename"}
)


def _new_id() -> str:
    """Sorts in creation order, within a second too."""
    return f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}"


def _scrub(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {k: _scrub(v) if isinstance(v, dict) else v for k, v in values.items() if k not in PERSONAL_FIELDS}


def entry(
    actor: Identity | str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    campaign_id: str | None = None,
) -> AuditEntry:
    """An entry, not yet written: for code that writes it in its own transaction
    (storage.campaigns.transition(..., entry=...)). `target` names what changed: "campaign/<id>",
    "campaign/<id>/media/<media id>", "fund/<id>", "user/<sub>". An entry about a
    campaign is listed under it (GET /audit?campaign_id=): its id is read from a
    "campaign/…" target, or given as `campaign_id`."""
    if campaign_id is None and target.startswith("campaign/"):
        campaign_id = target.split("/")[1]
    return AuditEntry(
        id=_new_id(),
        created_at=clock.iso(clock.now()),
        action=action,
        actor_id=actor.sub if isinstance(actor, Identity) else actor,
        actor_moderator=isinstance(actor, Identity) and actor.is_moderator,
        target=target,
        before=_scrub(before),
        after=_scrub(after),
        campaign_id=campaign_id,
    )


def record(
    actor: Identity | str,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    *,
    campaign_id: str | None = None,
) -> AuditEntry:
    """Append an entry now (see `entry` for the arguments); answers it."""
    made = entry(actor, action, target, before, after, campaign_id=campaign_id)
    storage.audit.append(made)
    return made


def trail(
    viewer: Identity, *, campaign_id: str | None, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """GET /audit: newest first, all of it or one campaign's."""
    if not viewer.is_moderator:
        raise Forbidden("only moderators may read the audit trail")
    return storage.audit.list_entries(campaign_id=campaign_id, limit=limit, cursor=cursor)
