"""Campaigns and their rewards (chalicelib/campaigns.py): drafts, moderation, public pages, figures."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from .base import (
    Answer,
    Category,
    FundingModel,
    Model,
    NoNulls,
    Page,
    PageQuery,
    PlainText,
    PledgeCents,
    StageBound,
    Status,
    TerritoryPostcode,
    Text,
)

# Each field's type, once: the create models require them, the patch models take them optionally.
Title = Annotated[Text, Field(min_length=3, max_length=120)]
Summary = Annotated[Text, Field(min_length=10, max_length=300)]
Description = Annotated[Text, Field(min_length=20, max_length=20000)]
Commune = Annotated[Text, Field(min_length=1, max_length=100)]
GoalCents = Annotated[StrictInt, StageBound("goal_min_cents", "goal_max_cents", "cents")]
DurationDays = Annotated[StrictInt, StageBound("duration_min_days", "duration_max_days", "days")]
RewardTitle = Annotated[Text, Field(min_length=1, max_length=100)]
RewardDescription = Annotated[PlainText, Field(max_length=1000)]
Quantity = Annotated[StrictInt, Field(ge=1, le=100000)]


class CampaignFields(NoNulls):
    title: Title | None = None
    summary: Summary | None = None
    description: Description | None = None
    category: Category | None = None
    postcode: TerritoryPostcode | None = None
    commune: Commune | None = None
    goal_cents: GoalCents | None = None
    funding_model: FundingModel | None = None
    duration_days: DurationDays | None = None


class CampaignCreate(CampaignFields):
    title: Title
    summary: Summary
    description: Description
    category: Category
    postcode: TerritoryPostcode
    commune: Commune
    goal_cents: GoalCents
    funding_model: FundingModel = "all_or_nothing"
    duration_days: DurationDays = 30


class CampaignPatch(CampaignFields):
    cover_media_id: Annotated[str, Field(max_length=64, description="a ready image of this campaign")] | None = None


class RewardFields(NoNulls):
    title: RewardTitle | None = None
    description: RewardDescription | None = None
    min_amount_cents: PledgeCents | None = None
    quantity: Quantity | None = None


class RewardCreate(RewardFields):
    title: RewardTitle
    description: RewardDescription = ""
    min_amount_cents: PledgeCents


class RewardPatch(RewardFields):
    unlimited: StrictBool | None = Field(None, description="true removes the quantity limit")


class Rejection(Model):
    reason: Annotated[Text, Field(min_length=5, max_length=2000)]


class CampaignQuery(PageQuery):
    status: Literal["live", "succeeded", "failed", "cancelled"] | None = None
    category: Annotated[str, Field(max_length=40)] | None = None
    postcode: Annotated[str, Field(pattern=r"^[0-9]{1,5}$", description="a postcode or its first digits")] | None = None
    sort: Literal["newest", "ending_soon", "most_funded"] = "newest"


class Owner(Answer):
    id: str
    display_name: str


class Reward(Answer):
    id: str
    title: str
    description: str
    min_amount_cents: int
    quantity: int | None = None
    remaining: int | None = None


class Media(Answer):
    id: str
    kind: Literal["image", "video"]
    content_type: str
    url: str = Field(description="a presigned GET URL with an expiry, or the stage's public media URL")
    size_bytes: int
    created_at: datetime


class Campaign(BaseModel):
    model_config = ConfigDict(defer_build=True)

    id: str
    slug: str
    title: str
    summary: str
    description: str
    category: str
    postcode: str
    commune: str
    owner: Owner
    goal_cents: int
    funding_model: FundingModel
    duration_days: int
    status: Status
    raised_cents: int = Field(description="crowd_cents + matched_cents: what counts toward the goal")
    crowd_cents: int = Field(0, description="pledged by contributors")
    matched_cents: int = Field(0, description="added by the matching fund (abondement du Département)")
    matching_fund_id: str | None = Field(None, description="the matching fund attached to this campaign")
    pledge_count: int
    percent_funded: int = Field(description="raised / goal in whole percent, rounded down; may exceed 100")
    launched_at: datetime | None = None
    ends_at: datetime | None = None
    submitted_at: datetime | None = None
    cancelled_at: datetime | None = None
    rejection_reason: str | None = Field(None, description="the moderator's reason, shown to the owner and moderators")
    rewards: list[Reward]
    media: list[Media]
    cover_media_id: str | None = Field(None, description="one of `media`, an image")
    created_at: datetime
    updated_at: datetime


CampaignPage = Page[Campaign]


class QueuedCampaign(Campaign):
    """A submitted campaign as the moderators see it in their queue."""

    owner_payout_account: Literal["verification_pending", "verified", "refused"] | None = Field(
        description="the state of its owner's payout account; null: none yet (approval needs one)"
    )


QueuedCampaignPage = Page[QueuedCampaign]


class Stats(Answer):
    campaigns_by_status: dict[str, int]
    success_rate_percent: int | None = Field(description="succeeded / (succeeded + failed); null before any closure")
    total_raised_cents: int
    contributors: int
    by_category: dict[str, "AreaFigures"] = Field(default_factory=dict, description="public campaigns by category")
    by_commune: dict[str, "AreaFigures"] = Field(default_factory=dict, description="public campaigns by commune")


class AreaFigures(Answer):
    """Public campaigns of one category or commune, by state, and what the succeeded raised."""

    live: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    succeeded_raised_cents: int = 0
