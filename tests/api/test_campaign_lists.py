"""Lists as a web client reads them: the public list (states, filters, sorts, cursor
pagination), /me/campaigns, the moderation queue, and /stats through the lifecycle.

Each test has a table of its own (the `client` fixture), since it reads whole lists.
Launch times are set by patching chalicelib.clock.now; amounts raised come from real
pledges through the API.
"""

import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from chalicelib import clock, finalisation, payments
from tests.api.test_campaigns_api import (
    MODERATOR,
    OWNER,
    REASON,
    SPEC_FIELDS,
    STRANGER,
    approve,
    at,
    call,
    create_draft,
    launch,
    stats,
    submit,
)
from tests.conftest import bearer
from tests.factories import complete_payment

BACKER = bearer("backer-lea", name="Léa Dupont")


@pytest.fixture
def clock_at(monkeypatch):
    """Sets the platform's clock to an ISO moment for what follows."""

    def set_clock(moment: str) -> None:
        monkeypatch.setattr(clock, "now", at(moment))

    return set_clock


def ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


def public(client, who=None, **params) -> dict:
    answer = call(client, "GET", "/campaigns?" + urlencode(params), who)
    assert answer.status == 200, answer.json
    return answer.json


def walk(client, path: str, who=None, **params) -> list[list[str]]:
    """Every page of a list, following next_cursor; answers the ids page by page."""
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        answer = call(client, "GET", f"{path}?{urlencode(query)}", who)
        assert answer.status == 200, answer.json
        pages.append(ids(answer.json["items"]))
        cursor = answer.json.get("next_cursor")
        if cursor is None:
            assert "next_cursor" not in answer.json  # absent, not null, on the last page
            return pages
        assert len(pages) < 50, "the cursor does not advance"


def close(client, campaign: dict, outcome: str) -> None:
    """Closes a live campaign past its deadline and payment window through the deadline
    function. DRAFT's campaigns keep it all: they succeed iff they raised anything."""
    if outcome == "succeeded":
        pledge(client, campaign["id"], 1_000)
    after_window = clock.parse(campaign["ends_at"]) + payments.window() + timedelta(seconds=1)
    assert finalisation.close(campaign["id"], after_window) == outcome


def pledge(client, campaign_id: str, amount_cents: int) -> None:
    """A pledge, paid on the sandbox's hosted page."""
    headers = {**BACKER, "Idempotency-Key": uuid.uuid4().hex}
    answer = call(client, "POST", f"/campaigns/{campaign_id}/pledges", headers, {"amount_cents": amount_cents})
    assert answer.status == 201, answer.json
    complete_payment(client, answer.json["payment"]["redirect_url"], "succeeded")


# --- what the public list shows ------------------------------------------------------------


def test_the_public_list_shows_live_and_ended_campaigns_only(client):
    draft = create_draft(client, title="Brouillon")
    submitted = submit(client, create_draft(client, title="En attente")["id"])
    live = launch(client, title="En cours")
    cancelled = launch(client, title="Annulée")
    call(client, "POST", f"/campaigns/{cancelled['id']}/cancel", OWNER)
    succeeded, failed = launch(client, title="Réussie"), launch(client, title="Échouée")
    close(client, succeeded, "succeeded")
    close(client, failed, "failed")

    for who in (None, STRANGER, OWNER, MODERATOR):
        listed = public(client, who, limit=100)["items"]
        assert {(c["id"], c["status"]) for c in listed} == {
            (live["id"], "live"),
            (succeeded["id"], "succeeded"),
            (failed["id"], "failed"),
        }
        assert all(c.keys() >= SPEC_FIELDS for c in listed)
    assert ids(public(client, status="live")["items"]) == [live["id"]]
    assert ids(public(client, status="succeeded")["items"]) == [succeeded["id"]]
    assert ids(public(client, status="failed")["items"]) == [failed["id"]]
    assert ids(public(client, status="cancelled")["items"]) == [cancelled["id"]]
    # the owner's own list is where drafts and submitted campaigns are
    mine = call(client, "GET", "/me/campaigns?limit=100", OWNER).json["items"]
    assert {c["id"] for c in mine} >= {draft["id"], submitted["id"]}
    assert call(client, "GET", "/me/campaigns", STRANGER).json == {"items": []}


def test_a_public_item_is_the_campaign_as_get_shows_it(client):
    campaign = launch(client)
    [listed] = public(client)["items"]
    assert listed == call(client, "GET", f"/campaigns/{campaign['id']}").json


