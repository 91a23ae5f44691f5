"""The settlement repository (chalicelib/storage/settlement.py): each pledge's outcome is
written once whatever the runs, a closed campaign stays in the settling list until it is
finished once, and the checkpoint of a pass comes back as Settlement fields only."""

import pytest

from chalicelib import storage
from chalicelib.records import NO_TOP_UP, Pledge, Settlement
from chalicelib.storage import keys
from tests.records import NOW, idempotency, live, pledge
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

CLOSED = "2026-07-12T06:00:00Z"
RUN = "2026-07-12T06:10:00Z"
COLLECTED = {"settlement": "collected", "settled_at": RUN, "payment_attempts": 1}
FAILED = {"settlement": "payment_failed", "settlement_reason": "carte refusée", "payment_attempts": 1}
BACKERS = ("lea", "hugo", "maelle")


def _closed(campaign_id: str = "c0ffee", closed_at: str = CLOSED, backers: tuple[str, ...] = ()) -> list[Pledge]:
    """A campaign that succeeded at `closed_at`, with a pledge of each backer."""
    campaign = live(id=campaign_id)
    storage.campaigns.create(campaign)
    made = [pledge(id=f"p-{who}", campaign_id=campaign_id, contributor_id=who) for who in backers]
    for p in made:
        storage.pledges.record(p, idempotency(f"{p.contributor_id}:1"), new_contributor=True, now=NOW, top_up=NO_TOP_UP)
    storage.campaigns.transition(storage.campaigns.get(campaign_id), "succeeded", {"closed_at": closed_at})
    return made


def _settlements(pledges: list[Pledge]) -> list[str | None]:
    return [storage.pledges.get(p.id).settlement for p in pledges]


# --- outcomes --------------------------------------------------------------------------


def test_record_outcomes_moves_each_pledge_once():
    made = _closed(backers=BACKERS)
    outcomes = [(p, COLLECTED) for p in made]
    assert storage.settlement.record_outcomes(outcomes) == [True, True, True]
    assert storage.settlement.record_outcomes(outcomes) == [False, False, False]
    assert storage.pledges.get("p-lea") == made[0]._replace(settlement="collected", settled_at=RUN, payment_attempts=1)


def test_outcomes_of_a_batch_where_another_run_moved_one_are_written_one_by_one():
    made = _closed(backers=BACKERS)
    assert storage.settlement.record_outcome(made[1], FAILED) is True
    assert storage.settlement.record_outcomes([(p, COLLECTED) for p in made]) == [True, False, True]
    assert _settlements(made) == ["collected", "payment_failed", "collected"]


def test_a_failed_payment_moves_again_only_from_the_attempt_this_run_saw():
    (made,) = _closed(backers=("lea",))
    assert storage.settlement.record_outcome(made, FAILED) is True
    assert storage.settlement.record_outcome(made, {**FAILED, "payment_attempts": 2}) is False  # read before
    seen = storage.pledges.get("p-lea")
    assert storage.settlement.record_outcome(seen, {**COLLECTED, "payment_attempts": 2}) is True
    assert storage.settlement.record_outcome(seen, {**FAILED, "payment_attempts": 3}) is False  # collected for good


# --- the settling list, finish ---------------------------------------------------------


def test_closed_campaigns_are_settling_oldest_closure_first_until_finished_once():
    _closed("rythme", closed_at="2026-07-13T06:00:00Z")
    _closed("c0ffee")
    storage.campaigns.create(live(id="en-cours"))
    settling, _ = storage.settlement.list_settling(limit=10, cursor=None)
    assert [s.campaign.id for s in settling] == ["c0ffee", "rythme"]
    assert storage.settlement.finish("c0ffee", RUN) is True
    assert storage.settlement.finish("c0ffee", "2026-07-12T07:00:00Z") is False
    settling, _ = storage.settlement.list_settling(limit=10, cursor=None)
    assert [s.campaign.id for s in settling] == ["rythme"]
    closed, _ = storage.campaigns.list_closed(since=NOW, until="2027-01-01T00:00:00Z", limit=10, cursor=None)
    assert [c.id for c in closed] == ["c0ffee", "rythme"]  # closed for good, settled or not


def test_the_checkpoint_of_a_pass_comes_back_as_settlement_fields_only():
    _closed(backers=("lea",))
    campaign = storage.campaigns.get("c0ffee")
    storage.settlement.save_progress("c0ffee", "curseur-opaque", 2, RUN)
    assert storage.settlement.get("c0ffee") == Settlement(campaign, False, "curseur-opaque", 2, RUN, False)
    assert storage.campaigns.get("c0ffee") == campaign
    storage.settlement.save_progress("c0ffee", None, 0, "2026-07-12T06:20:00Z")
    storage.settlement.touch("c0ffee", "2026-07-12T06:30:00Z")
    assert storage.settlement.get("c0ffee") == Settlement(campaign, False, None, 0, "2026-07-12T06:30:00Z", False)
    storage.settlement.finish("c0ffee", "2026-07-12T06:40:00Z")
    assert storage.settlement.get("c0ffee").settled is True


def test_the_settling_list_carries_the_checkpoint_too():
    _closed()
    storage.settlement.save_progress("c0ffee", "curseur-opaque", 1, RUN)
    settling, _ = storage.settlement.list_settling(limit=10, cursor=None)
    assert settling == [storage.settlement.get("c0ffee")]


def test_the_owner_is_told_once():
    _closed()
    assert storage.settlement.claim_owner_mail("c0ffee", RUN) is True
    assert storage.settlement.claim_owner_mail("c0ffee", "2026-07-12T07:00:00Z") is False
    assert stored.item(keys.campaign("c0ffee"))["owner_notified_at"] == RUN


def test_get_of_an_unknown_campaign_is_none():
    assert storage.settlement.get("inconnue") is None
