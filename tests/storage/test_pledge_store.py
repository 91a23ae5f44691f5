"""The pledge repository (chalicelib/storage/pledges.py): a pledge moves the campaign's
totals and stock and the contributor's marker in one transaction, never the platform
counters (they follow from the table's stream: test_counter_store.py), and a refusal
names what refused it and writes nothing."""

import pytest

from chalicelib import storage
from chalicelib.records import NO_TOP_UP, Pledge
from chalicelib.storage import keys
from tests.records import ENDS, NOW, fund, idempotency, live, pledge, reward
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

SOON = "2026-06-02T09:30:00Z"
ATELIER = {"reward_id": "r-atelier", "reward_limited": True}  # the one place left at the workshop


@pytest.fixture(autouse=True)
def campaign(emulated_aws):
    """Live, with an unlimited reward and a workshop of one place."""
    campaign = live(rewards=(reward(), reward(id="r-atelier", title="Un atelier de tricot", quantity=1)))
    storage.campaigns.create(campaign)
    return campaign


def _record(made: Pledge, scope: str = "lea:cle-1", *, new_contributor: bool = True, now: str = NOW) -> None:
    storage.pledges.record(made, idempotency(scope), new_contributor=new_contributor, now=now, top_up=NO_TOP_UP)


def _totals() -> tuple[int, int, int | None]:
    """The campaign's raised total, pledge count and workshop places remaining."""
    campaign = storage.campaigns.get("c0ffee")
    return campaign.raised_cents, campaign.pledge_count, campaign.reward("r-atelier").remaining


def _counted() -> tuple[int, int, int]:
    counters = storage.counters.get()
    return counters.raised_cents, counters.pledge_count, counters.contributors


HUGO = {"id": "p-hugo", "contributor_id": "hugo", "contributor_name": "Hugo Lemonnier"}


# --- record ----------------------------------------------------------------------------


def test_record_writes_the_pledge_and_counts_it_in_the_campaign_not_in_a_platform_item():
    made = pledge(message="Bravo Camille, à bientôt rue Torteron !", **ATELIER)
    _record(made)
    assert storage.pledges.get("p-lea") == made
    assert _totals() == (5_000, 1, 0)
    assert storage.campaigns.get("c0ffee").crowd_cents == 5_000
    assert _counted() == (0, 0, 0)  # no item that every pledge writes
    assert storage.pledges.first_pledged_at("lea") == NOW


def test_the_same_idempotency_scope_twice_is_refused_and_writes_nothing():
    _record(pledge())
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(id="p-lea-2", amount_cents=9_000), new_contributor=False)
    assert refused.value.item == "idempotency"
    assert storage.pledges.get("p-lea-2") is None
    assert _totals()[:2] == (5_000, 1)


def test_an_expired_idempotency_record_is_taken_over():
    _record(pledge())
    later = idempotency(created_epoch=idempotency().expires_at + 1, expires_at=idempotency().expires_at + 86_401)
    storage.pledges.record(pledge(id="p-lea-2"), later, new_contributor=False, now=NOW, top_up=NO_TOP_UP)
    assert storage.pledges.read_context("c0ffee", "lea", "lea:cle-1").idempotency == later


def test_a_sold_out_limited_reward_is_refused_as_campaign_and_nothing_is_written():
    _record(pledge(**ATELIER))
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(**HUGO, **ATELIER), "hugo:cle-1")
    assert refused.value.item == "campaign"
    assert storage.pledges.get("p-hugo") is None
    assert _totals() == (5_000, 1, 0)
    assert storage.pledges.first_pledged_at("hugo") is None
    assert storage.pledges.read_context("c0ffee", "hugo", "hugo:cle-1").idempotency is None


def test_a_campaign_past_its_deadline_refuses_a_pledge_as_campaign():
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(), now="2026-07-12T00:00:00Z")
    assert refused.value.item == "campaign"
    assert stored.item(keys.pledge("p-lea")) is None


def test_a_closed_campaign_refuses_a_pledge_as_campaign(campaign):
    storage.campaigns.transition(campaign, "cancelled", {"cancelled_at": NOW, "closed_at": NOW})
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge())
    assert refused.value.item == "campaign"


