"""The accountant's export and the open data of closed campaigns (chalicelib/exports.py)."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from .base import Answer, Day, FundingModel, Model, Page, Text


class ExportQuery(Model):
    from_: Day | None = Field(None, alias="from", description="first closure day (stage's time zone), inclusive")
    to: Day | None = Field(None, description="last closure day (stage's time zone), inclusive")
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


class OpenData(Answer):
    licence: Licence
    producer: str


# A page of closed campaigns with its licence and producer, which come first in answers: the
# fields of the later base do.
class OpenDataPage(Page[OpenDataCampaign], OpenData):
    pass


class FormatQuery(Model):
    format: Literal["csv", "json"] = "csv"


class SubsidyDue(Answer):
    """A succeeded campaign's top-ups, due to its owner from the public accountant."""

    id: str = Field(description="the subsidy's id: its campaign's")
    beneficiary: str | None = Field(description="the owner, as their payout account names them (null: none)")
    siren: str | None = None
    rna: str | None = None
    campaign_id: str
    campaign_title: str
    commune: str
    amount_cents: int
    fund_id: str
    fund_name: str
    decision_ref: str = Field(description="the council decision that funds it")
    closed_at: datetime


class SubsidiesDue(Answer):
    items: list[SubsidyDue]
    total_cents: int


class SubsidyPayment(Model):
    mandate_ref: Annotated[Text, Field(min_length=1, max_length=100, description="the payment mandate's reference")]


class SubsidyPaid(SubsidyDue):
    paid_at: datetime
    mandate_ref: str
