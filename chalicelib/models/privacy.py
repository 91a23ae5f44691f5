"""Personal data, GDPR access and erasure (chalicelib/privacy.py)."""

from datetime import datetime
from typing import Any

from pydantic import Field

from .base import Answer


class MyData(Answer):
    """Every personal datum the platform holds about the caller."""

    profile: dict[str, Any] = Field(description="the identity claims this request was made with")
    identities_stored: list[dict[str, str]] = Field(description="names and e-mails kept on campaigns and pledges")
    campaigns: list[dict[str, Any]]
    media: list[dict[str, Any]]
    news: list[dict[str, Any]]
    pledges: list[dict[str, Any]]
    contributor_since: str | None = None
    unsubscriptions: list[dict[str, Any]]
    audit: list[dict[str, Any]] = Field(description="entries made by the caller or about their campaigns")


class Erasure(Answer):
    erased_at: datetime
    campaigns: int
    pledges: int