def test_a_first_pledge_that_raced_another_is_refused_as_contributor():
    _record(pledge())
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(id="p-lea-2"), "lea:cle-2", new_contributor=True)
    assert refused.value.item == "contributor"
    assert storage.pledges.get("p-lea-2") is None


# --- cancel ----------------------------------------------------------------------------


def test_cancel_gives_back_the_amount_and_the_place_and_keeps_the_contributor_known():
    made = pledge(**ATELIER)
    _record(made)
    storage.pledges.cancel(made, SOON, "annulation-1")
    assert storage.pledges.get("p-lea") == made._replace(
        status="cancelled", cancelled_at=SOON, cancellation_id="annulation-1"
    )
    assert _totals() == (0, 0, 1)
    assert storage.pledges.first_pledged_at("lea") == NOW


def test_a_second_cancel_is_refused_as_pledge_and_gives_back_nothing_twice():
    made = pledge(**ATELIER)
    _record(made)
    storage.pledges.cancel(made, SOON, "annulation-1")
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.pledges.cancel(made, SOON, "annulation-2")
    assert refused.value.item == "pledge"
    assert storage.pledges.get("p-lea").cancellation_id == "annulation-1"
    assert _totals() == (0, 0, 1)


def test_cancel_on_a_closed_campaign_is_refused_as_campaign(campaign):
    made = pledge()
    _record(made)
    storage.campaigns.transition(storage.campaigns.get("c0ffee"), "failed", {"closed_at": ENDS})
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.pledges.cancel(made, SOON, "annulation-1")
    assert refused.value.item == "campaign"
    assert storage.pledges.get("p-lea").status == "active"


# --- reads -----------------------------------------------------------------------------


def test_read_context_answers_the_campaign_key_marker_and_fund_it_read():
    storage.funds.create(fund())
    before = storage.pledges.read_context("c0ffee", "lea", "lea:cle-1", "f-manche")
    assert before == (storage.campaigns.get("c0ffee"), None, False, storage.funds.get("f-manche"))
    _record(pledge())
    after = storage.pledges.read_context("c0ffee", "lea", "lea:cle-1")
    assert after == (storage.campaigns.get("c0ffee"), idempotency(), True, None)
    assert after.campaign.pledge_count == 1


def test_read_context_of_an_unknown_campaign_answers_none():
    assert storage.pledges.read_context("inconnue", "lea", "lea:cle-1").campaign is None


def test_backs_only_an_active_pledge_of_that_contributor_on_that_campaign():
    storage.campaigns.create(live(id="rythme", title="Le rythme des maux", owner_id="yannick"))
    made = pledge()
    _record(made)
    assert storage.pledges.backs("c0ffee", "lea") is True
    assert storage.pledges.backs("rythme", "lea") is False
    assert storage.pledges.backs("c0ffee", "hugo") is False
    storage.pledges.cancel(made, SOON, "annulation-1")
    assert storage.pledges.backs("c0ffee", "lea") is False


def test_a_campaigns_pledges_newest_first_the_cancelled_only_when_asked():
    first, second = pledge(), pledge(**HUGO, created_at=SOON)
    _record(first)
    _record(second, "hugo:cle-1")
    storage.pledges.cancel(first, SOON, "annulation-1")
    active, _ = storage.pledges.list_for_campaign("c0ffee", limit=10, cursor=None)
    every, _ = storage.pledges.list_for_campaign("c0ffee", limit=10, cursor=None, active_only=False)
    assert [p.id for p in active] == ["p-hugo"]
    assert [(p.id, p.status) for p in every] == [("p-hugo", "active"), ("p-lea", "cancelled")]


def test_a_contributors_pledges_newest_first_in_pages():
    for n in range(3):
        _record(
            pledge(id=f"p-lea-{n}", created_at=f"2026-06-0{n + 1}T10:00:00Z"), f"lea:cle-{n}", new_contributor=n == 0
        )
    _record(pledge(**HUGO), "hugo:cle-1")
    first, cursor = storage.pledges.list_for_contributor("lea", limit=2, cursor=None)
    rest, last = storage.pledges.list_for_contributor("lea", limit=2, cursor=cursor)
    assert [p.id for p in first + rest] == ["p-lea-2", "p-lea-1", "p-lea-0"]
    assert last is None
