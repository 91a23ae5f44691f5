"""Records: derived values computed in one place, immutable, and shown by answers.py
without anything a viewer may not see."""

import pytest

from chalicelib import answers
from chalicelib.identity import Identity
from chalicelib.records import Reward
from tests.records import NOW, PAID_AT, PAYMENT_EXPIRES, draft, ledger_entry, pledge

CAMILLE = Identity("camille", name="Camille Lecarpentier")
MODERATOR = Identity("moderatrice", groups=frozenset({"moderators"}))
LEA = Identity("lea", name="Léa Dupont")


def test_crowd_money_is_what_was_raised_less_the_top_ups():
    campaign = draft(status="live", raised_cents=385_000, matched_cents=50_000)
    assert campaign.crowd_cents == 335_000


@pytest.mark.parametrize(("raised", "percent"), [(0, 0), (199_999, 99), (200_000, 100), (385_000, 192)])
def test_percent_funded_is_whole_percent_rounded_down_and_may_pass_100(raised, percent):
    assert draft(goal_cents=200_000, raised_cents=raised).percent_funded == percent


def test_a_campaign_is_public_once_live_and_closed_once_ended():
    assert [draft(status=s).is_public for s in ("draft", "submitted", "live", "cancelled")] == [
        False,
        False,
        True,
        True,
    ]
    assert [draft(status=s).is_closed for s in ("live", "succeeded", "failed", "cancelled")] == [
        False,
        True,
        True,
        True,
    ]


def test_a_limited_reward_is_sold_out_when_none_remains_and_an_unlimited_never():
    atelier = Reward("r1", "Atelier tricot", "Deux heures à la boutique", 2_500, "2026-06-01T12:00:00Z", 10, 0)
    assert atelier.limited and atelier.sold_out
    assert not atelier._replace(remaining=1).sold_out
    unlimited = atelier._replace(quantity=None, remaining=None)
    assert not unlimited.limited and not unlimited.sold_out


def test_records_are_immutable():
    campaign = draft()
    with pytest.raises(AttributeError):
        campaign.status = "live"  # type: ignore[misc]
    assert campaign._replace(status="live").status == "live" and campaign.status == "draft"


def test_a_campaign_finds_its_reward_by_id():
    atelier = Reward("r1", "Atelier tricot", "", 2_500, "2026-06-01T12:00:00Z")
    campaign = draft(rewards=(atelier,))
    assert campaign.reward("r1") == atelier and campaign.reward("r2") is None and campaign.reward(None) is None


@pytest.mark.parametrize(("viewer", "shown"), [(CAMILLE, True), (MODERATOR, True), (LEA, False), (None, False)])
def test_the_moderators_reason_is_shown_to_the_owner_and_moderators_only(viewer, shown):
    campaign = draft(rejection_reason="Précisez le lieu des ateliers à Saint-Lô.")
    answer = answers.campaign(campaign, viewer)
    assert (answer["rejection_reason"] is not None) is shown
    assert answer["owner"] == {"id": "camille", "display_name": "Camille Lecarpentier"}
    assert "owner_email" not in answer


def test_a_backer_who_chose_anonymity_shows_no_name():
    from chalicelib.records import Pledge

    pledge = Pledge("p1", "c0ffee", "Cocotte Minute", "lea", "Léa Dupont", "lea@exemple.fr", 2_500, "paid", "t")
    assert answers.backer(pledge)["display_name"] == "Léa Dupont"
    shown = answers.backer(pledge._replace(anonymous=True))
    assert shown["display_name"] is None and "lea@exemple.fr" not in shown.values()


@pytest.mark.parametrize(
    ("status", "counted", "pending"),
    [
        ("pending_payment", False, True),
        ("paid", True, False),
        ("collected", True, False),
        ("refunded", False, False),
        ("payment_failed", False, False),
        ("expired", False, False),
        ("cancelled", False, False),
    ],
)
def test_only_paid_and_collected_pledges_count(status, counted, pending):
    made = pledge(status=status)
    assert (made.counted, made.pending) == (counted, pending)


def test_a_contributor_sees_the_payment_page_of_their_pledge_only_while_it_waits():
    waiting = answers.own_pledge(pledge())
    assert waiting["payment"] == {
        "redirect_url": "http://127.0.0.1:8000/sandbox/payments/payin-lea",
        "expires_at": PAYMENT_EXPIRES,
    }
    paid = answers.own_pledge(pledge(status="paid", paid_at=PAID_AT))
    assert (paid["status"], paid["paid_at"], paid["payment"]) == ("paid", PAID_AT, None)


def test_the_ledger_sums_to_what_the_escrow_holds():
    paid = ledger_entry(pledge())
    assert [paid.escrow_effect_cents, ledger_entry(pledge(), "refunded").escrow_effect_cents] == [5_000, -5_000]
    assert ledger_entry(pledge(), "collected").escrow_effect_cents == -5_000  # paid out of the escrow
    assert ledger_entry(pledge(), "commission").escrow_effect_cents == 0  # a share of what was collected


def test_a_pledge_backs_its_campaign_while_counted_and_after_a_refund_at_closure_only():
    paid = pledge(status="paid", paid_at=NOW)
    refunded_at_closure = paid._replace(status="refunded", refunded_at=NOW)
    withdrawn = refunded_at_closure._replace(cancelled_at=NOW)
    paid_too_late = pledge(status="refunded", refunded_at=NOW)

    assert [p.backs for p in (paid, paid._replace(status="collected"), refunded_at_closure)] == [True, True, True]
    assert [p.backs for p in (withdrawn, paid_too_late, pledge(), pledge(status="expired"))] == [False] * 4
