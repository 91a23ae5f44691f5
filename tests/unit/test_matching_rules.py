"""Matching funds (abondement): the rule's arithmetic, and when a fund tops a pledge up.
Funds as moderators and the public meet them are in tests/api/test_matching.py."""

import pytest

from chalicelib import matching
from chalicelib.records import NO_TOP_UP, Fund
from tests.records import draft

# --- the rule's arithmetic ---------------------------------------------------------------------

RULES = {
    "match_percent": 100,
    "cap_per_pledge_cents": 5_000,
    "cap_per_campaign_cents": 20_000,
    "min_crowd_cents": 0,
    "campaign_matched_cents": 0,
    "fund_remaining_cents": 100_000,
}


@pytest.mark.parametrize(
    ("amount", "crowd", "rules", "expected"),
    [
        (2_000, 0, {}, 2_000),  # 1 € for 1 €
        (2_000, 0, {"match_percent": 50}, 1_000),  # 0.50 € for 1 €
        (2_000, 0, {"match_percent": 150}, 3_000),
        (1_001, 0, {"match_percent": 33}, 330),  # 330.33 cents: rounded down
        (101, 0, {"match_percent": 50}, 50),  # 50.5 cents: rounded down
        (199, 0, {"match_percent": 1}, 1),  # 1.99 cents: rounded down
        (8_000, 0, {}, 5_000),  # the cap per pledge
        (8_000, 0, {"campaign_matched_cents": 17_000}, 3_000),  # what the campaign's cap leaves
        (2_000, 0, {"campaign_matched_cents": 20_000}, 0),  # the campaign's cap reached
        (2_000, 0, {"fund_remaining_cents": 700}, 700),  # what the fund has left
        (2_000, 0, {"fund_remaining_cents": 0}, 0),
        (3_000, 0, {"min_crowd_cents": 5_000}, 0),  # below the minimum crowd amount: nothing
        (4_000, 3_000, {"min_crowd_cents": 5_000}, 2_000),  # only the part beyond it
        (1_000, 7_000, {"min_crowd_cents": 5_000}, 1_000),  # beyond it: all of the pledge
        (4_000, 3_000, {"min_crowd_cents": 5_000, "match_percent": 50}, 1_000),
    ],
)
def test_the_rule_tops_up_by_ratio_within_every_cap(amount, crowd, rules, expected):
    assert matching.rule_top_up(amount, crowd, **{**RULES, **rules}) == expected


def test_rounding_is_to_whole_cents_down_by_less_than_one_cent():
    """The contributor's disfavour, at most one cent: the exact top-up minus the one given
    is in [0, 1) cent, for every amount from 1 cent to 100 € and every ratio in 1–200 %."""
    for percent in range(1, 201):
        rules = {**RULES, "match_percent": percent, "cap_per_pledge_cents": 10**9, "cap_per_campaign_cents": 10**9}
        for amount in range(1, 10_001, 7):
            given = matching.rule_top_up(amount, 0, **rules)
            assert 0 <= amount * percent - 100 * given < 100, (amount, percent)


FUND = Fund(
    id="f",
    name="Fonds culture 2026",
    decision_ref="délibération CD-2026-045",
    budget_cents=100_000,
    rule_version=3,
    opens_at="2026-01-01T00:00:00Z",
    closes_at="2026-12-31T23:59:59Z",
    **{k: v for k, v in RULES.items() if not k.startswith(("campaign_", "fund_"))},
    remaining_cents=100_000,
    created_by="moderatrice",
    created_at="2026-01-01T00:00:00Z",
    updated_at="2026-01-01T00:00:00Z",
)


@pytest.mark.parametrize(
    ("now", "give_up", "expected"),
    [
        ("2026-06-01T12:00:00Z", False, 2_000),
        ("2025-12-31T23:59:59Z", False, 0),  # not open yet
        ("2027-01-01T00:00:00Z", False, 0),  # closed
        ("2026-06-01T12:00:00Z", True, 0),  # after too many refusals, the pledge goes through without
    ],
)
def test_a_top_up_needs_the_fund_open_and_records_its_rule_version(now, give_up, expected):
    campaign = draft(matching_fund_id="f")
    top_up = matching.top_up(campaign, FUND, 2_000, now, give_up=give_up)
    assert (top_up.cents, top_up.fund_id, top_up.rule_version) == (expected, "f", 3)
    assert matching.top_up(draft(), None, 2_000, now) == NO_TOP_UP
