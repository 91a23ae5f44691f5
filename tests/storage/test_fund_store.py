"""The matching fund repository (chalicelib/storage/funds.py): budget = reserved + spent +
remaining through every reservation, give-back and closure; a refused reservation names
the fund and writes nothing; a campaign's public money is recorded once."""

import pytest

from chalicelib import storage
from chalicelib.records import MatchingRecord, Pledge, TopUp
from chalicelib.storage import keys
from tests.records import NOW, audit_entry, fund, idempotency, ledger_entry, live, pledge
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

SOON = "2026-06-02T09:30:00Z"


def _money(fund_id: str = "f-manche") -> tuple[int, int, int]:
    found = storage.funds.get(fund_id)
    return found.reserved_cents, found.spent_cents, found.remaining_cents


def _matched_campaign(**fields) -> None:
    """Saint-Lô's live campaign, matched by the Manche's fund (1,000 € of budget)."""
    storage.campaigns.create(live())
    storage.funds.create(fund(**fields))
    storage.funds.attach("c0ffee", storage.funds.get("f-manche"), NOW)


def _top_up(**fields) -> TopUp:
    return TopUp(**{"cents": 2_500, "fund_id": "f-manche", "rule_version": 1, "campaign_room": 47_500, **fields})


def _paid_matched(pledge_id: str = "p-lea", top_up: TopUp | None = None, **fields) -> Pledge:
    """A pledge recorded, then paid with its top-up (the fund reserves it when it is paid)."""
    made = pledge(id=pledge_id, **fields)
    storage.pledges.record(made, idempotency(f"lea:{pledge_id}"), now=NOW)
    return stored.pay(made, ledger_entry(made), top_up or _top_up())


# --- create, get, list -----------------------------------------------------------------


def test_a_created_fund_reads_back_equal_with_its_categories_and_postcodes():
    created = fund(categories=("culture", "business"), postcode_prefixes=("50", "14"))
    storage.funds.create(created)
    assert storage.funds.get("f-manche") == created


def test_a_second_fund_with_the_same_id_is_refused_and_its_audit_entry_not_written():
    storage.funds.create(fund())
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.funds.create(fund(name="Fonds du Calvados"), audit_entry(id="a-fonds", campaign_id=None))
    assert refused.value.item == "fund"
    assert storage.funds.get("f-manche").name == "Fonds d'abondement de la Manche"
    assert stored.item(keys.audit("a-fonds")) is None


def test_list_funds_newest_first_in_pages():
    for month in ("03", "04", "05"):
        storage.funds.create(fund(id=f"f-{month}", created_at=f"2026-{month}-01T10:00:00Z"))
    first, cursor = storage.funds.list_funds(limit=2, cursor=None)
    rest, last = storage.funds.list_funds(limit=2, cursor=cursor)
    assert [f.id for f in first] == ["f-05", "f-04"]
    assert (rest, last) == ([storage.funds.get("f-03")], None)


# --- reservations ----------------------------------------------------------------------


def test_a_matched_pledge_reserves_its_top_up_when_paid_and_a_live_refund_gives_it_back():
    _matched_campaign()
    made = pledge()
    storage.pledges.record(made, idempotency(), now=NOW)
    assert _money() == (0, 0, 100_000)  # waiting for its payment: nothing reserved
    paid = stored.pay(made, ledger_entry(made), _top_up())
    assert (paid.matched_cents, paid.matching_fund_id, paid.matching_rule_version) == (2_500, "f-manche", 1)
    assert storage.pledges.get("p-lea") == paid
    campaign = storage.campaigns.get("c0ffee")
    assert (campaign.raised_cents, campaign.matched_cents, campaign.crowd_cents) == (7_500, 2_500, 5_000)
    assert _money() == (2_500, 0, 97_500)
    storage.pledges.refund(paid, [ledger_entry(paid, "refunded", at=SOON)], live=True)
    assert _money() == (0, 0, 100_000)
    assert storage.campaigns.get("c0ffee").raised_cents == 0


@pytest.mark.parametrize(
    ("fund_fields", "top_up"),
    [
        ({"budget_cents": 100_000, "remaining_cents": 1_000}, _top_up()),  # beyond what remains
        ({"rule_version": 2}, _top_up()),  # the rules changed since the top-up was computed
    ],
    ids=["beyond remaining", "rule version moved"],
)
def test_a_reservation_the_fund_cannot_hold_is_refused_as_fund_and_nothing_is_written(fund_fields, top_up):
    _matched_campaign(**fund_fields)
    before = _money()
    made = pledge()
    storage.pledges.record(made, idempotency(), now=NOW)
    with pytest.raises(storage.ConditionFailed) as refused:
        stored.pay(made, ledger_entry(made), top_up)
    assert refused.value.item == "fund"
    assert _money() == before
    assert storage.pledges.get("p-lea") == made  # still waiting: the caller pays it again without a top-up
    assert storage.campaigns.get("c0ffee").raised_cents == 0
    assert storage.ledger.entries("c0ffee", limit=10, cursor=None)[0] == []


def test_a_top_up_beyond_the_room_left_under_the_campaigns_cap_is_refused_as_campaign():
    _matched_campaign()
    _paid_matched("p-premier", _top_up(campaign_room=0))  # the campaign had matched nothing yet
    with pytest.raises(storage.ConditionFailed) as refused:
        _paid_matched("p-lea", _top_up(campaign_room=0))
    assert refused.value.item == "campaign"
    assert storage.pledges.get("p-lea").status == "pending_payment"
    assert _money() == (2_500, 0, 97_500)


