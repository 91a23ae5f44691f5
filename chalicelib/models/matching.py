"""Matching funds, the département's abondement (chalicelib/matching.py)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StrictInt, ValidationInfo, field_validator

from .base import Answer, KnownCategories, Model, NoNulls, Page, Text

MAX_FUND_CENTS = 100_000_000_000  # 1 billion euros: beyond any département's budget line
FundCents = Annotated[StrictInt, Field(ge=1, le=MAX_FUND_CENTS)]
# A moment of the platform's life: far years (0039, 9999) cannot be stored as sortable
# text, or converted to UTC (year 1 at +01:00). Found by fuzzing (tests/system/test_fuzz.py).
Moment = Annotated[AwareDatetime, Field(ge=datetime(2000, 1, 1, tzinfo=UTC), lt=datetime(2100, 1, 1, tzinfo=UTC))]
PostcodePrefix = Annotated[str, Field(pattern=r"^[0-9]{1,5}$", examples=["50", "501"])]
# Each field's type, once: FundCreate requires them, a PATCH (FundFields) takes them optionally.
FundName = Annotated[Text, Field(min_length=3, max_length=150)]
DecisionRef = Annotated[
    Text,
    Field(
        min_length=1,
        max_length=100,
        description="the council decision that voted the fund",
        examples=["délibération CD-2026-045"],
    ),
]
MatchPercent = Annotated[
    StrictInt,
    Field(ge=1, le=1000, description="cents added per euro pledged: 100 is 1 € for 1 €, 50 is 0.50 € for 1 €"),
]
Categories = Annotated[
    list[str], Field(max_length=20, description="eligible categories; empty: all"), KnownCategories()
]
PostcodePrefixes = Annotated[
    list[PostcodePrefix], Field(max_length=50, description="eligible postcodes' beginnings; empty: all")
]
MinCrowdCents = Annotated[
    StrictInt,
    Field(ge=0, le=MAX_FUND_CENTS, description="a campaign's crowd money is matched only beyond this amount"),
]


class FundFields(NoNulls):
    """A fund's rules; in a PATCH, the fields given are changed (rule fields apply to the
    pledges made after the change: each top-up records its rule version)."""

    name: FundName | None = None
    decision_ref: DecisionRef | None = None
    budget_cents: FundCents | None = None
    match_percent: MatchPercent | None = None
    cap_per_pledge_cents: FundCents | None = None
    cap_per_campaign_cents: FundCents | None = None
    categories: Categories | None = None
    postcode_prefixes: PostcodePrefixes | None = None
    min_crowd_cents: MinCrowdCents | None = None
    opens_at: Moment | None = None
    closes_at: Moment | None = None


class FundCreate(FundFields):
    name: FundName
    decision_ref: DecisionRef
    budget_cents: FundCents
    match_percent: MatchPercent
    cap_per_pledge_cents: FundCents
    cap_per_campaign_cents: FundCents
    categories: Categories = []
    postcode_prefixes: PostcodePrefixes = []
    min_crowd_cents: MinCrowdCents = 0
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


MatchingFundPage = Page[MatchingFund]
