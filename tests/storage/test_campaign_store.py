"""The campaign repository (chalicelib/storage/campaigns.py): what it writes reads back
equal, a write whose condition fails writes nothing, and a campaign's state decides the
lists it appears in."""

import functools

import pytest

from chalicelib import storage
from chalicelib.errors import BadRequest, Conflict
from chalicelib.records import NO_TOP_UP, Campaign
from chalicelib.storage import keys
from tests.records import ENDS, NOW, audit_entry, draft, idempotency, ledger_entry, live, media_entry, pledge, reward
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

LATER = "2026-08-01T00:00:00Z"  # after ENDS
CLOSED = "2026-07-12T06:00:00Z"


def _by_id(campaign: Campaign) -> Campaign:
    """Rewards and media in one order: the repository keeps them in maps, which have none."""
    return campaign._replace(
        rewards=tuple(sorted(campaign.rewards, key=lambda r: r.id)),
        media=tuple(sorted(campaign.media, key=lambda m: m.id)),
    )


def _status(campaign_id: str) -> str:
    return stored.item(keys.campaign(campaign_id))["status"]


# --- create, get, get_many ----------------------------------------------------------------


def test_a_created_campaign_reads_back_equal_rewards_media_and_accents_included():
    campaign = draft(
        title="« Le rythme des maux »",
        description="Un album enregistré à Saint-Lô avec les adolescents du service pédiatrique.",
        rewards=(reward(), reward(id="r-atelier", title="Un atelier à Coutances", quantity=12)),
        media=(
            media_entry(),
            media_entry(id="m-affiche", status="ready", key="media/c0ffee/affiche.png", ready_at=NOW),
        ),
        cover_media_id="m-affiche",
    )
    storage.campaigns.create(campaign)
    assert _by_id(storage.campaigns.get("c0ffee")) == _by_id(campaign)


def test_get_of_an_unknown_campaign_is_none():
    assert storage.campaigns.get("inconnue") is None


def test_a_second_campaign_with_the_same_id_is_refused_and_counted_once():
    storage.campaigns.create(draft())
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.campaigns.create(draft(title="Une autre campagne"))
    assert refused.value.item == "campaign"
    assert storage.campaigns.get("c0ffee").title == "Cocotte Minute"
    assert storage.counters.get().campaigns_by_status["draft"] == 1


def test_get_many_answers_those_found_by_id():
    for campaign_id in ("a", "b", "c"):
        storage.campaigns.create(draft(id=campaign_id, title=f"Campagne {campaign_id}"))
    found = storage.campaigns.get_many(["b", "a", "b", "inconnue"])
    assert found == {"a": storage.campaigns.get("a"), "b": storage.campaigns.get("b")}
    assert storage.campaigns.get_many([]) == {}


# --- update_draft ----------------------------------------------------------------------


def test_update_draft_sets_fields_and_adds_replaces_or_removes_rewards():
    storage.campaigns.create(draft(rewards=(reward(), reward(id="r-sac", title="Un sac en lin"))))
    atelier = reward(id="r-atelier", title="Un atelier de tricot", quantity=12)
    storage.campaigns.update_draft(
        "c0ffee",
        {"title": "Cocotte Minute à Saint-Lô", "updated_at": LATER},
        {"r-pelote": reward(min_amount_cents=3_000), "r-sac": None, "r-atelier": atelier},
    )
    assert _by_id(storage.campaigns.get("c0ffee")) == draft(
        title="Cocotte Minute à Saint-Lô", updated_at=LATER, rewards=(atelier, reward(min_amount_cents=3_000))
    )


def test_update_draft_of_a_submitted_campaign_is_refused_and_writes_nothing():
    storage.campaigns.create(draft(status="submitted", submitted_at=NOW, rewards=(reward(),)))
    before = stored.item(keys.campaign("c0ffee"))
    with pytest.raises(Conflict):
        storage.campaigns.update_draft("c0ffee", {"title": "Changée"}, {"r-pelote": None})
    assert stored.item(keys.campaign("c0ffee")) == before


