"""Request and response shapes: the single source of validation and of the OpenAPI document.

Bounds that a stage configures (goal, duration, categories, territory) are checked by
validators that read the stage's Settings from the validation context.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from .settings import Settings

Text = Annotated[str, Field(pattern=r"\S")]
Postcode = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["50000"])]
FundingModel = Literal["all_or_nothing", "keep_it_all"]
Status = Literal["draft", "submitted", "live", "succeeded", "failed", "cancelled"]


class Model(BaseModel):
    # defer_build: schemas are built on first use, not at import (cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True, str_strip_whitespace=True)


def _settings(info: ValidationInfo) -> Settings:
    return info.context["settings"]


def _between(value: int | None, low: int, high: int, unit: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"must be between {low} and {high} {unit}")
    return value


class NoNulls(Model):
    """Partial updates: an absent field is left alone, an explicit null is refused."""

    @field_validator("*", mode="before")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value


class CampaignFields(NoNulls):
    title: Annotated[Text, Field(min_length=3, max_length=120)] | None = None
    summary: Annotated[Text, Field(min_length=10, max_length=300)] | None = None
    description: Annotated[Text, Field(min_length=20, max_length=20000)] | None = None
    category: str | None = None
    postcode: Postcode | None = None
    commune: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    goal_cents: StrictInt | None = None
    funding_model: FundingModel | None = None
    duration_days: StrictInt | None = None

    @field_validator("category")
    @classmethod
    def known_category(cls, value: str | None, info: ValidationInfo) -> str | None:
        categories = _settings(info).categories
        if value is not None and value not in categories:
            raise ValueError(f"must be one of {', '.join(categories)}")
        return value

    @field_validator("postcode")
    @classmethod
    def on_territory(cls, value: str | None, info: ValidationInfo) -> str | None:
        settings = _settings(info)
        if value is not None and not value.startswith(settings.postcode_prefixes):
            raise ValueError(
                f"must be on the territory of {settings.territory_name} ({', '.join(settings.postcode_prefixes)}…)"
            )
        return value

    @field_validator("goal_cents")
    @classmethod
    def goal_within_bounds(cls, value: int | None, info: ValidationInfo) -> int | None:
        settings = _settings(info)
        return _between(value, settings.goal_min_cents, settings.goal_max_cents, "cents")

    @field_validator("duration_days")
    @classmethod
    def duration_within_bounds(cls, value: int | None, info: ValidationInfo) -> int | None:
        settings = _settings(info)
        return _between(value, settings.duration_min_days, settings.duration_max_days, "days")


class CampaignCreate(CampaignFields):
    title: Annotated[Text, Field(min_length=3, max_length=120)]
    summary: Annotated[Text, Field(min_length=10, max_length=300)]
    description: Annotated[Text, Field(min_length=20, max_length=20000)]
    category: str
    postcode: Postcode
    commune: Annotated[Text, Field(min_length=1, max_length=100)]
    goal_cents: StrictInt
    funding_model: FundingModel = "all_or_nothing"
    duration_days: StrictInt = 30


class CampaignPatch(CampaignFields):
    cover_media_id: Annotated[str, Field(max_length=64, description="a ready image of this campaign")] | None = None


class RewardFields(NoNulls):
    title: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    min_amount_cents: StrictInt | None = None
    quantity: Annotated[StrictInt, Field(ge=1, le=100000)] | None = None

    @field_validator("min_amount_cents")
    @classmethod
    def pledgeable(cls, value: int | None, info: ValidationInfo) -> int | None:
        settings = _settings(info)
        return _between(value, settings.pledge_min_cents, settings.pledge_max_cents, "cents")


class RewardCreate(RewardFields):
    title: Annotated[Text, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(max_length=1000)] = ""
    min_amount_cents: StrictInt


class RewardPatch(RewardFields):
    unlimited: StrictBool | None = Field(None, description="true removes the quantity limit")


class MediaRequest(Model):
    """An owner's request to upload one file; types and sizes per kind come from the stage."""

    kind: Literal["image", "video"]
    content_type: Annotated[str, Field(max_length=100, examples=["image/jpeg"])]
    size_bytes: StrictInt = Field(description="the file's exact size; the upload must match it")
    filename: Annotated[Text, Field(max_length=255, pattern=r"^[^\x00-\x1f/\\]+$")]

    @field_validator("content_type")
    @classmethod
    def allowed_type(cls, value: str, info: ValidationInfo) -> str:
        if "kind" not in info.data:
            return value  # the kind's own error says enough
        allowed = _settings(info).media_types(info.data["kind"])
        if value.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)} for the kind {info.data['kind']}")
        return value.lower()

    @field_validator("size_bytes")
    @classmethod
    def within_limit(cls, value: int, info: ValidationInfo) -> int:
        if "kind" not in info.data:
            return value
        return _between(value, 1, _settings(info).media_max_bytes(info.data["kind"]), "bytes")


