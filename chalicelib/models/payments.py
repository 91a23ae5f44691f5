"""Payments at the provider: its notifications, and the sandbox's hosted payment page."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from .base import Answer, Model


class ProviderNotification(Model):
    """A provider's notification, as Mangopay sends its hooks (docs.mangopay.com, "Hooks"):
    the event, the resource's id (sic) and the time. Nothing in it is trusted."""

    model_config = ConfigDict(extra="ignore")  # a provider may add parameters; none is read

    EventType: Annotated[str, Field(max_length=100)] | None = None
    RessourceId: Annotated[str, Field(max_length=100)] | None = None
    Date: Annotated[str, Field(max_length=20)] | None = None


class NotificationReceipt(Answer):
    handled: bool = Field(description="whether it named a payment of this platform, read again and applied")


class SandboxOutcome(Model):
    """The sandbox's hosted page: the payer pays, or the card is refused."""

    outcome: Literal["succeeded", "failed"]


class SandboxVerificationOutcome(Model):
    """The sandbox's hosted verification page: the owner's identity verified, or refused."""

    outcome: Literal["verified", "refused"]


class EscrowCheck(Answer):
    campaign_id: str
    campaign_title: str
    escrow_id: str
    provider_cents: int = Field(description="the escrow's balance at the payment provider")
    ledger_cents: int = Field(description="the sum of the campaign's ledger entries")
    difference_cents: int


class Reconciliation(Answer):
    """The latest daily reconciliation of the escrows against the ledger."""

    run_at: datetime | None = Field(description="null until the first run")
    escrows_checked: int
    differences: list[EscrowCheck] = Field(description="escrows whose balance is not the ledger's")
    unreadable: list[str] = Field(description="campaigns whose escrow the provider could not be asked about")
