"""The audit repository (chalicelib/storage/audit.py): append-only entries, listed newest
first (all, by campaign, by actor), their time given back without the id that orders them."""

import pytest

from chalicelib import storage
from chalicelib.errors import Conflict
from chalicelib.storage import keys
from tests.records import NOW, audit_entry
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")


def _ids(page) -> list[str]:
    return [entry.id for entry in page[0]]


def test_an_appended_entry_reads_back_equal_with_its_time_alone():
    entry = audit_entry(
        action="campaign_rejected",
        actor_id="moderatrice",
        actor_moderator=True,
        before={"status": "submitted", "rejection_reason": None, "goal_cents": 200_000},
        after={"status": "draft", "rejection_reason": "Précisez le budget de la vitrine à Saint-Lô"},
    )
    storage.audit.append(entry)
    assert storage.audit.list_entries(campaign_id="c0ffee", limit=10, cursor=None) == ([entry], None)
    assert stored.item(keys.audit("a-1"))["created_at"] == f"{NOW}#a-1"  # ordered within its second


def test_an_entry_is_never_overwritten():
    storage.audit.append(audit_entry())
    with pytest.raises(Conflict):
        storage.audit.append(audit_entry(action="campaign_approved"))
    assert [e.action for e in storage.audit.list_entries(campaign_id=None, limit=10, cursor=None)[0]] == [
        "campaign_submitted"
    ]


@pytest.fixture
def four_entries():
    """Camille and the moderator on two campaigns, then on a fund (no campaign)."""
    for n, (actor, campaign_id) in enumerate(
        [("camille", "c0ffee"), ("moderatrice", "c0ffee"), ("camille", "rythme"), ("moderatrice", None)], start=1
    ):
        entry = audit_entry(id=f"a-{n}", actor_id=actor, campaign_id=campaign_id, created_at=f"2026-06-0{n}T10:00:00Z")
        storage.audit.append(entry._replace(target="fund/f-manche") if campaign_id is None else entry)


def test_entries_newest_first(four_entries):
    assert _ids(storage.audit.list_entries(campaign_id=None, limit=10, cursor=None)) == ["a-4", "a-3", "a-2", "a-1"]


def test_a_campaigns_entries_newest_first(four_entries):
    assert _ids(storage.audit.list_entries(campaign_id="c0ffee", limit=10, cursor=None)) == ["a-2", "a-1"]


@pytest.mark.parametrize(("actor", "expected"), [("camille", ["a-3", "a-1"]), ("moderatrice", ["a-4", "a-2"])])
def test_an_actors_entries_newest_first(four_entries, actor, expected):
    assert _ids(storage.audit.list_by_actor(actor, limit=10, cursor=None)) == expected


def test_entries_of_the_same_second_keep_one_order_across_pages():
    for entry_id in ("a-1", "a-2", "a-3"):
        storage.audit.append(audit_entry(id=entry_id))
    first, cursor = storage.audit.list_entries(campaign_id="c0ffee", limit=2, cursor=None)
    rest, last = storage.audit.list_entries(campaign_id="c0ffee", limit=2, cursor=cursor)
    assert [e.id for e in first + rest] == ["a-3", "a-2", "a-1"]
    assert last is None
    assert {e.created_at for e in first + rest} == {NOW}