def test_update_draft_of_an_unknown_campaign_is_refused_and_creates_nothing():
    with pytest.raises(Conflict):
        storage.campaigns.update_draft("inconnue", {"title": "Fantôme"})
    assert stored.item(keys.campaign("inconnue")) is None


# --- transition ------------------------------------------------------------------------


def test_transition_moves_the_state_and_answers_the_campaign_as_stored():
    campaign = draft(rejection_reason="Précisez le budget de la vitrine")
    storage.campaigns.create(campaign)
    moved = storage.campaigns.transition(campaign, "submitted", {"submitted_at": NOW}, ("rejection_reason",))
    assert moved == campaign._replace(status="submitted", submitted_at=NOW, rejection_reason=None)
    assert storage.campaigns.get("c0ffee") == moved


def test_transition_from_a_state_the_campaign_left_is_refused_and_counts_nothing():
    campaign = draft()
    storage.campaigns.create(campaign)
    storage.campaigns.transition(campaign, "submitted", {"submitted_at": NOW})
    with pytest.raises(Conflict):
        storage.campaigns.transition(campaign, "submitted", {"submitted_at": LATER})
    assert storage.campaigns.get("c0ffee").submitted_at == NOW
    assert storage.counters.get().campaigns_by_status == {
        "draft": 0,
        "submitted": 1,
        "live": 0,
        "succeeded": 0,
        "failed": 0,
        "cancelled": 0,
    }


def test_transition_is_refused_when_a_field_named_unchanged_moved_since_read():
    campaign = live()
    storage.campaigns.create(campaign)
    storage.pledges.record(pledge(), idempotency(), now=NOW)
    stored.pay(pledge(), ledger_entry(pledge()), NO_TOP_UP)  # raised_cents moves when it is paid
    with pytest.raises(Conflict):
        storage.campaigns.transition(campaign, "failed", {"closed_at": CLOSED}, unchanged=("raised_cents",))
    assert _status("c0ffee") == "live"
    fresh = storage.campaigns.get("c0ffee")
    closed = storage.campaigns.transition(fresh, "failed", {"closed_at": CLOSED}, unchanged=("raised_cents",))
    assert (closed.status, closed.raised_cents) == ("failed", 5_000)


def test_transition_writes_its_audit_entry_with_it_and_none_when_refused():
    campaign = draft()
    storage.campaigns.create(campaign)
    storage.campaigns.transition(campaign, "submitted", {"submitted_at": NOW}, entry=audit_entry(id="a-1"))
    with pytest.raises(Conflict):
        storage.campaigns.transition(campaign, "submitted", {"submitted_at": NOW}, entry=audit_entry(id="a-2"))
    entries, _ = storage.audit.list_entries(campaign_id="c0ffee", limit=10, cursor=None)
    assert [entry.id for entry in entries] == ["a-1"]


def test_a_transition_whose_audit_entry_exists_is_refused_whole():
    campaign = draft()
    storage.campaigns.create(campaign)
    storage.audit.append(audit_entry(id="a-1"))
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.campaigns.transition(campaign, "submitted", {"submitted_at": NOW}, entry=audit_entry(id="a-1"))
    assert refused.value.item == "audit"
    assert _status("c0ffee") == "draft"


# --- where a state lists a campaign ------------------------------------------------------

SUBMIT = ("submitted", {"submitted_at": NOW}, ())
APPROVE = ("live", {"launched_at": NOW, "ends_at": ENDS}, ())
PATHS = {
    "draft": [],
    "submitted": [SUBMIT],
    "rejected": [SUBMIT, ("draft", {"rejection_reason": "Précisez le budget"}, ("submitted_at",))],
    "live": [SUBMIT, APPROVE],
    "succeeded": [SUBMIT, APPROVE, ("succeeded", {"closed_at": CLOSED}, ())],
    "failed": [SUBMIT, APPROVE, ("failed", {"closed_at": CLOSED}, ())],
    "cancelled": [SUBMIT, APPROVE, ("cancelled", {"cancelled_at": "2026-06-15T09:00:00Z", "closed_at": CLOSED}, ())],
}
LISTED = {
    "draft": {"owner"},
    "submitted": {"owner", "submitted"},
    "rejected": {"owner"},
    "live": {"owner", "public", "due"},
    "succeeded": {"owner", "public", "closed", "settling"},
    "failed": {"owner", "public", "closed", "settling"},
    "cancelled": {"owner", "public cancelled", "closed", "settling"},
}