PLACES = [
    # title, category, postcode, commune
    ("Album à l'hôpital", "culture", "50000", "Saint-Lô"),
    ("Épicerie du port", "business", "50100", "Cherbourg-en-Cotentin"),
    ("Festival des Pieds dans l'eau", "culture", "50100", "Cherbourg-en-Cotentin"),
    ("Club de voile", "sport", "50400", "Granville"),
]
FILTERS = [
    ({"category": "culture"}, {"Album à l'hôpital", "Festival des Pieds dans l'eau"}),
    ({"postcode": "501"}, {"Épicerie du port", "Festival des Pieds dans l'eau"}),
    ({"postcode": "50100", "category": "culture"}, {"Festival des Pieds dans l'eau"}),
    ({"postcode": "50"}, {title for title, *_ in PLACES}),
    ({"postcode": "5040"}, {"Club de voile"}),
    ({"postcode": "50400", "category": "culture"}, set()),
    ({"category": "heritage"}, set()),
    ({"postcode": "14"}, set()),
    ({"status": "live", "category": "sport"}, {"Club de voile"}),
]


def test_filters_by_category_and_postcode_prefix(client):
    for title, category, postcode, commune in PLACES:
        launch(client, title=title, category=category, postcode=postcode, commune=commune)

    for params, titles in FILTERS:
        page = public(client, **params)
        assert {c["title"] for c in page["items"]} == titles, params
        assert "next_cursor" not in page, params


# --- sorts ----------------------------------------------------------------------------------


def test_newest_lists_by_launch_time_latest_first(client, clock_at):
    # created in one order, approved in another: the launch is what counts
    drafts = {name: submit(client, create_draft(client, title=name)["id"]) for name in ("Aube", "Midi", "Soir")}
    for name, moment in (
        ("Midi", "2026-04-02T12:00:00Z"),
        ("Soir", "2026-04-03T18:00:00Z"),
        ("Aube", "2026-04-01T06:00:00Z"),
    ):
        clock_at(moment)
        approve(client, drafts[name]["id"])

    assert [c["title"] for c in public(client)["items"]] == ["Soir", "Midi", "Aube"]
    assert [c["title"] for c in public(client, sort="newest")["items"]] == ["Soir", "Midi", "Aube"]


def test_ending_soon_lists_open_campaigns_by_deadline(client, clock_at):
    clock_at("2026-01-02T09:00:00Z")
    over = launch(client, title="Déjà close", duration_days=5)
    close(client, over, "succeeded")
    clock_at("2026-03-01T09:00:00Z")
    for title, days in (("Trente jours", 30), ("Dix jours", 10), ("Vingt jours", 20)):
        launch(client, title=title, duration_days=days)

    clock_at("2026-03-05T09:00:00Z")
    listed = public(client, sort="ending_soon")["items"]

    assert [c["title"] for c in listed] == ["Dix jours", "Vingt jours", "Trente jours"]
    assert [c["ends_at"] for c in listed] == sorted(c["ends_at"] for c in listed)
    assert "Déjà close" in {c["title"] for c in public(client, sort="newest")["items"]}


def test_most_funded_lists_by_amount_raised_and_shows_overfunding(client):
    modest, overfunded, unfunded = (launch(client, title=t, goal_cents=10_000) for t in ("Modeste", "Dépassée", "Rien"))
    pledge(client, modest["id"], 5_000)
    pledge(client, overfunded["id"], 20_000)
    pledge(client, overfunded["id"], 5_000)

    listed = public(client, sort="most_funded")["items"]

    assert [(c["title"], c["raised_cents"], c["percent_funded"]) for c in listed] == [
        ("Dépassée", 25_000, 250),
        ("Modeste", 5_000, 50),
        ("Rien", 0, 0),
    ]
    assert ids(listed) == [overfunded["id"], modest["id"], unfunded["id"]]


# --- cursor pagination ---------------------------------------------------------------------


@pytest.fixture
def seven_live(client, clock_at):
    """Seven live campaigns launched a day apart, with deadlines in another order, four of
    them culture; none has raised anything yet (ties on the most_funded key)."""
    made = []
    for n, days in enumerate((30, 50, 20, 60, 10, 40, 25)):
        clock_at(f"2026-05-0{n + 1}T10:00:00Z")
        category = "culture" if n % 2 == 0 else "social"
        made.append(launch(client, title=f"Projet n°{n + 1}", category=category, duration_days=days))
    clock_at("2026-05-08T10:00:00Z")
    return made


@pytest.mark.parametrize("sort", ["newest", "ending_soon", "most_funded"])
def test_the_cursor_walks_every_campaign_exactly_once(client, seven_live, sort):
    whole = ids(public(client, sort=sort, limit=100)["items"])

    pages = walk(client, "/campaigns", sort=sort, limit=3)

    assert sorted(whole) == sorted(ids(seven_live))
    if sort == "ending_soon":
        assert [c["title"] for c in public(client, sort=sort, limit=100)["items"]][:3] == [
            "Projet n°5", "Projet n°3", "Projet n°1",
        ]  # fmt: skip
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [item for page in pages for item in page] == whole


def test_the_cursor_walks_a_filtered_list_exactly_once(client, seven_live):
    culture = [c["id"] for c in seven_live if c["category"] == "culture"]

    pages = walk(client, "/campaigns", category="culture", limit=2)

    walked = [item for page in pages for item in page]
    assert walked == culture[::-1]  # newest first
    assert all(len(page) <= 2 for page in pages)


