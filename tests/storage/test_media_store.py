"""A campaign's media entries (chalicelib/storage/media.py): written while the campaign
takes media, each change conditioned on the entry's state as it was read."""

import pytest

from chalicelib import storage
from chalicelib.errors import Conflict
from tests.records import ENDS, NOW, audit_entry, draft, live, media_entry

pytestmark = pytest.mark.usefixtures("emulated_aws")

SOON = "2026-06-02T09:30:00Z"
AFFICHE = media_entry(id="m-affiche", filename="affiche-rythme-des-maux.png")


def _media(campaign_id: str = "c0ffee") -> dict[str, str]:
    """Media id -> status."""
    return {m.id: m.status for m in storage.campaigns.get(campaign_id).media}


def test_an_added_entry_reads_back_in_its_campaign():
    storage.campaigns.create(draft())
    storage.media.add("c0ffee", media_entry(), now=NOW, max_count=3)
    assert storage.campaigns.get("c0ffee").media == (media_entry(),)


@pytest.mark.parametrize(
    ("campaign", "now"),
    [
        (draft(status="submitted", submitted_at=NOW), NOW),
        (live(), "2026-07-12T00:00:00Z"),  # past its deadline
        (live(status="succeeded", closed_at=ENDS), NOW),
    ],
    ids=["submitted", "live past its end", "closed"],
)
def test_a_campaign_that_does_not_take_media_refuses_an_entry(campaign, now):
    storage.campaigns.create(campaign)
    with pytest.raises(Conflict):
        storage.media.add("c0ffee", media_entry(), now=now, max_count=3)
    assert _media() == {}


def test_an_entry_is_refused_beyond_the_count_or_under_an_id_taken():
    storage.campaigns.create(live(media=(media_entry(),)))
    with pytest.raises(Conflict):
        storage.media.add("c0ffee", media_entry(status="ready"), now=NOW, max_count=3)
    with pytest.raises(Conflict):
        storage.media.add("c0ffee", AFFICHE, now=NOW, max_count=1)
    storage.media.add("c0ffee", AFFICHE, now=NOW, max_count=2)
    assert _media() == {"m-vitrine": "pending", "m-affiche": "pending"}


def test_replace_moves_an_entry_only_from_the_state_it_was_read_in():
    storage.campaigns.create(draft(media=(media_entry(),)))
    ready = media_entry(status="ready", key="media/c0ffee/m-vitrine.png", ready_at=SOON)
    storage.media.replace("c0ffee", ready, expected="pending")
    with pytest.raises(Conflict):
        storage.media.replace("c0ffee", media_entry(status="rejected", reason="pas une image"), expected="pending")
    assert storage.campaigns.get("c0ffee").media == (ready,)


def test_replace_with_a_time_also_needs_the_campaign_to_take_media():
    storage.campaigns.create(live(status="failed", closed_at=ENDS, media=(media_entry(),)))
    with pytest.raises(Conflict):
        storage.media.replace("c0ffee", media_entry(status="ready"), expected="pending", now=SOON)
    assert _media() == {"m-vitrine": "pending"}


def test_drop_removes_abandoned_entries_only_if_none_moved():
    storage.campaigns.create(draft(media=(media_entry(), AFFICHE._replace(status="ready"))))
    with pytest.raises(Conflict):
        storage.media.drop("c0ffee", {"m-vitrine": "pending", "m-affiche": "pending"})
    assert _media() == {"m-vitrine": "pending", "m-affiche": "ready"}
    storage.media.drop("c0ffee", {"m-vitrine": "pending"})
    assert _media() == {"m-affiche": "ready"}


def test_removing_the_cover_takes_the_cover_with_it_and_writes_the_audit_entry():
    storage.campaigns.create(live(media=(AFFICHE._replace(status="ready"),), cover_media_id="m-affiche"))
    storage.media.remove("c0ffee", "m-affiche", now=SOON, is_cover=True, entry=audit_entry(id="a-media"))
    campaign = storage.campaigns.get("c0ffee")
    assert (campaign.media, campaign.cover_media_id, campaign.updated_at) == ((), None, SOON)
    assert [e.id for e in storage.audit.list_entries(campaign_id="c0ffee", limit=10, cursor=None)[0]] == ["a-media"]


@pytest.mark.parametrize("is_cover", [True, False], ids=["read as the cover", "read as not the cover"])
def test_removing_an_entry_whose_cover_status_changed_since_read_is_refused(is_cover):
    cover = "m-vitrine" if is_cover else "m-affiche"
    storage.campaigns.create(draft(media=(media_entry(), AFFICHE), cover_media_id=cover))
    with pytest.raises(Conflict):
        storage.media.remove("c0ffee", "m-affiche", now=SOON, is_cover=is_cover, entry=audit_entry(id="a-media"))
    assert _media() == {"m-vitrine": "pending", "m-affiche": "pending"}
    assert storage.audit.list_entries(campaign_id="c0ffee", limit=10, cursor=None) == ([], None)
