"""Pledges (chalicelib/pledges.py): as their contributor sees them, and as a public backer list."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from .base import Answer, Model, Page, PledgeCents, Status


class PledgeCreate(Model):
    amount_cents: PledgeCents
    reward_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    anonymous: StrictBool = False
    message: Annotated[str, Field(max_length=500)] | None = None
    payment_token: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,100}$")] | None = Field(
        None, description="the payment provider's token for this contribution (sandbox: chalicelib/payments.py)"
    )


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


MyPledgePage = Page[MyPledge]


class Backer(Answer):
    """A pledge in a campaign's public backer list: never an e-mail or a contributor id."""

    display_name: str | None = Field(description="null when the contributor chose to stay anonymous")
    anonymous: bool
    message: str | None = None
    created_at: datetime


BackerPage = Page[Backer]
