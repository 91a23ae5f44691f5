"""What the département publishes and hands its accountant about closed campaigns.

- The accountant's export (moderators): one line per campaign closed between two days
  (succeeded, failed or cancelled), with a totals line; JSON, or CSV made for a French
  spreadsheet: UTF-8 with a BOM, `;` between cells, euro amounts with a decimal comma
  next to the same amounts in integer cents, dates as dd/mm/yyyy.
- Open data (anyone): the same campaigns with nothing personal (no owner, contributor or
  free text), under the Licence Ouverte / Open Licence 2.0 of Etalab.

Both read the by_closure index: closed campaigns stay in it for good.
"""

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from . import clock, storage
from .errors import Forbidden
from .identity import Identity
from .records import Campaign, Fund
from .settings import get_settings

CSV = "text/csv; charset=utf-8"
EARLIEST, LATEST = "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"
LICENCE = {
    "name": "Licence Ouverte / Open Licence version 2.0 (Etalab)",
    "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
}
OUTCOMES_FR = {"succeeded": "réussie", "failed": "non financée", "cancelled": "annulée"}
# (heading, field of a line, how the cell shows it)
AMOUNTS = (
    ("Objectif", "goal_cents"),
    ("Montant participatif", "crowd_cents"),
    ("Montant prélevé", "collected_cents"),
    ("Abondement", "matched_cents"),
)
TOTALLED = ("goal_cents", "crowd_cents", "collected_cents", "matched_cents", "contributors", "pledges")
# A cell starting with one of these is a formula to a spreadsheet: shown as text instead.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _bounds(start: date | None, end: date | None) -> tuple[str, str]:
    """Closure days in the stage's time zone, inclusive, as UTC times."""
    zone = ZoneInfo(get_settings().timezone)
    since = clock.iso(datetime.combine(start, time.min, zone)) if start else EARLIEST
    if not end:
        return since, LATEST
    return since, clock.iso(datetime.combine(end + timedelta(days=1), time.min, zone) - timedelta(seconds=1))


def _fund_name(campaign: Campaign, funds: dict[str, Fund | None]) -> str | None:
    """The name of a campaign's matching fund (funds: a cache of those read)."""
    fund_id = campaign.matching_fund_id
    if not fund_id:
        return None
    if fund_id not in funds:
        funds[fund_id] = storage.funds.get(fund_id)
    fund = funds[fund_id]
    return fund.name if fund else None


def _line(campaign: Campaign, funds: dict[str, Fund | None]) -> dict[str, Any]:
    """A campaign's line; its pledges give the distinct contributors and what was collected."""
    contributors, pledges, collected = set(), 0, 0
    for pledge in storage.every(storage.pledges.list_for_campaign, campaign.id, counted_only=False):
        if not pledge.backs:
            continue
        contributors.add(pledge.contributor_id)
        pledges += 1
        if pledge.status == "collected":
            collected += pledge.amount_cents
    return {
        "campaign_id": campaign.id,
        "title": campaign.title,
        "owner_name": campaign.owner_name,
        "commune": campaign.commune,
        "postcode": campaign.postcode,
        "category": campaign.category,
        "goal_cents": campaign.goal_cents,
        "crowd_cents": campaign.crowd_cents,
        "collected_cents": collected,
        "matched_cents": campaign.matched_cents,
        "matching_fund_id": campaign.matching_fund_id,
        "matching_fund_name": _fund_name(campaign, funds),
        "contributors": len(contributors),
        "pledges": pledges,
        "outcome": campaign.status,
        "closed_at": campaign.closed_at,
    }


def closed_campaigns(viewer: Identity, start: date | None, end: date | None) -> dict[str, Any]:
    """The export as data: lines in closure order, and their totals."""
    if not viewer.is_moderator:
        raise Forbidden("only moderators may export the closed campaigns")
    since, until = _bounds(start, end)
    closed = storage.every(storage.campaigns.list_closed, since=since, until=until)
    funds: dict[str, Fund | None] = {}
    lines = [_line(campaign, funds) for campaign in closed]
    totals = {"campaigns": len(lines), **{name: sum(line[name] for line in lines) for name in TOTALLED}}
    return {"from_date": start, "to_date": end, "items": lines, "totals": totals}


def euros(cents: int) -> str:
    """5000,00: a number to a French spreadsheet (no thousands separator to misread)."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}{whole},{rest:02d}"


def text(value: str | None) -> str:
    value = value or ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def day(moment: str) -> str:
    return clock.parse(moment).astimezone(ZoneInfo(get_settings().timezone)).strftime("%d/%m/%Y")


def _row(line: dict[str, Any]) -> list[Any]:
    amounts = [cell for _, name in AMOUNTS for cell in (euros(line[name]), line[name])]
    texts = [text(line[name]) for name in ("campaign_id", "title", "owner_name", "commune", "postcode", "category")]
    return [
        *texts,
        *amounts,
        text(line["matching_fund_name"] or line["matching_fund_id"]),
        line["contributors"],
        line["pledges"],
        OUTCOMES_FR[line["outcome"]],
        day(line["closed_at"]),
    ]


def as_csv(export: dict[str, Any]) -> str:
    headings = ["Campagne", "Titre", "Porteur", "Commune", "Code postal", "Catégorie"]
    headings += [cell for label, _ in AMOUNTS for cell in (f"{label} (€)", f"{label} (centimes)")]
    headings += ["Fonds d'abondement", "Contributeurs", "Contributions", "Issue", "Date de clôture"]
    totals = export["totals"]
    total_row = ["TOTAL", f"{totals['campaigns']} campagnes", "", "", "", ""]
    total_row += [cell for _, name in AMOUNTS for cell in (euros(totals[name]), totals[name])]
    total_row += ["", totals["contributors"], totals["pledges"], "", ""]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headings)
    writer.writerows(_row(line) for line in export["items"])
    writer.writerow(total_row)
    return "\ufeff" + out.getvalue()


def csv_filename(start: date | None, end: date | None) -> str:
    return f"oze-campagnes-cloturees_{start or 'debut'}_{end or 'fin'}.csv"


def open_data(*, limit: int, cursor: str | None) -> dict[str, Any]:
    """Closed campaigns, most recently closed first, with nothing that names a person."""
    items, next_cursor = storage.campaigns.list_closed(
        since=EARLIEST, until=LATEST, limit=limit, cursor=cursor, newest_first=True
    )
    fields: tuple[str, ...] = ("id", "title", "category", "commune", "postcode", "funding_model", "goal_cents")
    fields += ("raised_cents", "crowd_cents", "matched_cents", "pledge_count", "launched_at", "ends_at", "closed_at")
    campaigns = [{**{name: getattr(c, name) for name in fields}, "outcome": c.status} for c in items]
    producer = f"Ozé – {get_settings().territory_name}"
    return {"licence": LICENCE, "producer": producer, "items": campaigns, "next_cursor": next_cursor}
