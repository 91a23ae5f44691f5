"""The campaign half of the API, as a web client sees it: the lifecycle of a campaign,
who may call what, and what bad input gets back (and that it writes nothing).

The helpers at the top (`call`, `create_draft`, `launch`…) are reused by
test_campaign_lists.py.
"""

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.identity import _b64decode, _b64encode, sign_dev_token
from tests.conftest import STAGE_ENV, bearer
from tests.factories import payout_account

# --- callers -----------------------------------------------------------------------------

OWNER = bearer("owner-camille", name="Camille Lecarpentier")
STRANGER = bearer("stranger-ines", name="Inès Hébert")
MODERATOR = bearer("moderator-anne", name="Anne Marié", groups=("moderators",))
ROLES = {"anonymous": None, "stranger": STRANGER, "owner": OWNER, "moderator": MODERATOR}

DRAFT = {
    "title": "Cocotte Minute — mercerie et ateliers tricot",
    "summary": "Une boutique de laine et des ateliers de tricot au cœur de Saint-Lô.",
    "description": (
        "Camille ouvre une mercerie rue Torteron : laines françaises, ateliers de tricot "
        "pour débutants le samedi, après-midis crochet avec les aînés du quartier."
    ),
    "category": "business",
    "postcode": "50000",
    "commune": "Saint-Lô",
    "goal_cents": 290_000,
    "funding_model": "keep_it_all",
    "duration_days": 40,
}
REWARD = {
    "title": "Atelier tricot débutant",
    "description": "Deux heures d'initiation, laine et aiguilles fournies.",
    "min_amount_cents": 3_000,
    "quantity": 12,
}
REASON = "Précisez le budget : à quoi serviront les 2 900 € ?"
SPEC_FIELDS = {
    "id", "slug", "title", "summary", "description", "category", "postcode", "commune", "owner",
    "goal_cents", "funding_model", "duration_days", "status", "raised_cents", "pledge_count",
    "percent_funded", "launched_at", "ends_at", "rewards", "media", "created_at", "updated_at",
}  # fmt: skip
PROBLEM_JSON = "application/problem+json"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    json: Any


def call(client, method: str, path: str, who: dict | None = None, body: Any = None, headers=None) -> Answer:
    """One request as a web client makes it; `who` is a bearer() header set or None."""
    sent = dict(who or {})
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
        body = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
    sent.update(headers or {})
    raw = body.encode() if isinstance(body, str) else body or b""
    response = client.http.request(method, path, headers=sent, body=raw)
    return Answer(response.status_code, response.headers, json.loads(response.body) if response.body else None)


def assert_problem(answer: Answer, status: int, field: str | None = None) -> dict:
    """An RFC 9457 answer with the given status; `field` must be named in `errors`."""
    assert answer.status == status, answer.json
    assert answer.headers["Content-Type"] == PROBLEM_JSON
    problem = answer.json
    assert {"type", "title", "status", "detail"} <= problem.keys()
    assert problem["status"] == status
    assert problem["type"].startswith("https://") and problem["title"] and problem["detail"]
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]], problem
    return problem


@pytest.fixture
def api(client):
    """The Chalice test client on an empty stage: each test starts from nothing (the
    session's stack, emptied after each test: tests/conftest.py)."""
    return client


def at(moment: str):
    """A fixed clock reading, for monkeypatching chalicelib.clock.now."""
    fixed = clock.parse(moment)
    return lambda: fixed


def create_draft(client, who=OWNER, **changes) -> dict:
    answer = call(client, "POST", "/campaigns", who, {**DRAFT, **changes})
    assert answer.status == 201, answer.json
    return answer.json


def add_reward(client, campaign_id: str, who=OWNER, **changes) -> dict:
    """Adds REWARD with `changes`; a change to ... leaves that field out."""
    body = {k: v for k, v in {**REWARD, **changes}.items() if v is not ...}
    answer = call(client, "POST", f"/campaigns/{campaign_id}/rewards", who, body)
    assert answer.status == 201, answer.json
    assert answer.json["title"] == body["title"] and answer.json["id"]  # the reward created
    return call(client, "GET", f"/campaigns/{campaign_id}", who).json  # the campaign with it


def submit(client, campaign_id: str, who=OWNER) -> dict:
    """Submitted for moderation, its owner's payout account opened (approval needs one)."""
    answer = call(client, "POST", f"/campaigns/{campaign_id}/submit", who)
    assert answer.status == 200, answer.json
    payout_account(client, headers=who)
    return answer.json


def approve(client, campaign_id: str) -> dict:
    answer = call(client, "POST", f"/campaigns/{campaign_id}/approve", MODERATOR)
    assert answer.status == 200, answer.json
    return answer.json


def launch(client, who=OWNER, **changes) -> dict:
    """A live campaign: drafted, submitted and approved."""
    campaign = create_draft(client, who, **changes)
    submit(client, campaign["id"], who)
    return approve(client, campaign["id"])


def campaign_in(client, state: str) -> dict:
    """A campaign of OWNER with one reward, in `state` (draft, submitted, live, cancelled)."""
    campaign = create_draft(client)
    campaign = add_reward(client, campaign["id"])
    if state == "draft":
        return campaign
    campaign = submit(client, campaign["id"])
    if state == "submitted":
        return campaign
    campaign = approve(client, campaign["id"])
    if state == "live":
        return campaign
    assert state == "cancelled"
    return call(client, "POST", f"/campaigns/{campaign['id']}/cancel", OWNER).json