def _lists() -> dict[str, list[Campaign]]:
    page = {"limit": 10, "cursor": None}
    settling, _ = storage.settlement.list_settling(**page)
    return {
        "owner": storage.campaigns.list_by_owner("camille", **page)[0],
        "submitted": storage.campaigns.list_submitted(**page)[0],
        "public": storage.campaigns.list_public(sort="newest", now=NOW, **page)[0],
        "public cancelled": storage.campaigns.list_public(sort="newest", now=NOW, status="cancelled", **page)[0],
        "due": storage.campaigns.list_due(before=LATER, **page)[0],
        "closed": storage.campaigns.list_closed(since=NOW, until=LATER, **page)[0],
        "settling": [s.campaign for s in settling],
    }


@pytest.mark.parametrize("state", PATHS)
def test_a_campaign_is_listed_where_its_state_says_and_as_get_reads_it(state):
    campaign = draft()
    storage.campaigns.create(campaign)
    for new_status, changes, remove in PATHS[state]:
        campaign = storage.campaigns.transition(campaign, new_status, changes, remove)
    assert storage.campaigns.get("c0ffee") == campaign
    lists = _lists()
    assert {name for name, found in lists.items() if found} == LISTED[state]
    assert all(found == [campaign] for found in lists.values() if found)


# --- public and work lists ---------------------------------------------------------------


def _live(campaign_id: str, launched: str, ends: str, raised: int, category: str, postcode: str) -> None:
    storage.campaigns.create(
        live(
            id=campaign_id,
            launched_at=launched,
            ends_at=ends,
            raised_cents=raised,
            category=category,
            postcode=postcode,
            created_at=launched,
        )
    )


@pytest.fixture
def three_live():
    """Saint-Lô (culture), Cherbourg (business) and Caen (culture, past its deadline)."""
    _live("saint-lo", "2026-05-01T08:00:00Z", "2026-06-10T21:59:59Z", 50_000, "culture", "50000")
    _live("cherbourg", "2026-05-20T08:00:00Z", "2026-07-01T21:59:59Z", 150_000, "business", "50100")
    _live("caen", "2026-05-10T08:00:00Z", "2026-05-31T21:59:59Z", 10_000, "culture", "14000")


def _ids(page: tuple[list[Campaign], str | None]) -> list[str]:
    return [campaign.id for campaign in page[0]]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["cherbourg", "caen", "saint-lo"]),
        ("ending_soon", ["saint-lo", "cherbourg"]),  # not Caen: its deadline is past
        ("most_funded", ["cherbourg", "saint-lo", "caen"]),
    ],
    ids=["newest", "ending_soon", "most_funded"],
)
def test_list_public_sorts(three_live, sort, expected):
    assert _ids(storage.campaigns.list_public(sort=sort, limit=10, cursor=None, now=NOW)) == expected


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"category": "culture"}, ["caen", "saint-lo", "coutances"]),
        ({"postcode": "50"}, ["cherbourg", "saint-lo", "coutances"]),
        ({"status": "live"}, ["cherbourg", "caen", "saint-lo"]),
        ({"status": "succeeded"}, ["coutances"]),
        ({"status": "live", "category": "culture", "postcode": "50"}, ["saint-lo"]),
    ],
    ids=["category", "postcode prefix", "live", "succeeded", "all three"],
)
def test_list_public_filters(three_live, filters, expected):
    storage.campaigns.create(
        live(
            id="coutances",
            status="succeeded",
            launched_at="2026-04-01T08:00:00Z",
            closed_at=NOW,
            category="culture",
            postcode="50200",
            commune="Coutances",
        )
    )
    assert _ids(storage.campaigns.list_public(sort="newest", limit=10, cursor=None, now=NOW, **filters)) == expected


