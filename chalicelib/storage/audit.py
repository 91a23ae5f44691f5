"""The audit trail: append-only entries, written once, never updated or deleted.

In the item, `created_at` carries "<time>#<id>" so that entries of the same second keep
their order in by_campaign; records get the time alone back.
"""

from __future__ import annotations

from ..errors import Conflict
from ..records import AuditEntry
from . import dynamo, keys


def _item(entry: AuditEntry) -> dynamo.Item:
    order = keys.ordered(entry.created_at, entry.id)
    item = {
        **dynamo.attributes(entry),
        **keys.audit(entry.id),
        "status_pk": keys.AUDIT,
        "status_sk": order,
        "user_pk": keys.user(entry.actor_id),
        "user_sk": keys.user_item(keys.AUDIT, order),
    }
    if entry.campaign_id:
        item.update(campaign_pk=keys.audit_campaign(entry.campaign_id), created_at=order)
    return item


def _entry(item: dynamo.Item) -> AuditEntry:
    return dynamo.record(AuditEntry, item, created_at=keys.time_of(item["created_at"]))


def put(entry: AuditEntry) -> dynamo.TransactionItem:
    """The transaction item that appends `entry` (refused if its id exists)."""
    return dynamo.put(_item(entry)), "audit"


def with_entry(items: list[dynamo.TransactionItem], entry: AuditEntry | None) -> list[dynamo.TransactionItem]:
    return [*items, put(entry)] if entry else items


def append(entry: AuditEntry) -> None:
    if not dynamo.conditional_put(put(entry)[0]["Put"]):
        raise Conflict("an audit entry is never overwritten")


def _page(page: tuple[list[dynamo.Item], str | None]) -> tuple[list[AuditEntry], str | None]:
    items, cursor = page
    return [_entry(item) for item in items], cursor


def list_entries(*, campaign_id: str | None, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
    """Audit entries, newest first: all of them, or one campaign's."""
    if campaign_id:
        q = dynamo.Query(keys.BY_CAMPAIGN, "campaign_pk = :p", {":p": keys.audit_campaign(campaign_id)}, forward=False)
    else:
        q = dynamo.Query(keys.BY_STATUS, "status_pk = :p", {":p": keys.AUDIT}, forward=False)
    return _page(dynamo.query(q, limit=limit, cursor=cursor))


def list_by_actor(actor_id: str, *, limit: int, cursor: str | None) -> tuple[list[AuditEntry], str | None]:
    return _page(dynamo.query(dynamo.by_user(actor_id, keys.AUDIT), limit=limit, cursor=cursor))
