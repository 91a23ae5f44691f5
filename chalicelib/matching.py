"""Matching funds (abondement): the département tops up contributors' pledges by published rules.

A moderator creates a fund (budget voted by a council decision, ratio, caps, eligibility,
opening window) and attaches it to submitted or live campaigns. Each pledge on a matched
campaign then reserves its top-up from the fund **in the transaction that counts its
payment** (storage.pledges.pay, chalicelib/payments.py): one write request, and a payment
confirmed twice, refused by that transaction, cannot reserve twice.

The rule, for a pledge of `amount` on a campaign whose contributors had given `crowd`:

    eligible = the part of the pledge beyond min_crowd_cents
             = max(0, min(amount, crowd + amount - min_crowd_cents))
    top-up   = floor(eligible × match_percent / 100)
               then at most cap_per_pledge_cents, what cap_per_campaign_cents leaves, and
               the fund's remaining budget; nothing outside [opens_at, closes_at].

Rounding: whole cents, always down. The campaign receives less than the exact ratio by
under one cent per pledge, never more: 10.01 € matched at 33 % tops up 3.30 €, not 3.3033 €.

Races: the top-up is computed from the campaign and the fund as read with the payment (one
BatchGetItem) and the transaction's conditions make it exact: the fund's remaining budget
still covers it under the same rule version, the campaign's matched total still leaves
room under its cap, and (with a minimum crowd amount) the crowd total has not fallen. When
one fails, the pledge reads again and computes again; after MATCH_ATTEMPTS it goes through
with no top-up. A fund that runs out never refuses a contributor's pledge.

Afterwards: a refunded pledge gives its top-up back in its refund's transaction
(storage.pledges.refund); at closure (`close_campaign`, called by settlement) a succeeded
campaign's reservation becomes spent and a failed or cancelled one's goes back to the
fund, once, with a record of the public money and the council decision behind it.
Eligibility (categories, postcodes) is checked when a fund is attached; rule changes
apply to the pledges made after them, each top-up recording the rule version it used.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from . import audit, campaigns, clock, storage
from .errors import Conflict, Forbidden, NotFound, field_error
from .identity import Identity
from .records import NO_TOP_UP, Campaign, Fund, MatchingRecord, TopUp

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


def top_up(campaign: Campaign, fund: Fund | None, amount_cents: int, now: str, *, give_up: bool = False) -> TopUp:
    """The top-up of a pledge of `amount_cents` on `campaign` now (`give_up`: none, after
    too many refusals)."""
    if fund is None or campaign.matching_fund_id != fund.id:
        return NO_TOP_UP
    # Its rules again at each top-up: a campaign edited after it was matched (rejected,
    # then changed) may have left them.
    if give_up or not fund.opens_at <= now <= fund.closes_at or _ineligible(campaign, fund):
        return TopUp(0, fund.id, fund.rule_version)
    cents = rule_top_up(
        amount_cents,
        campaign.crowd_cents,
        match_percent=fund.match_percent,
        cap_per_pledge_cents=fund.cap_per_pledge_cents,
        cap_per_campaign_cents=fund.cap_per_campaign_cents,
        min_crowd_cents=fund.min_crowd_cents,
        campaign_matched_cents=campaign.matched_cents,
        fund_remaining_cents=fund.remaining_cents,
    )
    crowd_seen = campaign.crowd_cents if fund.min_crowd_cents else 0
    return TopUp(cents, fund.id, fund.rule_version, fund.cap_per_campaign_cents - cents, crowd_seen)


# --- the fund read with a pledge -----------------------------------------------------------

# Campaign id -> fund id, learnt from the campaigns this container read: an attachment
# never changes, so once known the fund is read in the pledge's one BatchGetItem.
_known_funds: dict[str, str] = {}


def known_fund(campaign_id: str) -> str | None:
    return _known_funds.get(campaign_id)


def fund_for(campaign: Campaign, read: Fund | None) -> Fund | None:
    """The fund of a campaign read for a pledge: the one read with it, or (the first
    matched pledge on this campaign in this container) a GetItem now."""
    fund_id = campaign.matching_fund_id
    if not fund_id:
        return None
    if len(_known_funds) >= _KNOWN_FUNDS_MAX:
        _known_funds.clear()
    _known_funds[campaign.id] = fund_id
    if read is not None and read.id == fund_id:
        return read
    return storage.funds.get(fund_id)


# --- funds ---------------------------------------------------------------------------------


def _moderator(user: Identity) -> None:
    if not user.is_moderator:
        raise Forbidden("only moderators may manage matching funds")


def _fund(fund_id: str) -> Fund:
    fund = storage.funds.get(fund_id)
    if fund is None:
        raise NotFound(f"no matching fund {fund_id}")
    return fund


def _audited(fund: Fund) -> dict[str, Any]:
    """A fund's rules as the audit trail keeps them (its counters move on their own)."""
    return {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in fund._asdict().items()
        if k not in ("reserved_cents", "spent_cents", "remaining_cents")
    }


def create_fund(user: Identity, data: FundCreate) -> Fund:
    _moderator(user)
    now = clock.iso(clock.now())
    fields = data.model_dump()
    fund = Fund(
        **{
            **fields,
            "categories": tuple(fields["categories"]),
            "postcode_prefixes": tuple(fields["postcode_prefixes"]),
        },
        id=f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}",  # lists in creation order, within a second too
        remaining_cents=data.budget_cents,
        created_by=user.sub,
        created_at=now,
        updated_at=now,
    )._replace(opens_at=clock.iso(data.opens_at), closes_at=clock.iso(data.closes_at))
    entry = audit.entry(user, "fund_created", f"fund/{fund.id}", None, _audited(fund))
    storage.funds.create(fund, entry)
    return fund


