"""A succeeded campaign's payout to its owner (chalicelib/payouts.py)."""

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import Answer


class Payout(Answer):
    campaign_id: str
    collected_cents: int = Field(description="the campaign's escrow: every collected pledge (top-ups apart)")
    commission_cents: int = Field(description="the platform's commission, kept at the payment provider")
    amount_cents: int = Field(description="what the owner receives: collected less commission")
    status: Literal["waiting", "in_progress", "paid", "failed"] = Field(
        description="waiting: for the owner's verified identity and active bank account; failed: the bank "
        "refused it (tried again once the owner registers another bank account)"
    )
    failure_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None = None