def seen_by_owner(client, campaign_id: str) -> dict:
    answer = call(client, "GET", f"/campaigns/{campaign_id}", OWNER)
    assert answer.status == 200
    return answer.json


def stats(client) -> dict:
    return call(client, "GET", "/stats").json


def snapshot(client, campaign: dict | None) -> tuple:
    """What a refused request must leave unchanged: the campaign and the platform figures."""
    return (seen_by_owner(client, campaign["id"]) if campaign else None, stats(client))


# --- lifecycle ---------------------------------------------------------------------------


def test_create_answers_201_with_a_draft_carrying_every_spec_field(api):
    answer = call(api, "POST", "/campaigns", OWNER, DRAFT)

    assert answer.status == 201
    assert answer.headers["Content-Type"] == "application/json"
    campaign = answer.json
    assert campaign.keys() >= SPEC_FIELDS
    assert {k: campaign[k] for k in DRAFT} == DRAFT
    assert campaign["status"] == "draft"
    assert campaign["owner"] == {"id": "owner-camille", "display_name": "Camille Lecarpentier"}
    assert campaign["slug"] == "cocotte-minute-mercerie-et-ateliers-tricot"
    assert (campaign["raised_cents"], campaign["pledge_count"], campaign["percent_funded"]) == (0, 0, 0)
    assert (campaign["launched_at"], campaign["ends_at"]) == (None, None)
    assert campaign["rewards"] == [] and campaign["media"] == []
    assert campaign["created_at"].endswith("Z") and campaign["updated_at"].endswith("Z")
    assert campaign["id"]


def test_create_applies_the_documented_defaults(api):
    body = {k: v for k, v in DRAFT.items() if k not in ("funding_model", "duration_days")}
    campaign = call(api, "POST", "/campaigns", OWNER, body).json
    assert (campaign["funding_model"], campaign["duration_days"]) == ("all_or_nothing", 30)


def test_french_text_round_trips_as_utf8(api):
    created = create_draft(api, title="Le rythme des maux — album à l'hôpital", commune="Saint-Lô")
    response = api.http.get(f"/campaigns/{created['id']}", headers=OWNER)

    assert "Le rythme des maux — album à l'hôpital".encode() in response.body  # not \u escapes
    fetched = json.loads(response.body)
    assert fetched["commune"] == "Saint-Lô"
    assert fetched["summary"] == DRAFT["summary"]
    assert fetched["slug"] == "le-rythme-des-maux-album-a-l-hopital"


def test_the_owner_reads_back_what_was_created(api):
    created = create_draft(api)
    assert seen_by_owner(api, created["id"]) == created


def test_the_display_name_falls_back_when_the_token_has_none(api):
    campaign = create_draft(api, bearer("sans-nom"))
    assert campaign["owner"] == {"id": "sans-nom", "display_name": "Contributeur"}


def test_edit_changes_only_the_given_fields_and_the_slug_follows_the_title(api):
    created = create_draft(api)
    answer = call(
        api, "PATCH", f"/campaigns/{created['id']}", OWNER, {"title": "Tricot à Carentan", "goal_cents": 350_000}
    )

    assert answer.status == 200
    edited = answer.json
    assert (edited["title"], edited["slug"], edited["goal_cents"]) == (
        "Tricot à Carentan",
        "tricot-a-carentan",
        350_000,
    )
    unchanged = {k for k in DRAFT if k not in ("title", "goal_cents")}
    assert {k: edited[k] for k in unchanged} == {k: DRAFT[k] for k in unchanged}
    assert seen_by_owner(api, created["id"]) == edited


def test_an_empty_patch_changes_nothing_visible(api):
    created = create_draft(api)
    edited = call(api, "PATCH", f"/campaigns/{created['id']}", OWNER, {}).json
    assert {k: edited[k] for k in DRAFT} == DRAFT


def test_rewards_limited_and_unlimited(api):
    campaign = create_draft(api)
    with_limited = add_reward(api, campaign["id"])
    with_both = add_reward(
        api, campaign["id"], title="Merci sur le mur", description="", min_amount_cents=500, quantity=...
    )

    assert [r["title"] for r in with_limited["rewards"]] == [REWARD["title"]]
    unlimited, limited = with_both["rewards"]  # ordered by minimum amount
    assert {k: limited[k] for k in REWARD} == REWARD
    assert limited["remaining"] == 12
    assert (unlimited["title"], unlimited["min_amount_cents"]) == ("Merci sur le mur", 500)
    assert (unlimited["quantity"], unlimited["remaining"]) == (None, None)
    assert limited["id"] != unlimited["id"]
    assert seen_by_owner(api, campaign["id"])["rewards"] == with_both["rewards"]


def test_reward_edit_changes_stock_and_can_lift_the_limit(api):
    campaign = add_reward(api, create_draft(api)["id"])
    reward_id = campaign["rewards"][0]["id"]
    path = f"/campaigns/{campaign['id']}/rewards/{reward_id}"

    restocked = call(api, "PATCH", path, OWNER, {"quantity": 20, "title": "Atelier tricot avancé"}).json
    assert restocked["rewards"] == [
        {**campaign["rewards"][0], "title": "Atelier tricot avancé", "quantity": 20, "remaining": 20}
    ]

    unlimited = call(api, "PATCH", path, OWNER, {"unlimited": True}).json["rewards"][0]
    assert (unlimited["quantity"], unlimited["remaining"], unlimited["title"]) == (None, None, "Atelier tricot avancé")

    limited_again = call(api, "PATCH", path, OWNER, {"quantity": 3}).json["rewards"][0]
    assert (limited_again["quantity"], limited_again["remaining"]) == (3, 3)
    assert seen_by_owner(api, campaign["id"])["rewards"] == [limited_again]