# --- /me/campaigns and the moderation queue --------------------------------------------------


def test_my_campaigns_lists_my_campaigns_in_every_state_newest_first(client, clock_at):
    made = []
    for n, state in enumerate(("draft", "submitted", "live", "cancelled")):
        clock_at(f"2026-02-0{n + 1}T08:00:00Z")
        campaign = create_draft(client, title=f"Mon projet {state}")
        if state != "draft":
            submit(client, campaign["id"])
        if state in ("live", "cancelled"):
            approve(client, campaign["id"])
        if state == "cancelled":
            call(client, "POST", f"/campaigns/{campaign['id']}/cancel", OWNER)
        made.append(campaign["id"])
    create_draft(client, STRANGER, title="Le projet d'une autre")

    mine = call(client, "GET", "/me/campaigns", OWNER).json

    assert ids(mine["items"]) == made[::-1]
    assert [c["status"] for c in mine["items"]] == ["cancelled", "live", "submitted", "draft"]
    assert walk(client, "/me/campaigns", OWNER, limit=3) == [made[::-1][:3], made[::-1][3:]]
    assert [c["title"] for c in call(client, "GET", "/me/campaigns", STRANGER).json["items"]] == [
        "Le projet d'une autre"
    ]


def test_the_moderation_queue_is_ordered_by_submission_time(client, clock_at):
    drafts = {name: create_draft(client, title=name)["id"] for name in ("Premier créé", "Deuxième créé", "Troisième")}
    for name, moment in (
        ("Troisième", "2026-06-01T08:00:00Z"),
        ("Premier créé", "2026-06-01T09:00:00Z"),
        ("Deuxième créé", "2026-06-02T07:00:00Z"),
    ):
        clock_at(moment)
        submit(client, drafts[name])

    def queue() -> list[str]:
        return [c["title"] for c in call(client, "GET", "/moderation/queue", MODERATOR).json["items"]]

    assert queue() == ["Troisième", "Premier créé", "Deuxième créé"]
    assert walk(client, "/moderation/queue", MODERATOR, limit=1) == [
        [drafts["Troisième"]],
        [drafts["Premier créé"]],
        [drafts["Deuxième créé"]],
    ]

    approve(client, drafts["Premier créé"])
    call(client, "POST", f"/campaigns/{drafts['Troisième']}/reject", MODERATOR, {"reason": REASON})
    assert queue() == ["Deuxième créé"]

    clock_at("2026-06-03T07:00:00Z")
    submit(client, drafts["Troisième"])  # resubmitted: back at the end of the queue
    assert queue() == ["Deuxième créé", "Troisième"]


# --- /stats ---------------------------------------------------------------------------------


def by_status(client) -> dict[str, int]:
    counts = stats(client)["campaigns_by_status"]
    return {status: count for status, count in counts.items() if count}


def test_stats_follow_every_transition(client):
    assert stats(client) == {
        "campaigns_by_status": dict.fromkeys(("draft", "submitted", "live", "succeeded", "failed", "cancelled"), 0),
        "success_rate_percent": None,
        "total_raised_cents": 0,
        "contributors": 0,
        "by_category": {},
        "by_commune": {},
    }
    a, b, c = (create_draft(client, title=t)["id"] for t in ("Projet A", "Projet B", "Projet C"))
    assert by_status(client) == {"draft": 3}

    submit(client, a)
    submit(client, b)
    assert by_status(client) == {"draft": 1, "submitted": 2}

    call(client, "POST", f"/campaigns/{b}/reject", MODERATOR, {"reason": REASON})
    live_a = approve(client, a)
    assert by_status(client) == {"draft": 2, "live": 1}

    for refused in (f"/campaigns/{c}/approve", f"/campaigns/{a}/approve", f"/campaigns/{c}/cancel"):
        assert call(client, "POST", refused, MODERATOR).status == 409
    assert by_status(client) == {"draft": 2, "live": 1}

    submit(client, b)
    live_b = approve(client, b)
    submit(client, c)
    approve(client, c)
    call(client, "POST", f"/campaigns/{c}/cancel", OWNER)
    assert by_status(client) == {"live": 2, "cancelled": 1}

    close(client, live_a, "succeeded")
    assert (by_status(client), stats(client)["success_rate_percent"]) == (
        {"live": 1, "succeeded": 1, "cancelled": 1},
        100,
    )
    close(client, live_b, "failed")
    assert (by_status(client), stats(client)["success_rate_percent"]) == (
        {"succeeded": 1, "failed": 1, "cancelled": 1},
        50,
    )


def test_a_list_never_shows_a_rejection_reason_to_the_public(client):
    campaign = submit(client, create_draft(client)["id"])
    call(client, "POST", f"/campaigns/{campaign['id']}/reject", MODERATOR, {"reason": REASON})
    submit(client, campaign["id"])
    approve(client, campaign["id"])

    assert [c["rejection_reason"] for c in public(client)["items"]] == [None]