def test_list_due_answers_live_campaigns_past_a_time_soonest_first(three_live):
    assert _ids(storage.campaigns.list_due(before="2026-06-30T00:00:00Z", limit=10, cursor=None)) == [
        "caen",
        "saint-lo",
    ]


def test_a_campaign_is_reminded_once_and_then_no_longer_listed_to_remind(three_live):
    window = {"after": NOW, "before": "2026-06-12T00:00:00Z", "limit": 10, "cursor": None}
    assert _ids(storage.campaigns.list_to_remind(**window)) == ["saint-lo"]
    assert storage.campaigns.mark_reminded("saint-lo", NOW) is True
    assert storage.campaigns.mark_reminded("saint-lo", LATER) is False
    assert _ids(storage.campaigns.list_to_remind(**window)) == []
    assert stored.item(keys.campaign("saint-lo"))["reminded_at"] == NOW


def test_mark_reminded_of_an_unknown_campaign_creates_nothing():
    assert storage.campaigns.mark_reminded("inconnue", NOW) is False
    assert stored.item(keys.campaign("inconnue")) is None


def test_list_by_owner_answers_their_campaigns_newest_first(three_live):
    storage.campaigns.create(draft(id="autre", owner_id="yannick", owner_name="Yannick Hervé"))
    assert _ids(storage.campaigns.list_by_owner("camille", limit=10, cursor=None)) == [
        "cherbourg",
        "caen",
        "saint-lo",
    ]


def test_list_closed_answers_campaigns_closed_between_two_times_in_either_order():
    for month in ("03", "04", "05"):
        storage.campaigns.create(live(id=f"close-{month}", status="failed", closed_at=f"2026-{month}-01T00:00:00Z"))
    window = {"since": "2026-03-15T00:00:00Z", "until": "2026-05-15T00:00:00Z", "limit": 10, "cursor": None}
    assert _ids(storage.campaigns.list_closed(**window)) == ["close-04", "close-05"]
    assert _ids(storage.campaigns.list_closed(**window, newest_first=True)) == ["close-05", "close-04"]


# --- pages and cursors -------------------------------------------------------------------


def _all_pages(read, **kwargs) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        found, cursor = read(cursor=cursor, **kwargs)
        pages.append([item.id for item in found])
        if cursor is None:
            return pages


def test_pages_follow_their_cursor_and_the_last_one_has_none():
    for n in range(1, 6):
        storage.campaigns.create(draft(id=f"s{n}", status="submitted", submitted_at=f"2026-05-0{n}T10:00:00Z"))
    assert _all_pages(storage.campaigns.list_submitted, limit=2) == [["s1", "s2"], ["s3", "s4"], ["s5"]]


def test_a_filtered_list_fills_its_pages_and_goes_on_after_the_last_item_shown():
    categories = ("culture", "business", "culture", "culture", "business", "culture")  # newest first
    for n, category in enumerate(categories):
        launched = f"2026-05-0{9 - n}T10:00:00Z"
        storage.campaigns.create(live(id=f"{category}-{n}", category=category, launched_at=launched))
    read = functools.partial(storage.campaigns.list_public, sort="newest", now=NOW, category="culture")
    assert _all_pages(read, limit=2) == [["culture-0", "culture-2"], ["culture-3", "culture-5"]]


@pytest.mark.parametrize(
    "cursor",
    [
        "pas-un-curseur",
        "W10=",  # []
        "eyJwayI6IHsiUyI6IDF9fQ==",  # {"pk": {"S": 1}}
        "eyJwayI6IHsiQk9PTCI6IHRydWV9fQ==",  # {"pk": {"BOOL": true}}
        "__79",  # not UTF-8
    ],
)
def test_a_forged_cursor_is_a_bad_request_naming_the_cursor(cursor):
    with pytest.raises(BadRequest) as refused:
        storage.campaigns.list_submitted(limit=2, cursor=cursor)
    assert [error["field"] for error in refused.value.errors] == ["cursor"]