def test_reward_delete_removes_only_that_reward(api):
    campaign = create_draft(api)
    add_reward(api, campaign["id"])
    both = add_reward(api, campaign["id"], title="Écharpe tricotée main", min_amount_cents=6_000, quantity=5)
    kept, removed = both["rewards"]

    answer = call(api, "DELETE", f"/campaigns/{campaign['id']}/rewards/{removed['id']}", OWNER)

    assert answer.status == 200
    assert answer.json["rewards"] == [kept]
    assert seen_by_owner(api, campaign["id"])["rewards"] == [kept]


def test_submit_moves_a_draft_to_submitted(api):
    campaign = create_draft(api)
    answer = call(api, "POST", f"/campaigns/{campaign['id']}/submit", OWNER)

    assert answer.status == 200
    assert answer.json["status"] == "submitted"
    assert answer.json["submitted_at"].endswith("Z")
    assert seen_by_owner(api, campaign["id"])["status"] == "submitted"


@pytest.mark.parametrize(
    ("approved_at", "duration_days", "ends_at"),
    [
        # summer time (UTC+2): 30 local days later, 23:59:59 in Paris
        ("2026-06-10T08:00:00Z", 30, "2026-07-10T21:59:59Z"),
        # 23:30 UTC is already the next day in Paris: the local day counts
        ("2026-01-15T23:30:00Z", 10, "2026-01-26T22:59:59Z"),
        # crosses the end of summer time (2026-10-25): ends in winter time (UTC+1)
        ("2026-10-20T10:00:00Z", 10, "2026-10-30T22:59:59Z"),
        # crosses the start of summer time (2027-03-28): ends in summer time
        ("2027-03-20T10:00:00Z", 10, "2027-03-30T21:59:59Z"),
        ("2026-05-04T12:00:00Z", 1, "2026-05-05T21:59:59Z"),
        ("2026-05-04T12:00:00Z", 90, "2026-08-02T21:59:59Z"),
    ],
)
def test_approve_launches_until_the_end_of_the_paris_day(api, monkeypatch, approved_at, duration_days, ends_at):
    campaign = create_draft(api, duration_days=duration_days)
    submit(api, campaign["id"])
    monkeypatch.setattr(clock, "now", at(approved_at))

    answer = call(api, "POST", f"/campaigns/{campaign['id']}/approve", MODERATOR)

    assert answer.status == 200
    live = answer.json
    assert (live["status"], live["launched_at"], live["ends_at"]) == ("live", approved_at, ends_at)
    public = call(api, "GET", f"/campaigns/{campaign['id']}").json
    assert (public["status"], public["launched_at"], public["ends_at"]) == ("live", approved_at, ends_at)


def test_reject_sends_back_to_draft_with_a_reason_for_insiders_only(api):
    campaign = create_draft(api)
    submit(api, campaign["id"])

    answer = call(api, "POST", f"/campaigns/{campaign['id']}/reject", MODERATOR, {"reason": REASON})

    assert answer.status == 200
    assert (answer.json["status"], answer.json["rejection_reason"]) == ("draft", REASON)
    assert answer.json["submitted_at"] is None
    assert seen_by_owner(api, campaign["id"])["rejection_reason"] == REASON
    assert call(api, "GET", f"/campaigns/{campaign['id']}", MODERATOR).json["rejection_reason"] == REASON
    mine = call(api, "GET", "/me/campaigns", OWNER).json["items"]
    assert [(c["id"], c["status"], c["rejection_reason"]) for c in mine] == [(campaign["id"], "draft", REASON)]
    for outsider in (None, STRANGER):
        assert_problem(call(api, "GET", f"/campaigns/{campaign['id']}", outsider), 404)
    assert call(api, "GET", "/moderation/queue", MODERATOR).json == {"items": []}


def test_a_rejected_draft_can_be_fixed_resubmitted_and_approved(api):
    campaign = create_draft(api)
    submit(api, campaign["id"])
    call(api, "POST", f"/campaigns/{campaign['id']}/reject", MODERATOR, {"reason": REASON})

    edited = call(api, "PATCH", f"/campaigns/{campaign['id']}", OWNER, {"goal_cents": 300_000})
    assert edited.status == 200
    resubmitted = submit(api, campaign["id"])
    assert resubmitted["status"] == "submitted"
    queue = call(api, "GET", "/moderation/queue", MODERATOR).json["items"]
    assert [c["id"] for c in queue] == [campaign["id"]]

    live = approve(api, campaign["id"])
    assert (live["status"], live["goal_cents"]) == ("live", 300_000)
    public = call(api, "GET", f"/campaigns/{campaign['id']}", STRANGER).json
    assert public["rejection_reason"] is None


@pytest.mark.parametrize("who", ["owner", "moderator"])
def test_a_live_campaign_is_cancelled_by_its_owner_or_a_moderator(api, who):
    campaign = launch(api)
    answer = call(api, "POST", f"/campaigns/{campaign['id']}/cancel", ROLES[who])

    assert answer.status == 200
    assert answer.json["status"] == "cancelled"
    assert answer.json["cancelled_at"].endswith("Z")
    public = call(api, "GET", f"/campaigns/{campaign['id']}").json
    assert (public["status"], public["launched_at"]) == ("cancelled", campaign["launched_at"])


