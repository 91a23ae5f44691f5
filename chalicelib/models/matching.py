"""Matching funds, the département's abondement (chalicelib/matching.py)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StrictInt, ValidationInfo, field_validator

from .base import Answer, Model, NoNulls, Text, stage_settings

MAX_FUND_CENTS = 100_000_000_000  # 1 billion euros: beyond any département's budget line
FundCents = Annotated[StrictInt, Field(ge=1, le=MAX_FUND_CENTS)]
# A moment of the platform's life: far years (0039, 9999) cannot be stored as sortable
# text, or converted to UTC (year 1 at +01:00). Found by fuzzing (tests/test_fuzz.py).
Moment = Annotated[AwareDatetime, Field(ge=datetime(2000, 1, 1, tzinfo=UTC), lt=datetime(2100, 1, 1, tzinfo=UTC))]
PostcodePrefix = Annotated[str, Field(pattern=r"^[0-9]{1,5}$", examples=["50", "501"])]


class FundFields(NoNulls):
    """A fund's rules; in a PATCH, the fields given are changed (rule fields apply to the
    pledges made after the change: each top-up records its rule version)."""

    name: Annotated[Text, Field(min_length=3, max_length=150)] | None = None
    decision_ref: Annotated[Text, Field(min_length=1, max_length=100)] | None = Field(
        None, description="the council decision that voted the fund", examples=["délibération CD-2026-045"]
    )
    budget_cents: FundCents | None = None
    match_percent: Annotated[StrictInt, Field(ge=1, le=1000)] | None = Field(
        None, description="cents added per euro pledged: 100 is 1 € for 1 €, 50 is 0.50 € for 1 €"
    )
    cap_per_pledge_cents: FundCents | None = None
    cap_per_campaign_cents: FundCents | None = None
    categories: Annotated[list[str], Field(max_length=20)] | None = Field(
        None, description="eligible categories; empty: all"
    )
    postcode_prefixes: Annotated[list[PostcodePrefix], Field(max_length=50)] | None = Field(
        None, description="eligible postcodes' beginnings; empty: all"
    )
    min_crowd_cents: Annotated[StrictInt, Field(ge=0, le=MAX_FUND_CENTS)] | None = Field(
        None, description="a campaign's crowd money is matched only beyond this amount"
    )
    opens_at: Moment | None = None
    closes_at: Moment | None = None

    @field_validator("categories")
    @classmethod
    def known_categories(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        known = stage_settings(info).categories
        unknown = [c for c in value or [] if c not in known]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; categories are {', '.join(known)}")
        return value


class FundCreate(FundFields):
    name: Annotated[Text, Field(min_length=3, max_length=150)]
    decision_ref: Annotated[Text, Field(min_length=1, max_length=100)]
    budget_cents: FundCents
    match_percent: Annotated[StrictInt, Field(ge=1, le=1000)]
    cap_per_pledge_cents: FundCents
    cap_per_campaign_cents: FundCents
    categories: Annotated[list[str], Field(max_length=20)] = []
    postcode_prefixes: Annotated[list[PostcodePrefix], Field(max_length=50)] = []
    min_crowd_cents: Annotated[StrictInt, Field(ge=0, le=MAX_FUND_CENTS)] = 0
    opens_at: Moment
    closes_at: Moment

    @field_validator("closes_at")
    @classmethod
    def after_opening(cls, value: datetime, info: ValidationInfo) -> datetime:
        opens_at = info.data.get("opens_at")
        if opens_at is not None and value <= opens_at:
            raise ValueError("must be after opens_at")
        return value


class MatchingRequest(Model):
    fund_id: Annotated[str, Field(min_length=1, max_length=64)]


class MatchingFund(Answer):
    """A fund with its public money: budget = reserved + spent + remaining."""

    id: str
    name: str
    decision_ref: str
    budget_cents: int
    reserved_cents: int = Field(description="topped up on pledges of campaigns still running")
    spent_cents: int = Field(description="topped up on succeeded campaigns")
    remaining_cents: int
    match_percent: int
    cap_per_pledge_cents: int
    cap_per_campaign_cents: int
    categories: list[str]
    postcode_prefixes: list[str]
    min_crowd_cents: int
    opens_at: datetime
    closes_at: datetime
    rule_version: int = Field(description="goes up with each change of the rules; each top-up records its own")
    campaign_count: int = Field(0, description="campaigns attached")
    created_at: datetime
    updated_at: datetime


class MatchingFundPage(Answer):
    items: list[MatchingFund]
    next_cursor: str | None = Field(None, description="absent on the last page")
