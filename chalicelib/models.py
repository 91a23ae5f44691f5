"""Request and response shapes: the single source of validation and of the OpenAPI document.

Bounds that a stage configures (goal, duration, categories, territory) are checked by
validators that read the stage's Settings from the validation context.
"""

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
)

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


class CampaignPage(Answer):
    items: list[Campaign]
    next_cursor: str | None = Field(None, description="absent on the last page")


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
    matched_cents: int = Field(0, description="the matching fund's top-up of this pledge, counted in raised_cents")


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


# --- matching funds (abondement: chalicelib/matching.py) ------------------------------------

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
        known = _settings(info).categories
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


# --- accountability: news, audit trail, exports, open data, personal data -----------------


class NewsCreate(Model):
    title: Annotated[Text, Field(min_length=3, max_length=150)]
    body: Annotated[Text, Field(min_length=1, max_length=10000)]
    backers_only: StrictBool = Field(False, description="visible only to the owner, moderators and contributors")


class News(Answer):
    id: str
    campaign_id: str
    title: str
    body: str
    backers_only: bool
    created_at: datetime


class NewsPage(Answer):
    items: list[News]
    next_cursor: str | None = Field(None, description="absent on the last page")


class UnsubscribeQuery(Model):
    token: Annotated[str, Field(min_length=1, max_length=500)]


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


class AuditPage(Answer):
    items: list[AuditEntry]
    next_cursor: str | None = Field(None, description="absent on the last page")


class ExportQuery(Model):
    from_: date | None = Field(None, alias="from", description="first closure day (stage's time zone), inclusive")
    to: date | None = Field(None, description="last closure day (stage's time zone), inclusive")
    format: Literal["csv", "json"] = "csv"

    @field_validator("to")
    @classmethod
    def not_before_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("from_")
        if value is not None and start is not None and value < start:
            raise ValueError("must not be before from")
        return value


class ExportLine(Answer):
    campaign_id: str
    title: str
    owner_name: str
    commune: str
    postcode: str
    category: str
    goal_cents: int
    crowd_cents: int = Field(description="raised from contributors")
    collected_cents: int = Field(description="collected from contributors (succeeded campaigns)")
    matched_cents: int = Field(description="added by a matching fund")
    matching_fund_id: str | None = None
    matching_fund_name: str | None = None
    contributors: int = Field(description="distinct contributors")
    pledges: int
    outcome: Literal["succeeded", "failed", "cancelled"]
    closed_at: datetime


class ExportTotals(Answer):
    campaigns: int
    goal_cents: int
    crowd_cents: int
    collected_cents: int
    matched_cents: int
    contributors: int = Field(description="sum of the lines: a person who backed two campaigns counts twice")
    pledges: int


class ClosedCampaignsExport(Answer):
    from_date: date | None = None
    to_date: date | None = None
    items: list[ExportLine]
    totals: ExportTotals


class OpenDataCampaign(Answer):
    """A closed campaign, with no personal data: no owner, no contributor, no free text."""

    id: str
    title: str
    category: str
    commune: str
    postcode: str
    funding_model: FundingModel
    goal_cents: int
    raised_cents: int = Field(description="crowd + matched")
    crowd_cents: int = Field(description="pledged by contributors")
    matched_cents: int = Field(description="added by a matching fund of the département")
    pledge_count: int
    outcome: Literal["succeeded", "failed", "cancelled"]
    launched_at: datetime | None = None
    ends_at: datetime | None = None
    closed_at: datetime


class Licence(Answer):
    name: str
    url: str


class OpenDataPage(Answer):
    licence: Licence
    producer: str
    items: list[OpenDataCampaign]
    next_cursor: str | None = Field(None, description="absent on the last page")


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