def test_after_its_deadline_only_a_moderator_cancels_a_campaign(api, monkeypatch):
    campaign = launch(api)
    monkeypatch.setattr(clock, "now", at("2099-01-01T00:00:00Z"))  # past ends_at, not closed yet

    refused = call(api, "POST", f"/campaigns/{campaign['id']}/cancel", OWNER)

    assert refused.status == 409 and "deadline" in refused.json["detail"]
    assert call(api, "GET", f"/campaigns/{campaign['id']}").json["status"] == "live"
    assert call(api, "POST", f"/campaigns/{campaign['id']}/cancel", MODERATOR).status == 200


def test_a_moderator_cannot_approve_their_own_campaign(api):
    campaign = create_draft(api, MODERATOR)
    submit(api, campaign["id"], MODERATOR)

    refused = call(api, "POST", f"/campaigns/{campaign['id']}/approve", MODERATOR)

    assert refused.status == 403 and "own campaign" in refused.json["detail"]
    colleague = bearer("moderator-bruno", name="Bruno Lemaître", groups=("moderators",))
    assert call(api, "POST", f"/campaigns/{campaign['id']}/approve", colleague).status == 200


# --- authorisation: every route x anonymous, stranger, owner, moderator ---------------------

# route -> (method, path, body, state of OWNER's campaign before the call)
ROUTES = {
    "list": ("GET", "/campaigns", None, "live"),
    "create": ("POST", "/campaigns", DRAFT, None),
    "get draft": ("GET", "/campaigns/{id}", None, "draft"),
    "get submitted": ("GET", "/campaigns/{id}", None, "submitted"),
    "get live": ("GET", "/campaigns/{id}", None, "live"),
    "get cancelled": ("GET", "/campaigns/{id}", None, "cancelled"),
    "edit": ("PATCH", "/campaigns/{id}", {"title": "Un autre titre"}, "draft"),
    "add reward": ("POST", "/campaigns/{id}/rewards", REWARD, "draft"),
    "edit reward": ("PATCH", "/campaigns/{id}/rewards/{reward_id}", {"quantity": 3}, "draft"),
    "delete reward": ("DELETE", "/campaigns/{id}/rewards/{reward_id}", None, "draft"),
    "submit": ("POST", "/campaigns/{id}/submit", None, "draft"),
    "approve": ("POST", "/campaigns/{id}/approve", None, "submitted"),
    "reject": ("POST", "/campaigns/{id}/reject", {"reason": REASON}, "submitted"),
    "cancel": ("POST", "/campaigns/{id}/cancel", None, "live"),
    "my campaigns": ("GET", "/me/campaigns", None, "draft"),
    "moderation queue": ("GET", "/moderation/queue", None, "submitted"),
    "stats": ("GET", "/stats", None, "live"),
}
# route -> expected status for (anonymous, stranger, owner, moderator)
EXPECTED = {
    "list": (200, 200, 200, 200),
    "create": (401, 201, 201, 201),
    "get draft": (404, 404, 200, 200),
    "get submitted": (404, 404, 200, 200),
    "get live": (200, 200, 200, 200),
    "get cancelled": (200, 200, 200, 200),
    "edit": (401, 404, 200, 403),
    "add reward": (401, 404, 201, 403),
    "edit reward": (401, 404, 200, 403),
    "delete reward": (401, 404, 200, 403),
    "submit": (401, 404, 200, 403),
    "approve": (401, 403, 403, 200),
    "reject": (401, 403, 403, 200),
    "cancel": (401, 403, 200, 200),
    "my campaigns": (401, 200, 200, 200),
    "moderation queue": (401, 403, 403, 200),
    "stats": (200, 200, 200, 200),
}
MATRIX = [
    pytest.param(route, role, status, id=f"{route}-{role}")
    for route, statuses in EXPECTED.items()
    for role, status in zip(ROLES, statuses, strict=True)
]


@pytest.mark.parametrize(("route", "role", "expected"), MATRIX)
def test_who_may_call_each_route(api, route, role, expected):
    method, template, body, state = ROUTES[route]
    campaign = campaign_in(api, state) if state else None
    path = template.format(id=campaign["id"], reward_id=campaign["rewards"][0]["id"]) if campaign else template
    before = snapshot(api, campaign)

    answer = call(api, method, path, ROLES[role], body)

    assert answer.status == expected, answer.json
    if expected >= 400:
        assert_problem(answer, expected)
        assert snapshot(api, campaign) == before  # nothing written
    else:
        assert answer.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("state", ["draft", "submitted"])
def test_a_hidden_campaign_answers_exactly_like_a_missing_one(api, state):
    hidden = campaign_in(api, state)["id"]
    missing = "0" * len(hidden)

    for who in (None, STRANGER):
        for path in ("/campaigns/{}", "/campaigns/{}/submit", "/campaigns/{}/cancel"):
            method = "GET" if path == "/campaigns/{}" else "POST"
            if who is None and method == "POST":
                continue  # anonymous writes stop at 401 before any lookup
            seen = assert_problem(call(api, method, path.format(hidden), who), 404)
            unknown = assert_problem(call(api, method, path.format(missing), who), 404)
            assert seen == {**unknown, "detail": unknown["detail"].replace(missing, hidden)}


# --- tokens ----------------------------------------------------------------------------------

SECRET = STAGE_ENV["DEV_JWT_SECRET"]


def _forged(header: dict, payload: dict, signature: bytes = b"") -> str:
    parts = [_b64encode(json.dumps(part).encode()) for part in (header, payload)]
    return ".".join([*parts, _b64encode(signature)])


