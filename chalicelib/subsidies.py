"""Subsidies due (SPEC "Money (v2)"): a succeeded matched campaign's top-ups are public
money that the département's public accountant pays to the owner, outside the payment
provider. Moderators list them for the accountant (CSV or JSON: the beneficiary and their
SIREN or RNA, the campaign, the amount, the fund and its council decision) and mark each
paid with the payment mandate's reference, in the audit trail."""

from __future__ import annotations

import csv
import io
from typing import Any

from . import audit, clock, exports, storage
from .errors import Conflict, Forbidden, NotFound
from .identity import Identity
from .records import MatchingRecord, PayoutAccount


def _moderator(viewer: Identity) -> None:
    if not viewer.is_moderator:
        raise Forbidden("only moderators handle the subsidies due")


def _line(record: MatchingRecord, account: PayoutAccount | None) -> dict[str, Any]:
    return {
        "id": record.campaign_id,
        "beneficiary": account.name if account else None,
        "siren": account.siren if account else None,
        "rna": account.rna if account else None,
        "campaign_id": record.campaign_id,
        "campaign_title": record.campaign_title,
        "commune": record.commune,
        "amount_cents": record.spent_cents,
        "fund_id": record.fund_id,
        "fund_name": record.fund_name,
        "decision_ref": record.decision_ref,
        "closed_at": record.closed_at,
    }


def due(viewer: Identity) -> dict[str, Any]:
    """Every subsidy due and not paid yet, oldest closure first, with its total. A
    beneficiary without a payout account (a campaign approved before they existed) is
    null: the accountant asks the owner."""
    _moderator(viewer)
    records = list(storage.every(storage.funds.list_subsidies_due))
    accounts = storage.owners.get_many([r.owner_id for r in records if r.owner_id]) if records else {}
    items = [_line(record, accounts.get(record.owner_id)) for record in records]
    return {"items": items, "total_cents": sum(item["amount_cents"] for item in items)}


def as_csv(export: dict[str, Any]) -> str:
    """For a French spreadsheet, as the closed campaigns' export (exports.py)."""
    headings = ["Subvention", "Bénéficiaire", "SIREN", "RNA", "Campagne", "Titre", "Commune"]
    headings += ["Montant (€)", "Montant (centimes)", "Fonds", "Délibération", "Date de clôture"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headings)
    for line in export["items"]:
        texts = [exports.text(line[name]) for name in ("id", "beneficiary", "siren", "rna", "campaign_id")]
        texts += [exports.text(line[name]) for name in ("campaign_title", "commune")]
        amounts = [exports.euros(line["amount_cents"]), line["amount_cents"]]
        fund = [exports.text(line["fund_name"]), exports.text(line["decision_ref"]), exports.day(line["closed_at"])]
        writer.writerow([*texts, *amounts, *fund])
    total = exports.euros(export["total_cents"])
    writer.writerow(["TOTAL", "", "", "", "", "", "", total, export["total_cents"], "", "", ""])
    return "\ufeff" + out.getvalue()


def mark_paid(campaign_id: str, moderator: Identity, mandate_ref: str) -> dict[str, Any]:
    """The accountant paid a campaign's subsidy: recorded once, with the mandate."""
    _moderator(moderator)
    campaign = storage.campaigns.get(campaign_id)
    fund_id = campaign.matching_fund_id if campaign else None
    record = storage.funds.get_matching_record(fund_id, campaign_id) if fund_id else None
    if record is None or record.spent_cents <= 0:
        raise NotFound(f"no subsidy is due for campaign {campaign_id}")
    if record.paid_at:
        raise Conflict(f"this subsidy was marked paid on {record.paid_at} (mandate {record.mandate_ref})")
    now = clock.iso(clock.now())
    after = {"paid_at": now, "mandate_ref": mandate_ref, "amount_cents": record.spent_cents, "fund_id": fund_id}
    entry = audit.entry(moderator, "subsidy_paid", f"subsidy/{campaign_id}", {"paid_at": None}, after,
                        campaign_id=campaign_id)  # fmt: skip
    if not storage.funds.mark_subsidy_paid(record, mandate_ref, now, entry):
        raise Conflict("this subsidy was marked paid meanwhile")
    paid = record._replace(paid_at=now, mandate_ref=mandate_ref)
    return {**_line(paid, storage.owners.get(paid.owner_id)), "paid_at": now, "mandate_ref": mandate_ref}