def edit_fund(fund_id: str, user: Identity, patch: FundFields) -> Fund:
    """Change a fund's rules (for the pledges made from now on) or its budget (not below
    what is reserved and spent)."""
    _moderator(user)
    fund = _fund(fund_id)
    changes = patch.model_dump(exclude_unset=True)
    for moment in ("opens_at", "closes_at"):
        if moment in changes:
            changes[moment] = clock.iso(changes[moment])
    current = _audited(fund)
    merged = {**current, **changes}
    if merged["closes_at"] <= merged["opens_at"]:
        which = "closes_at" if "closes_at" in changes else "opens_at"
        raise field_error(which, "closes_at must be after opens_at")
    budget_delta = merged["budget_cents"] - fund.budget_cents
    committed = fund.reserved_cents + fund.spent_cents
    if fund.remaining_cents + budget_delta < 0:
        raise field_error("budget_cents", f"cannot be below the {committed} cents already reserved or spent")
    if any(merged[name] != current[name] for name in RULE_FIELDS):
        changes["rule_version"] = fund.rule_version + 1
    changes["updated_at"] = clock.iso(clock.now())
    entry = audit.entry(user, "fund_changed", f"fund/{fund_id}", {k: current.get(k) for k in changes}, changes)
    try:
        storage.funds.update(
            fund_id,
            changes,
            seen_version=fund.rule_version,
            budget_delta=budget_delta,
            seen_budget=fund.budget_cents,
            entry=entry,
        )
    except storage.ConditionFailed as refused:
        again = _fund(fund_id)
        if again.budget_cents != fund.budget_cents:
            raise Conflict(
                f"the fund's budget changed meanwhile (now {again.budget_cents} cents): read it again"
            ) from refused
        if again.rule_version == fund.rule_version and budget_delta < 0:
            committed = again.reserved_cents + again.spent_cents
            raise field_error(
                "budget_cents", f"cannot be below the {committed} cents already reserved or spent"
            ) from refused
        raise Conflict("the fund's rules changed meanwhile: read it again") from refused
    return _fund(fund_id)


def list_funds(*, limit: int, cursor: str | None) -> tuple[list[Fund], str | None]:
    return storage.funds.list_funds(limit=limit, cursor=cursor)


def _ineligible(campaign: Campaign, fund: Fund) -> str | None:
    """Why the fund's rules leave the campaign out (None: they do not)."""
    if fund.categories and campaign.category not in fund.categories:
        return f"this fund matches only the categories {', '.join(fund.categories)}"
    if fund.postcode_prefixes and not campaign.postcode.startswith(fund.postcode_prefixes):
        return f"this fund matches only the postcodes {', '.join(f'{p}…' for p in fund.postcode_prefixes)}"
    return None


def _check_eligible(campaign: Campaign, fund: Fund) -> None:
    reason = _ineligible(campaign, fund)
    if reason:
        raise field_error("fund_id", reason)


def attach(campaign_id: str, user: Identity, data: MatchingRequest) -> Campaign:
    """Attach a fund to a submitted or live campaign: its pledges from now on are matched."""
    _moderator(user)
    campaign = campaigns.get(campaign_id, user)
    if campaign.matching_fund_id == data.fund_id:
        return campaign  # already done: the same answer again
    fund = storage.funds.get(data.fund_id)
    if fund is None:
        raise field_error("fund_id", "no such matching fund")
    if campaign.status not in MATCHABLE_STATES:
        raise Conflict(f"only a submitted or live campaign can be matched; this one is {campaign.status}")
    if campaign.matching_fund_id:
        raise Conflict("this campaign is already matched by another fund")
    now = clock.iso(clock.now())
    if fund.closes_at <= now:
        raise Conflict(f"this fund closed at {fund.closes_at}")
    _check_eligible(campaign, fund)
    entry = audit.entry(user, "campaign_matched", f"campaign/{campaign_id}", None, {"matching_fund_id": fund.id})
    try:
        storage.funds.attach(campaign_id, fund, now, entry)
    except storage.ConditionFailed as refused:
        raise Conflict("the campaign or the fund changed meanwhile: read them again") from refused
    return campaign._replace(matching_fund_id=fund.id, updated_at=now)


# --- closure ---------------------------------------------------------------------------------


def close_campaign(campaign: Campaign, now: str, *, already_closed: bool = False) -> bool:
    """Once for a closed matched campaign: its reservation becomes spent (succeeded) or
    goes back to the fund (failed, cancelled), with the record of the public money. True
    for the one caller that did it."""
    fund_id = campaign.matching_fund_id
    if not fund_id or already_closed or not campaign.is_closed:
        return False
    fund = _fund(fund_id)
    spent = campaign.matched_cents if campaign.status == "succeeded" else 0
    record = MatchingRecord(
        fund_id=fund_id,
        fund_name=fund.name,
        decision_ref=fund.decision_ref,
        campaign_id=campaign.id,
        campaign_title=campaign.title,
        commune=campaign.commune,
        postcode=campaign.postcode,
        outcome=campaign.status,
        crowd_cents=campaign.crowd_cents,
        matched_cents=campaign.matched_cents,
        spent_cents=spent,
        released_cents=campaign.matched_cents - spent,
        closed_at=campaign.closed_at or now,
        recorded_at=now,
        owner_id=campaign.owner_id,
    )
    return storage.funds.close_matching(record, now)