def _tampered() -> str:
    """A stranger's valid token whose payload claims the moderators group."""
    header, payload, signature = sign_dev_token(SECRET, {"sub": "stranger-ines"}).split(".")
    claims = json.loads(_b64decode(payload)) | {"cognito:groups": ["moderators"]}
    return f"{header}.{_b64encode(json.dumps(claims).encode())}.{signature}"


def _bad_authorizations() -> dict[str, str]:
    claims = {"sub": "owner-camille", "cognito:groups": ["moderators"]}
    return {
        "not a jwt": "Bearer pas-un-jeton",
        "garbage parts": "Bearer aaa.bbb.ccc",
        "empty bearer": "Bearer ",
        "basic scheme": "Basic b3duZXI6c2VjcmV0",
        "expired": "Bearer " + sign_dev_token(SECRET, claims, ttl_seconds=-3600),
        "other secret": "Bearer " + sign_dev_token("un-autre-secret", claims),
        "tampered claims": "Bearer " + _tampered(),
        "alg none": "Bearer " + _forged({"alg": "none"}, {"sub": "owner-camille", "exp": 4102444800}),
        "rs256 on local": "Bearer " + _forged({"alg": "RS256", "kid": "k"}, {"sub": "x", "exp": 4102444800}, b"sig"),
        "no subject": "Bearer " + sign_dev_token(SECRET, {"name": "Personne"}),
    }


BAD_AUTHORIZATIONS = _bad_authorizations()
TOKEN_ROUTES = {
    "create (signed in)": ("POST", "/campaigns", DRAFT),
    "get (optional sign-in)": ("GET", "/campaigns/{id}", None),
    "approve (moderator)": ("POST", "/campaigns/{id}/approve", None),
}


@pytest.mark.parametrize("route", TOKEN_ROUTES)
@pytest.mark.parametrize("token", BAD_AUTHORIZATIONS)
def test_a_bad_token_is_401_and_never_anonymous(api, route, token):
    method, template, body = TOKEN_ROUTES[route]
    campaign = submit(api, create_draft(api)["id"]) if "{id}" in template else None
    before = snapshot(api, campaign)
    headers = {"Authorization": BAD_AUTHORIZATIONS[token], "Content-Type": "application/json"}

    answer = call(api, method, template.format(id=campaign["id"]) if campaign else template, headers=headers, body=body)

    assert_problem(answer, 401)
    assert snapshot(api, campaign) == before


# --- bad input -------------------------------------------------------------------------------


def _draft(**changes) -> dict:
    return {k: v for k, v in {**DRAFT, **changes}.items() if v is not ...}


