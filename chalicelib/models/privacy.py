"""Personal data, GDPR access and erasure (chalicelib/privacy.py).

Each list of GET /me/data has its own typed item: the fields of the platform's records,
so that nothing the storage keeps for itself (keys, checkpoints, claims) can reach it.
"""

from datetime import datetime

from pydantic import Field

from .audit import AuditEntry
from .base import Answer, FundingModel, Status
from .campaigns import Reward
from .owners import PayoutAccount


class Profile(Answer):
    id: str
    name: str
    email: str
    groups: list[str]


class StoredIdentity(Answer):
    name: str
    email: str


class MyReward(Reward):
    created_at: datetime


class MyCampaignData(Answer):
    """A campaign as stored, owner's identity included (its media are listed apart)."""

    id: str
    slug: str
    title: str
    summary: str
    description: str
    category: str
    postcode: str
    commune: str
    owner_id: str
    owner_name: str
    owner_email: str
    goal_cents: int
    funding_model: FundingModel
    duration_days: int
    status: Status
    raised_cents: int
    pledge_count: int
    matched_cents: int = 0
    rewards: list[MyReward] = []
    cover_media_id: str | None = None
    launched_at: datetime | None = None
    ends_at: datetime | None = None
    submitted_at: datetime | None = None
    rejection_reason: str | None = None
    cancelled_at: datetime | None = None
    closed_at: datetime | None = None
    matching_fund_id: str | None = None
    identity_erased_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class MyMedia(Answer):
    campaign_id: str
    id: str
    kind: str
    content_type: str
    size_bytes: int
    filename: str
    status: str
    created_at: datetime
    key: str | None = None
    ready_at: datetime | None = None
    reason: str | None = None


class MyNews(Answer):
    id: str
    campaign_id: str
    author_id: str
    title: str
    body: str
    backers_only: bool
    created_at: datetime


class MyPledgeData(Answer):
    """A pledge as stored, contributor's identity and payment included."""

    id: str
    campaign_id: str
    campaign_title: str
    contributor_id: str
    contributor_name: str
    contributor_email: str
    amount_cents: int
    status: str
    created_at: datetime
    anonymous: bool
    reward_id: str | None = None
    message: str | None = None
    matched_cents: int = 0
    matching_fund_id: str | None = None
    payment_id: str | None = Field(None, description="the payment's id at the payment provider")
    payment_expires_at: datetime | None = None
    failure_reason: str | None = None
    paid_at: datetime | None = None
    refund_id: str | None = Field(None, description="the refund's id at the payment provider")
    refunded_at: datetime | None = None
    collected_at: datetime | None = None
    cancelled_at: datetime | None = None
    identity_erased_at: datetime | None = None


class MyUnsubscription(Answer):
    campaign_id: str
    contributor_id: str
    unsubscribed_at: datetime


class MyData(Answer):
    """Every personal datum the platform holds about the caller."""

    profile: Profile = Field(description="the identity claims this request was made with")
    identities_stored: list[StoredIdentity] = Field(description="names and e-mails kept on campaigns and pledges")
    campaigns: list[MyCampaignData]
    media: list[MyMedia]
    news: list[MyNews]
    pledges: list[MyPledgeData]
    contributor_since: datetime | None = None
    unsubscriptions: list[MyUnsubscription]
    audit: list[AuditEntry] = Field(description="entries made by the caller or about their campaigns")
    payout_account: PayoutAccount | None = Field(description="what the platform keeps of their payout account")
    payment_provider: str = Field(description="what the payment provider keeps, and for how long")


class Erasure(Answer):
    erased_at: datetime
    campaigns: int
    pledges: int