def test_a_top_up_computed_from_a_crowd_amount_that_fell_is_refused_as_campaign():
    _matched_campaign()
    first = _paid_matched("p-hugo", TopUp(), contributor_id="hugo", contributor_name="Hugo Lemonnier")
    refund = ledger_entry(first, "refunded", at=SOON)
    storage.pledges.refund(first, [refund], live=True)  # the crowd goes back from 5,000 to 0
    with pytest.raises(storage.ConditionFailed) as refused:
        _paid_matched("p-lea", _top_up(crowd_seen=5_000))
    assert refused.value.item == "campaign"
    assert _money() == (0, 0, 100_000)


def test_a_top_up_computed_from_the_crowd_amount_that_holds_is_reserved():
    _matched_campaign()
    _paid_matched("p-hugo", TopUp(), contributor_id="hugo", contributor_name="Hugo Lemonnier")
    _paid_matched("p-lea", _top_up(crowd_seen=5_000))
    assert _money() == (2_500, 0, 97_500)
    assert storage.campaigns.get("c0ffee").crowd_cents == 10_000


# --- attach, update --------------------------------------------------------------------


def test_attach_matches_a_campaign_once():
    _matched_campaign()
    storage.funds.create(fund(id="f-calvados", name="Fonds du Calvados"))
    assert storage.campaigns.get("c0ffee").matching_fund_id == "f-manche"
    assert storage.funds.get("f-manche").campaign_count == 1
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.funds.attach("c0ffee", storage.funds.get("f-calvados"), SOON)
    assert refused.value.item == "campaign"
    assert storage.funds.get("f-calvados").campaign_count == 0


def test_attach_under_rules_that_changed_is_refused_as_fund():
    storage.campaigns.create(live())
    storage.funds.create(fund(rule_version=2))
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.funds.attach("c0ffee", fund(rule_version=1), NOW)
    assert refused.value.item == "fund"
    assert storage.campaigns.get("c0ffee").matching_fund_id is None


def test_update_changes_a_fund_read_at_its_current_version_only():
    storage.funds.create(fund())
    storage.funds.update("f-manche", {"match_percent": 100, "rule_version": 2}, seen_version=1)
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.funds.update("f-manche", {"match_percent": 25}, seen_version=1)
    assert refused.value.item == "fund"
    assert (storage.funds.get("f-manche").match_percent, storage.funds.get("f-manche").rule_version) == (100, 2)


def test_a_budget_cut_only_while_the_remaining_budget_covers_it():
    storage.funds.create(fund(reserved_cents=99_000, remaining_cents=1_000))
    with pytest.raises(storage.ConditionFailed):
        storage.funds.update(
            "f-manche", {"budget_cents": 98_000}, seen_version=1, budget_delta=-2_000, seen_budget=100_000
        )
    storage.funds.update("f-manche", {"budget_cents": 99_500}, seen_version=1, budget_delta=-500, seen_budget=100_000)
    assert storage.funds.get("f-manche").budget_cents == 99_500
    assert _money() == (99_000, 0, 500)


def test_two_budget_raises_from_the_same_read_are_not_both_written():
    """Each sets the budget it computed and adds its raise to the remaining budget: the
    second, read before the first was written, would lose the first raise from the budget
    while keeping it in the remaining one. It is refused; the caller reads again."""
    storage.funds.create(fund())
    storage.funds.update(
        "f-manche", {"budget_cents": 110_000}, seen_version=1, budget_delta=10_000, seen_budget=100_000
    )
    with pytest.raises(storage.ConditionFailed):
        storage.funds.update(
            "f-manche", {"budget_cents": 120_000}, seen_version=1, budget_delta=20_000, seen_budget=100_000
        )
    after = storage.funds.get("f-manche")
    assert after.budget_cents == 110_000
    assert after.budget_cents == after.reserved_cents + after.spent_cents + after.remaining_cents


# --- closure ---------------------------------------------------------------------------


def _closure(outcome: str, spent: int) -> MatchingRecord:
    return MatchingRecord(
        fund_id="f-manche",
        fund_name="Fonds d'abondement de la Manche",
        decision_ref="Délibération CD50-2026-042",
        campaign_id="c0ffee",
        campaign_title="Cocotte Minute",
        commune="Saint-Lô",
        postcode="50000",
        outcome=outcome,
        crowd_cents=5_000,
        matched_cents=2_500,
        spent_cents=spent,
        released_cents=2_500 - spent,
        closed_at="2026-07-12T06:00:00Z",
        recorded_at="2026-07-12T06:05:00Z",
    )


@pytest.mark.parametrize(
    ("outcome", "spent", "money"),
    [("succeeded", 2_500, (0, 2_500, 97_500)), ("failed", 0, (0, 0, 100_000))],
    ids=["succeeded: spent", "failed: released"],
)
def test_close_matching_spends_or_releases_the_reservation_once(outcome, spent, money):
    _matched_campaign()
    _paid_matched()
    record = _closure(outcome, spent)
    assert storage.funds.close_matching(record, record.recorded_at) is True
    assert storage.funds.close_matching(record, "2026-07-12T07:00:00Z") is False
    assert _money() == money
    assert storage.funds.get_matching_record("f-manche", "c0ffee") == record
    assert storage.settlement.get("c0ffee").matching_closed is True


def test_a_campaign_without_closure_has_no_matching_record():
    _matched_campaign()
    assert storage.funds.get_matching_record("f-manche", "c0ffee") is None
    assert storage.settlement.get("c0ffee").matching_closed is False