BAD_CREATES = [
    pytest.param(_draft(colour="rouge"), "colour", id="unknown field"),
    # plain text only: a right-to-left override would show "Cocotte ettocoC" reversed
    pytest.param(_draft(title="Cocotte \u202eMinute"), "title", id="bidi override in title"),
    pytest.param(_draft(description="Un texte\x00 avec un octet nul, assez long."), "description", id="control char"),
    pytest.param(_draft(title=None), "title", id="null title"),
    pytest.param(_draft(title=...), "title", id="missing title"),
    pytest.param(_draft(goal_cents=290_000.0), "goal_cents", id="float cents"),
    pytest.param(_draft(goal_cents=2_900.5), "goal_cents", id="fractional cents"),
    pytest.param(_draft(goal_cents="290000"), "goal_cents", id="string cents"),
    pytest.param(_draft(goal_cents=True), "goal_cents", id="boolean cents"),
    pytest.param(_draft(goal_cents=9_999), "goal_cents", id="goal under 100 euros"),
    pytest.param(_draft(goal_cents=100_000_001), "goal_cents", id="goal over 1 000 000 euros"),
    pytest.param(_draft(goal_cents=-290_000), "goal_cents", id="negative goal"),
    pytest.param(_draft(duration_days=0), "duration_days", id="duration 0"),
    pytest.param(_draft(duration_days=91), "duration_days", id="duration 91"),
    pytest.param(_draft(duration_days="30"), "duration_days", id="duration as string"),
    pytest.param(_draft(category="politique"), "category", id="unknown category"),
    pytest.param(_draft(category="Business"), "category", id="category with capital"),
    pytest.param(_draft(funding_model="flexible"), "funding_model", id="unknown funding model"),
    pytest.param(_draft(postcode="75001"), "postcode", id="postcode in Paris"),
    pytest.param(_draft(postcode="14000"), "postcode", id="postcode in Calvados"),
    pytest.param(_draft(postcode="5000"), "postcode", id="postcode too short"),
    pytest.param(_draft(postcode="50 000"), "postcode", id="postcode with space"),
    pytest.param(_draft(postcode=50000), "postcode", id="postcode as number"),
    pytest.param(_draft(title="ab"), "title", id="title too short"),
    pytest.param(_draft(title="é" * 121), "title", id="title too long"),
    pytest.param(_draft(title="    "), "title", id="blank title"),
    pytest.param(_draft(summary="x" * 301), "summary", id="summary too long"),
    pytest.param(_draft(description="Trop court."), "description", id="description too short"),
    pytest.param(_draft(description="x" * 20_001), "description", id="description too long"),
    pytest.param(_draft(commune=""), "commune", id="empty commune"),
    pytest.param(_draft(commune="x" * 101), "commune", id="commune too long"),
    pytest.param(["pas", "un", "objet"], "body", id="array body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATES)
def test_a_bad_draft_is_refused_naming_the_field_and_nothing_is_written(api, body, field):
    before = stats(api)

    answer = call(api, "POST", "/campaigns", OWNER, body)

    problem = assert_problem(answer, 422, field)
    assert all(error["message"] for error in problem["errors"])
    assert stats(api) == before
    assert call(api, "GET", "/me/campaigns", OWNER).json == {"items": []}


def test_bounds_are_inclusive(api):
    low = create_draft(api, goal_cents=10_000, duration_days=1, title="abc", commune="X", postcode="50000")
    high = create_draft(api, goal_cents=100_000_000, duration_days=90, title="é" * 120, postcode="50999")
    assert (low["goal_cents"], low["duration_days"]) == (10_000, 1)
    assert (high["goal_cents"], high["duration_days"], len(high["title"])) == (100_000_000, 90, 120)


def test_surrounding_whitespace_is_trimmed(api):
    campaign = create_draft(api, title="  Cocotte Minute  ", commune=" Saint-Lô ")
    assert (campaign["title"], campaign["commune"]) == ("Cocotte Minute", "Saint-Lô")


BAD_PATCHES = [
    pytest.param({"title": None}, "title", id="null title"),
    pytest.param({"goal_cents": None}, "goal_cents", id="null goal"),
    pytest.param({"status": "live"}, "status", id="status is not editable"),
    pytest.param({"raised_cents": 1_000_000}, "raised_cents", id="raised is not editable"),
    pytest.param({"owner": {"id": "stranger-ines"}}, "owner", id="owner is not editable"),
    pytest.param({"goal_cents": 3000.0}, "goal_cents", id="float cents"),
    pytest.param({"goal_cents": 100_000_001}, "goal_cents", id="goal too large"),
    pytest.param({"duration_days": 120}, "duration_days", id="duration too long"),
    pytest.param({"postcode": "75001"}, "postcode", id="postcode off the territory"),
    pytest.param({"category": "politique"}, "category", id="unknown category"),
    pytest.param({"summary": "x" * 301}, "summary", id="summary too long"),
]


@pytest.mark.parametrize(("body", "field"), BAD_PATCHES)
def test_a_bad_edit_is_refused_and_the_draft_is_unchanged(api, body, field):
    campaign = create_draft(api)
    before = snapshot(api, campaign)

    answer = call(api, "PATCH", f"/campaigns/{campaign['id']}", OWNER, body)

    assert_problem(answer, 422, field)
    assert snapshot(api, campaign) == before


BAD_REWARDS = [
    pytest.param({**REWARD, "description": "Un CD \u2066dédicacé\u2069"}, "description", id="bidi isolate"),
    pytest.param({**REWARD, "min_amount_cents": 99}, "min_amount_cents", id="under the pledge minimum"),
    pytest.param({**REWARD, "min_amount_cents": 1_000_001}, "min_amount_cents", id="over the pledge maximum"),
    pytest.param({**REWARD, "min_amount_cents": 30.0}, "min_amount_cents", id="float cents"),
    pytest.param({**REWARD, "min_amount_cents": "3000"}, "min_amount_cents", id="string cents"),
    pytest.param({**REWARD, "quantity": 0}, "quantity", id="quantity 0"),
    pytest.param({**REWARD, "quantity": 2.5}, "quantity", id="fractional quantity"),
    pytest.param({**REWARD, "title": ""}, "title", id="empty title"),
    pytest.param({**REWARD, "title": "x" * 101}, "title", id="title too long"),
    pytest.param({**REWARD, "description": "x" * 1001}, "description", id="description too long"),
    pytest.param({**REWARD, "remaining": 100}, "remaining", id="remaining is not writable"),
    pytest.param({"title": "Sans montant"}, "min_amount_cents", id="missing minimum"),
]


@pytest.mark.parametrize(("body", "field"), BAD_REWARDS)
def test_a_bad_reward_is_refused_and_nothing_is_added(api, body, field):
    campaign = create_draft(api)
    before = snapshot(api, campaign)

    answer = call(api, "POST", f"/campaigns/{campaign['id']}/rewards", OWNER, body)

    assert_problem(answer, 422, field)
    assert snapshot(api, campaign) == before


BAD_REWARD_PATCHES = [
    pytest.param({"quantity": None}, "quantity", id="null quantity"),
    pytest.param({"unlimited": True, "quantity": 4}, "unlimited", id="unlimited with a quantity"),
    pytest.param({"unlimited": "oui"}, "unlimited", id="unlimited not a boolean"),
    pytest.param({"min_amount_cents": 50}, "min_amount_cents", id="minimum too low"),
    pytest.param({"id": "autre"}, "id", id="id is not writable"),
]


@pytest.mark.parametrize(("body", "field"), BAD_REWARD_PATCHES)
def test_a_bad_reward_edit_is_refused_and_the_reward_is_unchanged(api, body, field):
    campaign = add_reward(api, create_draft(api)["id"])
    before = snapshot(api, campaign)

    answer = call(api, "PATCH", f"/campaigns/{campaign['id']}/rewards/{campaign['rewards'][0]['id']}", OWNER, body)

    assert_problem(answer, 422, field)
    assert snapshot(api, campaign) == before


def test_adding_a_reward_answers_the_reward_created(api):
    campaign = create_draft(api)

    answer = call(api, "POST", f"/campaigns/{campaign['id']}/rewards", OWNER, REWARD)

    assert answer.status == 201
    assert set(answer.json) == {"id", "title", "description", "min_amount_cents", "quantity", "remaining"}
    shown = call(api, "GET", f"/campaigns/{campaign['id']}", OWNER).json["rewards"]
    assert shown == [answer.json]


def test_a_campaign_offers_at_most_30_rewards(api):
    campaign = create_draft(api)
    for n in range(30):
        add_reward(api, campaign["id"], title=f"Contrepartie n°{n + 1}", min_amount_cents=100 + n)
    before = snapshot(api, campaign)

    answer = call(api, "POST", f"/campaigns/{campaign['id']}/rewards", OWNER, REWARD)

    assert_problem(answer, 422, "rewards")
    assert snapshot(api, campaign) == before


@pytest.mark.parametrize(
    "body", [{}, {"reason": "non"}, {"reason": None}, {"reason": "   "}, {"reason": REASON, "x": 1}]
)
def test_a_rejection_needs_a_reason(api, body):
    campaign = submit(api, create_draft(api)["id"])
    before = snapshot(api, campaign)

    answer = call(api, "POST", f"/campaigns/{campaign['id']}/reject", MODERATOR, body)

    problem = assert_problem(answer, 422)
    assert {error["field"] for error in problem["errors"]} & {"reason", "x"}
    assert snapshot(api, campaign) == before


# routes with a body: (method, path template, state of the campaign, who calls)
BODY_ROUTES = {
    "create": ("POST", "/campaigns", None, OWNER),
    "edit": ("PATCH", "/campaigns/{id}", "draft", OWNER),
    "add reward": ("POST", "/campaigns/{id}/rewards", "draft", OWNER),
    "edit reward": ("PATCH", "/campaigns/{id}/rewards/{reward_id}", "draft", OWNER),
    "reject": ("POST", "/campaigns/{id}/reject", "submitted", MODERATOR),
}
UNREADABLE = [
    pytest.param("application/json", '{"title": "Cocotte', 400, "body", id="malformed json"),
    pytest.param("application/json", "", 400, "body", id="empty body"),
    pytest.param("application/json", b"\xff\xfe{}", 400, "body", id="not utf-8"),
    pytest.param("application/json", "[" * 30_000 + "]" * 30_000, 400, "body", id="nested too deeply"),
    pytest.param("text/plain", json.dumps(DRAFT), 415, "Content-Type", id="text/plain"),
    pytest.param("application/x-www-form-urlencoded", "title=Cocotte", 415, "Content-Type", id="form"),
]


@pytest.mark.parametrize("route", BODY_ROUTES)
@pytest.mark.parametrize(("content_type", "body", "status", "field"), UNREADABLE)
def test_an_unreadable_body_is_refused_and_nothing_is_written(api, route, content_type, body, status, field):
    method, template, state, who = BODY_ROUTES[route]
    campaign = campaign_in(api, state) if state else None
    path = template.format(id=campaign["id"], reward_id=campaign["rewards"][0]["id"]) if campaign else template
    before = snapshot(api, campaign)

    answer = call(api, method, path, who, body, headers={"Content-Type": content_type})

    assert_problem(answer, status, field)
    assert snapshot(api, campaign) == before


def test_a_body_without_content_type_is_415(api):
    before = stats(api)
    headers = {"Authorization": OWNER["Authorization"]}
    response = api.http.post("/campaigns", headers=headers, body=json.dumps(DRAFT).encode())
    answer = Answer(response.status_code, response.headers, json.loads(response.body))
    assert_problem(answer, 415, "Content-Type")
    assert stats(api) == before


def test_a_charset_parameter_is_accepted(api):
    answer = call(api, "POST", "/campaigns", OWNER, DRAFT, headers={"Content-Type": "application/json; charset=utf-8"})
    assert answer.status == 201


def test_an_oversized_body_is_413(api):
    before = stats(api)
    answer = call(api, "POST", "/campaigns", OWNER, {**DRAFT, "description": "x" * 70_000})
    assert_problem(answer, 413)
    assert stats(api) == before


def test_an_unknown_method_is_405_problem(api):
    answer = call(api, "PUT", "/campaigns", OWNER, DRAFT)
    assert_problem(answer, 405)
    assert answer.headers["Allow"] == "GET, OPTIONS, POST"  # OPTIONS: CORS preflights (chalicelib/http.py)


MISSING = "f" * 32
UNKNOWN_IDS = [
    pytest.param("GET", f"/campaigns/{MISSING}", None, MODERATOR, id="get"),
    pytest.param("PATCH", f"/campaigns/{MISSING}", {"title": "Un titre"}, OWNER, id="edit"),
    pytest.param("POST", f"/campaigns/{MISSING}/rewards", REWARD, OWNER, id="add reward"),
    pytest.param("PATCH", f"/campaigns/{MISSING}/rewards/abc", {"quantity": 2}, OWNER, id="edit reward"),
    pytest.param("DELETE", f"/campaigns/{MISSING}/rewards/abc", None, OWNER, id="delete reward"),
    pytest.param("POST", f"/campaigns/{MISSING}/submit", None, OWNER, id="submit"),
    pytest.param("POST", f"/campaigns/{MISSING}/approve", None, MODERATOR, id="approve"),
    pytest.param("POST", f"/campaigns/{MISSING}/reject", {"reason": REASON}, MODERATOR, id="reject"),
    pytest.param("POST", f"/campaigns/{MISSING}/cancel", None, MODERATOR, id="cancel"),
]


@pytest.mark.parametrize(("method", "path", "body", "who"), UNKNOWN_IDS)
def test_an_unknown_campaign_is_404(api, method, path, body, who):
    before = stats(api)
    problem = assert_problem(call(api, method, path, who, body), 404)
    assert MISSING in problem["detail"]
    assert stats(api) == before


@pytest.mark.parametrize(("method", "body"), [("PATCH", {"quantity": 2}), ("DELETE", None)])
def test_an_unknown_reward_is_404(api, method, body):
    campaign = add_reward(api, create_draft(api)["id"])
    before = snapshot(api, campaign)

    problem = assert_problem(call(api, method, f"/campaigns/{campaign['id']}/rewards/nope", OWNER, body), 404)

    assert "nope" in problem["detail"]
    assert snapshot(api, campaign) == before


# --- bad query parameters ----------------------------------------------------------------------


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


BAD_PAGE_PARAMS = [
    pytest.param("colour=rouge", "colour", id="unknown parameter"),
    pytest.param("limit=0", "limit", id="limit 0"),
    pytest.param("limit=1000", "limit", id="limit 1000"),
    pytest.param("limit=-1", "limit", id="negative limit"),
    pytest.param("limit=dix", "limit", id="limit not a number"),
    pytest.param("cursor=pas-un-curseur", "cursor", id="cursor not base64 json"),
    pytest.param("cursor=" + _cursor(["pk", "x"]), "cursor", id="cursor not an object"),
    pytest.param("cursor=" + _cursor({"pk": {"Q": 1}}), "cursor", id="cursor with a bad key type"),
    pytest.param("cursor=" + _cursor({"pk": {"S": 1}}), "cursor", id="cursor with a bad key value"),
    pytest.param("cursor=" + "A" * 2001, "cursor", id="cursor too long"),
]
BAD_PUBLIC_PARAMS = [
    pytest.param("sort=popular", "sort", id="unknown sort"),
    pytest.param("status=draft", "status", id="drafts are never public"),
    pytest.param("status=submitted", "status", id="submitted are never public"),
    pytest.param("postcode=abc", "postcode", id="postcode not digits"),
    pytest.param("postcode=500000", "postcode", id="postcode too long"),
    pytest.param("category=" + "x" * 41, "category", id="category too long"),
]
LISTS = {"/campaigns": None, "/me/campaigns": OWNER, "/moderation/queue": MODERATOR}


@pytest.mark.parametrize("query, field", BAD_PAGE_PARAMS)
@pytest.mark.parametrize("path", LISTS)
def test_bad_paging_parameters_are_400_naming_the_parameter(api, path, query, field):
    assert_problem(call(api, "GET", f"{path}?{query}", LISTS[path]), 400, field)


@pytest.mark.parametrize("query, field", BAD_PUBLIC_PARAMS)
def test_bad_public_list_parameters_are_400_naming_the_parameter(api, query, field):
    assert_problem(call(api, "GET", f"/campaigns?{query}"), 400, field)


# (action, method, path template, body, who) x state it is refused in
TRANSITIONS = [
    pytest.param("draft", "POST", "approve", None, MODERATOR, id="approve a draft"),
    pytest.param("draft", "POST", "reject", {"reason": REASON}, MODERATOR, id="reject a draft"),
    pytest.param("draft", "POST", "cancel", None, OWNER, id="cancel a draft"),
    pytest.param("submitted", "POST", "submit", None, OWNER, id="submit twice"),
    pytest.param("submitted", "PATCH", "", {"title": "Nouveau titre"}, OWNER, id="edit a submitted campaign"),
    pytest.param("submitted", "POST", "rewards", REWARD, OWNER, id="add a reward while submitted"),
    pytest.param("submitted", "POST", "cancel", None, MODERATOR, id="cancel a submitted campaign"),
    pytest.param("live", "PATCH", "", {"goal_cents": 20_000}, OWNER, id="edit a live campaign"),
    pytest.param("live", "POST", "rewards", REWARD, OWNER, id="add a reward to a live campaign"),
    pytest.param("live", "PATCH", "rewards/{reward_id}", {"quantity": 100}, OWNER, id="restock a live reward"),
    pytest.param("live", "DELETE", "rewards/{reward_id}", None, OWNER, id="delete a live reward"),
    pytest.param("live", "POST", "submit", None, OWNER, id="submit a live campaign"),
    pytest.param("live", "POST", "approve", None, MODERATOR, id="approve twice"),
    pytest.param("live", "POST", "reject", {"reason": REASON}, MODERATOR, id="reject a live campaign"),
    pytest.param("cancelled", "POST", "cancel", None, OWNER, id="cancel twice"),
    pytest.param("cancelled", "POST", "approve", None, MODERATOR, id="approve a cancelled campaign"),
    pytest.param("cancelled", "PATCH", "", {"title": "Nouveau titre"}, OWNER, id="edit a cancelled campaign"),
]


@pytest.mark.parametrize(("state", "method", "action", "body", "who"), TRANSITIONS)
def test_a_forbidden_transition_is_409_and_nothing_changes(api, state, method, action, body, who):
    campaign = campaign_in(api, state)
    path = f"/campaigns/{campaign['id']}/{action}".rstrip("/").format(reward_id=campaign["rewards"][0]["id"])
    before = snapshot(api, campaign)

    problem = assert_problem(call(api, method, path, who, body), 409)

    assert state in problem["detail"]
    assert snapshot(api, campaign) == before


def test_errors_carry_a_readable_detail_naming_the_field(api):
    problem = call(api, "POST", "/campaigns", OWNER, _draft(postcode="75001")).json
    assert problem["type"] == "https://oze.example/problems/validation-error"
    assert problem["detail"].startswith("postcode: must be on the territory of Manche")
    assert problem["errors"] == [{"field": "postcode", "message": problem["detail"].removeprefix("postcode: ")}]
