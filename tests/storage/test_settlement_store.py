"""The settlement repository (chalicelib/storage/settlement.py): a closed campaign stays in
the settling list until it is finished once, and the checkpoint of a pass comes back as
Settlement fields only. Each pledge's move at settlement (collected, refunded) is the
pledge repository's: tests/storage/test_pledge_store.py."""

import pytest

from chalicelib import storage
from chalicelib.records import NO_TOP_UP, Settlement
from chalicelib.storage import keys
from tests.records import NOW, idempotency, ledger_entry, live, pledge
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

CLOSED = "2026-07-12T06:00:00Z"
RUN = "2026-07-12T06:10:00Z"


def _closed(campaign_id: str = "c0ffee", closed_at: str = CLOSED, backers: tuple[str, ...] = ()) -> None:
    """A campaign that succeeded at `closed_at`, with a paid pledge of each backer."""
    storage.campaigns.create(live(id=campaign_id))
    for who in backers:
        made = pledge(id=f"p-{who}", campaign_id=campaign_id, contributor_id=who)
        storage.pledges.record(made, idempotency(f"{who}:1"), now=NOW)
        stored.pay(made, ledger_entry(made), NO_TOP_UP)
    storage.campaigns.transition(storage.campaigns.get(campaign_id), "succeeded", {"closed_at": closed_at})


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