class Rejection(Model):
    reason: Annotated[Text, Field(min_length=5, max_length=2000)]


# --- answers -------------------------------------------------------------------------


class Answer(BaseModel):
    # defer_build: each schema is built by the first answer that uses it, not at import;
    # building them all at import cost about 10 ms of the cold start (make bench).
    model_config = ConfigDict(defer_build=True)


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


class PresignedPost(Answer):
    url: str = Field(description="POST a multipart/form-data form here: these fields first, then `file`")
    fields: dict[str, str]
    expires_at: datetime


class MediaUpload(Answer):
    """A pending media: upload the file with `upload`, then call its `complete` action."""

    id: str
    kind: Literal["image", "video"]
    content_type: str
    size_bytes: int
    filename: str
    status: Literal["pending"]
    upload: PresignedPost


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
    raised_cents: int
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


class CampaignPage(Answer):
    items: list[Campaign]
    next_cursor: str | None = Field(None, description="absent on the last page")


class Stats(Answer):
    campaigns_by_status: dict[str, int]
    success_rate_percent: int | None = Field(description="succeeded / (succeeded + failed); null before any closure")
    total_raised_cents: int
    contributors: int


# --- query strings ---------------------------------------------------------------------


class PageQuery(Model):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=2000)] | None = None


class CampaignQuery(PageQuery):
    status: Literal["live", "succeeded", "failed", "cancelled"] | None = None
    category: Annotated[str, Field(max_length=40)] | None = None
    postcode: Annotated[str, Field(pattern=r"^[0-9]{1,5}$", description="a postcode or its first digits")] | None = None
    sort: Literal["newest", "ending_soon", "most_funded"] = "newest"


# --- pledges -----------------------------------------------------------------------------


class PledgeCreate(Model):
    amount_cents: StrictInt
    reward_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    anonymous: StrictBool = False
    message: Annotated[str, Field(max_length=500)] | None = None
    payment_token: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")] | None = Field(
        None, description="the payment provider's token for this contribution (sandbox: chalicelib/payments.py)"
    )

    @field_validator("amount_cents")
    @classmethod
    def amount_within_bounds(cls, value: int, info: ValidationInfo) -> int:
        settings = _settings(info)
        return _between(value, settings.pledge_min_cents, settings.pledge_max_cents, "cents")


class Pledge(Answer):
    """A pledge as its contributor sees it."""

    id: str
    campaign_id: str
    amount_cents: int
    reward_id: str | None = None
    anonymous: bool
    message: str | None = None
    status: Literal["active", "cancelled"]
    created_at: datetime
    cancelled_at: datetime | None = None


class CampaignSummary(Answer):
    id: str
    title: str
    status: Status


class MyPledge(Pledge):
    campaign: CampaignSummary


class MyPledgePage(Answer):
    items: list[MyPledge]
    next_cursor: str | None = Field(None, description="absent on the last page")


class Backer(Answer):
    """A pledge in a campaign's public backer list: never an e-mail or a contributor id."""

    display_name: str | None = Field(description="null when the contributor chose to stay anonymous")
    anonymous: bool
    message: str | None = None
    created_at: datetime


class BackerPage(Answer):
    items: list[Backer]
    next_cursor: str | None = Field(None, description="absent on the last page")
