"""Matching funds (abondement): the département tops up contributors' pledges by published rules.

A moderator creates a fund (budget voted by a council decision, ratio, caps, eligibility,
opening window) and attaches it to submitted or live campaigns. Each pledge on a matched
campaign then reserves its top-up from the fund **in the pledge's own transaction**
(storage.record_pledge): the pledge is still one write request, and a replayed
Idempotency-Key, refused by that transaction, cannot reserve twice.

The rule, for a pledge of `amount` on a campaign whose contributors had given `crowd`:

    eligible = the part of the pledge beyond min_crowd_cents
             = max(0, min(amount, crowd + amount - min_crowd_cents))
    top-up   = floor(eligible × match_percent / 100)
               then at most cap_per_pledge_cents, what cap_per_campaign_cents leaves, and
               the fund's remaining budget; nothing outside [opens_at, closes_at].

Rounding: whole cents, always down. The campaign receives less than the exact ratio by
under one cent per pledge, never more: 10.01 € matched at 33 % tops up 3.30 €, not 3.3033 €.

Races: the top-up is computed from the campaign and the fund as read with the pledge (one
BatchGetItem) and the transaction's conditions make it exact: the fund's remaining budget
still covers it under the same rule version, the campaign's matched total still leaves
room under its cap, and (with a minimum crowd amount) the crowd total has not fallen. When
one fails, the pledge reads again and computes again; after MATCH_ATTEMPTS it goes through
with no top-up. A fund that runs out never refuses a contributor's pledge.

Afterwards: a cancelled pledge gives its top-up back in its cancellation's transaction
(storage.cancel_pledge); at closure (`close_campaign`, called by settlement) a succeeded
campaign's reservation becomes spent and a failed or cancelled one's goes back to the
fund, once, with a record of the public money and the council decision behind it.
Eligibility (categories, postcodes) is checked when a fund is attached; rule changes
apply to the pledges made after them, each top-up recording the rule version it used.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple

from . import audit, campaigns, clock, storage
from .errors import Conflict, Forbidden, NotFound, field_error
from .identity import Identity

if TYPE_CHECKING:  # the models load with their route (chalicelib/models), not with this module
    from .models.matching import FundCreate, FundFields, MatchingRequest

MATCH_ATTEMPTS = 2  # computations of a top-up per pledge before it goes through without one
RULE_FIELDS = (
    "match_percent",
    "cap_per_pledge_cents",
    "cap_per_campaign_cents",
    "min_crowd_cents",
    "categories",
    "postcode_prefixes",
    "opens_at",
    "closes_at",
)
MATCHABLE_STATES = ("submitted", "live")
_KNOWN_FUNDS_MAX = 10_000


# --- the rule ------------------------------------------------------------------------------


def rule_top_up(
    amount_cents: int,
    crowd_before_cents: int,
    *,
    match_percent: int,
    cap_per_pledge_cents: int,
    cap_per_campaign_cents: int,
    min_crowd_cents: int,
    campaign_matched_cents: int,
    fund_remaining_cents: int,
) -> int:
    """The top-up of one pledge, in whole cents rounded down (see the module's docstring)."""
    eligible = max(0, min(amount_cents, crowd_before_cents + amount_cents - min_crowd_cents))
    by_ratio = eligible * match_percent // 100  # integer floor: never a fraction of a cent more
    room = cap_per_campaign_cents - campaign_matched_cents
    return max(0, min(by_ratio, cap_per_pledge_cents, room, fund_remaining_cents))


class TopUp(NamedTuple):
    """A pledge's top-up and what the transaction must find unchanged for it to hold."""

    cents: int = 0
    fund_id: str | None = None
    rule_version: int | None = None
    campaign_room: int = 0  # the campaign's matched total may be at most this before the write
    crowd_seen: int = 0  # with a minimum crowd amount: the crowd total it was computed from

    def pledge_fields(self) -> dict[str, Any]:
        if not self.fund_id:
            return {}
        return {
            "matched_cents": self.cents,
            "matching_fund_id": self.fund_id,
            "matching_rule_version": self.rule_version,
        }


NO_TOP_UP = TopUp()


def top_up(
    campaign: dict[str, Any], fund: dict[str, Any] | None, amount_cents: int, now: str, *, give_up: bool = False
) -> TopUp:
    """The top-up of a pledge of `amount_cents` on `campaign` now (`give_up`: none, after
    too many refusals)."""
    if fund is None or campaign.get("matching_fund_id") != fund["id"]:
        return NO_TOP_UP
    if give_up or not fund["opens_at"] <= now <= fund["closes_at"]:
        return TopUp(0, fund["id"], fund["rule_version"])
    matched = campaign.get("matched_cents", 0)
    crowd = campaign.get("crowd_cents", campaign["raised_cents"] - matched)
    cents = rule_top_up(
        amount_cents,
        crowd,
        match_percent=fund["match_percent"],
        cap_per_pledge_cents=fund["cap_per_pledge_cents"],
        cap_per_campaign_cents=fund["cap_per_campaign_cents"],
        min_crowd_cents=fund["min_crowd_cents"],
        campaign_matched_cents=matched,
        fund_remaining_cents=fund["remaining_cents"],
    )
    crowd_seen = crowd if fund["min_crowd_cents"] else 0
    return TopUp(cents, fund["id"], fund["rule_version"], fund["cap_per_campaign_cents"] - cents, crowd_seen)


# --- the fund read with a pledge -----------------------------------------------------------

# Campaign id -> fund id, learnt from the campaigns this container read: an attachment
# never changes, so once known the fund is read in the pledge's one BatchGetItem.
_known_funds: dict[str, str] = {}


def known_fund(campaign_id: str) -> str | None:
    return _known_funds.get(campaign_id)


def fund_for(campaign: dict[str, Any], read: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fund of a campaign read for a pledge: the one read with it, or (the first
    matched pledge on this campaign in this container) a GetItem now."""
    fund_id = campaign.get("matching_fund_id")
    if not fund_id:
        return None
    if len(_known_funds) >= _KNOWN_FUNDS_MAX:
        _known_funds.clear()
    _known_funds[campaign["id"]] = fund_id
    if read is not None and read["id"] == fund_id:
        return read
    return storage.get_fund(fund_id)


# --- funds ---------------------------------------------------------------------------------


def _moderator(user: Identity) -> None:
    if not user.is_moderator:
        raise Forbidden("only moderators may manage matching funds")


def _fund(fund_id: str) -> dict[str, Any]:
    fund = storage.get_fund(fund_id)
    if fund is None:
        raise NotFound(f"no matching fund {fund_id}")
    return fund


def _audited(fund: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fund.items() if k not in ("reserved_cents", "spent_cents", "remaining_cents")}


def create_fund(user: Identity, data: FundCreate) -> dict[str, Any]:
    _moderator(user)
    now = clock.iso(clock.now())
    fund = {
        **data.model_dump(),
        "id": f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}",  # lists in creation order, within a second too
        "opens_at": clock.iso(data.opens_at),
        "closes_at": clock.iso(data.closes_at),
        "reserved_cents": 0,
        "spent_cents": 0,
        "remaining_cents": data.budget_cents,
        "rule_version": 1,
        "campaign_count": 0,
        "created_by": user.sub,
        "created_at": now,
        "updated_at": now,
    }
    entry = audit.entry(user, "fund_created", f"fund/{fund['id']}", None, _audited(fund))
    storage.create_fund(fund, audit=entry)
    return fund


def edit_fund(fund_id: str, user: Identity, patch: FundFields) -> dict[str, Any]:
    """Change a fund's rules (for the pledges made from now on) or its budget (not below
    what is reserved and spent)."""
    _moderator(user)
    fund = _fund(fund_id)
    changes = patch.model_dump(exclude_unset=True)
    for moment in ("opens_at", "closes_at"):
        if moment in changes:
            changes[moment] = clock.iso(changes[moment])
    merged = {**fund, **changes}
    if merged["closes_at"] <= merged["opens_at"]:
        which = "closes_at" if "closes_at" in changes else "opens_at"
        raise field_error(which, "closes_at must be after opens_at")
    budget_delta = merged["budget_cents"] - fund["budget_cents"]
    committed = fund["reserved_cents"] + fund["spent_cents"]
    if fund["remaining_cents"] + budget_delta < 0:
        raise field_error("budget_cents", f"cannot be below the {committed} cents already reserved or spent")
    if any(merged[name] != fund[name] for name in RULE_FIELDS):
        changes["rule_version"] = fund["rule_version"] + 1
    changes["updated_at"] = clock.iso(clock.now())
    entry = audit.entry(user, "fund_changed", f"fund/{fund_id}", {k: fund.get(k) for k in changes}, changes)
    try:
        storage.update_fund(fund_id, changes, seen_version=fund["rule_version"], budget_delta=budget_delta, audit=entry)
    except storage.ConditionFailed as refused:
        current = _fund(fund_id)
        if current["rule_version"] == fund["rule_version"] and budget_delta < 0:
            committed = current["reserved_cents"] + current["spent_cents"]
            raise field_error(
                "budget_cents", f"cannot be below the {committed} cents already reserved or spent"
            ) from refused
        raise Conflict("the fund's rules changed meanwhile: read it again") from refused
    return _fund(fund_id)


def list_funds(*, limit: int, cursor: str | None):
    return storage.list_funds(limit=limit, cursor=cursor)


def _check_eligible(campaign: dict[str, Any], fund: dict[str, Any]) -> None:
    if fund["categories"] and campaign["category"] not in fund["categories"]:
        raise field_error("fund_id", f"this fund matches only the categories {', '.join(fund['categories'])}")
    if fund["postcode_prefixes"] and not campaign["postcode"].startswith(tuple(fund["postcode_prefixes"])):
        prefixes = ", ".join(f"{p}…" for p in fund["postcode_prefixes"])
        raise field_error("fund_id", f"this fund matches only the postcodes {prefixes}")


def attach(campaign_id: str, user: Identity, data: MatchingRequest) -> dict[str, Any]:
    """Attach a fund to a submitted or live campaign: its pledges from now on are matched."""
    _moderator(user)
    campaign = campaigns.get(campaign_id, user)
    if campaign.get("matching_fund_id") == data.fund_id:
        return campaign  # already done: the same answer again
    fund = storage.get_fund(data.fund_id)
    if fund is None:
        raise field_error("fund_id", "no such matching fund")
    if campaign["status"] not in MATCHABLE_STATES:
        raise Conflict(f"only a submitted or live campaign can be matched; this one is {campaign['status']}")
    if campaign.get("matching_fund_id"):
        raise Conflict("this campaign is already matched by another fund")
    now = clock.iso(clock.now())
    if fund["closes_at"] <= now:
        raise Conflict(f"this fund closed at {fund['closes_at']}")
    _check_eligible(campaign, fund)
    entry = audit.entry(user, "campaign_matched", f"campaign/{campaign_id}", None, {"matching_fund_id": fund["id"]})
    try:
        storage.attach_fund(campaign_id, fund, now, audit=entry)
    except storage.ConditionFailed as refused:
        raise Conflict("the campaign or the fund changed meanwhile: read them again") from refused
    matched = campaign.get("matched_cents", 0)
    return {**campaign, "matching_fund_id": fund["id"], "matched_cents": matched, "updated_at": now}


# --- closure ---------------------------------------------------------------------------------


def close_campaign(campaign: dict[str, Any], now: str) -> bool:
    """Once for a closed matched campaign: its reservation becomes spent (succeeded) or
    goes back to the fund (failed, cancelled), with the record of the public money. True
    for the one caller that did it."""
    fund_id = campaign.get("matching_fund_id")
    if not fund_id or "matching_closed_at" in campaign or campaign["status"] not in storage.CLOSED_STATES:
        return False
    fund = _fund(fund_id)
    matched = campaign.get("matched_cents", 0)
    spent = matched if campaign["status"] == "succeeded" else 0
    record = {
        "fund_id": fund_id,
        "fund_name": fund["name"],
        "decision_ref": fund["decision_ref"],
        "campaign_id": campaign["id"],
        "campaign_title": campaign["title"],
        "commune": campaign["commune"],
        "postcode": campaign["postcode"],
        "outcome": campaign["status"],
        "crowd_cents": campaign["raised_cents"] - matched,
        "matched_cents": matched,
        "spent_cents": spent,
        "released_cents": matched - spent,
        "closed_at": campaign.get("closed_at", now),
        "recorded_at": now,
    }
    return storage.close_matching(campaign["id"], record, now)
