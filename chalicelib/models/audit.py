"""The audit trail of moderators' and owners' decisions (chalicelib/audit.py)."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from .base import Answer, Page, PageQuery


class AuditQuery(PageQuery):
    campaign_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class AuditActor(Answer):
    id: str = Field(description='the account id (never a name or an e-mail), or "system"')
    moderator: bool


class AuditEntry(Answer):
    id: str
    created_at: datetime
    action: str = Field(examples=["campaign_approved"])
    actor: AuditActor
    target: str = Field(examples=["campaign/0123…", "fund/…", "user/…"])
    campaign_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditPage(Page[AuditEntry]):  # named for the trail, not Page[AuditEntry]'s AuditEntryPage
    pass
