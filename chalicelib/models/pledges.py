"""Pledges (chalicelib/pledges.py): as their contributor sees them, and as a public backer list."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, ValidationInfo, field_validator

from .base import Answer, Model, Status, stage_settings, within


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
        settings = stage_settings(info)
        return within(value, settings.pledge_min_cents, settings.pledge_max_cents, "cents")


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
