"""Pledges (chalicelib/pledges.py): as their contributor sees them, and as a public backer list."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool

from .base import Answer, Model, Page, PlainText, PledgeCents, ReturnUrl, Status


class PledgeCreate(Model):
    amount_cents: PledgeCents
    reward_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    anonymous: StrictBool = False
    message: Annotated[PlainText, Field(max_length=500)] | None = None
    return_url: ReturnUrl | None = Field(
        None,
        description="where the payment provider sends the browser back after the payment: a page of a web "
        "origin allowed for the stage (default: the campaign's page on the site)",
    )


class PaymentPage(Answer):
    """Where the contributor pays a pending pledge: the provider's hosted page (3-D Secure)."""

    redirect_url: str = Field(description="send the browser here to pay")
    expires_at: datetime = Field(description="after this, the pledge expires and its reward unit is released")


class Pledge(Answer):
    """A pledge as its contributor sees it."""

    id: str
    campaign_id: str
    amount_cents: int
    reward_id: str | None = None
    anonymous: bool
    message: str | None = None
    status: Literal["pending_payment", "paid", "collected", "refunded", "payment_failed", "expired", "cancelled"]
    created_at: datetime
    paid_at: datetime | None = None
    refunded_at: datetime | None = None
    cancelled_at: datetime | None = None
    matched_cents: int = Field(0, description="the matching fund's top-up of this pledge, counted in raised_cents")
    payment: PaymentPage | None = Field(None, description="while the payment is pending")
    failure_reason: str | None = Field(None, description="why the payment failed or expired")


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
