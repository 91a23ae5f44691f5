"""The HTTP edge's shapes, each defined once: the call a view gets by its route's `auth`, the
stage rules that both validate and document, the generic page, the problem-details body."""

import json
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from chalice import Chalice
from chalice.test import Client
from pydantic import StrictInt, TypeAdapter, ValidationError

from app import api
from chalicelib import openapi
from chalicelib.errors import NotFound, ProblemDetails, ValidationFailed, problem
from chalicelib.http import Api, Call, UserCall, ViewerCall
from chalicelib.models.base import NoNulls, Page, StageBound, StageRule, documenting
from chalicelib.models.campaigns import Campaign, CampaignPage
from chalicelib.settings import get_settings
from tests.conftest import ROOT, STAGE, bearer


@pytest.fixture
def edge(stage_env):
    """A bare app with a route of each kind of `auth`; each view answers the call it got."""
    app = Chalice(app_name="oze-edge")
    edge_api = Api(app)

    def seen(call: Call, **caller: Any) -> dict[str, Any]:
        return {"call": type(call).__name__, **caller}

    @edge_api.route("/public", "GET")
    def public(call: Call) -> dict[str, Any]:
        return seen(call)

    @edge_api.route("/optional", "GET", auth="optional")
    def optional(call: ViewerCall) -> dict[str, Any]:
        return seen(call, viewer=call.viewer and call.viewer.sub)

    @edge_api.route("/signed-in", "GET", auth="user")
    def signed_in(call: UserCall) -> dict[str, Any]:
        return seen(call, user=call.user.sub)

    with Client(app, stage_name=STAGE, project_dir=str(ROOT)) as client:
        yield client


def test_each_route_s_view_gets_the_call_its_auth_promises(edge):
    alice = bearer("alice")
    assert edge.http.get("/public", headers=alice).json_body == {"call": "Call"}
    assert edge.http.get("/optional").json_body == {"call": "ViewerCall", "viewer": None}
    assert edge.http.get("/optional", headers=alice).json_body == {"call": "ViewerCall", "viewer": "alice"}
    assert edge.http.get("/signed-in", headers=alice).json_body == {"call": "UserCall", "user": "alice"}
    refused = edge.http.get("/signed-in")
    assert refused.status_code == 401 and json.loads(refused.body)["title"] == "Authentication required"


def test_the_app_s_views_declare_the_call_of_their_route():
    """What mypy checks through Api.route's overloads, seen at run time too."""
    expected = {"none": Call, "optional": ViewerCall, "user": UserCall, "moderator": UserCall}
    for spec in api.routes:
        assert spec.view.__annotations__["call"] in (expected[spec.auth], expected[spec.auth].__name__), spec.path


# --- stage rules: one object validates and documents ----------------------------------------------


def _rules(annotation: Any) -> list[StageRule]:
    """The stage rules on a field's type, through Optional and Annotated (not into items)."""
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        return [m for m in metadata if isinstance(m, StageRule)] + _rules(base)
    if get_origin(annotation) in (Union, type(int | None)):
        return [rule for arg in get_args(annotation) for rule in _rules(arg)]
    return []


def test_every_stage_rule_of_a_body_states_its_terms_in_the_document(stage_env):
    settings = get_settings()
    schemas = openapi.document(api)["components"]["schemas"]
    checked = 0
    for spec in api.routes:
        body = spec.body
        if body is None:
            continue
        for name, field in body.model_fields.items():
            for rule in [m for m in field.metadata if isinstance(m, StageRule)] + _rules(field.annotation):
                terms: dict[str, Any] = {}
                rule.document(terms, settings)
                documented = schemas[body.__name__]["properties"][name]
                for keyword, value in terms.items():
                    if isinstance(value, dict):
                        assert value.items() <= documented[keyword].items(), (body.__name__, name)
                    else:
                        assert documented[keyword] == value, (body.__name__, name)
                checked += 1
    assert checked >= 10  # goal, duration, category, postcode, pledge amounts, media, fund categories…


class Thing(NoNulls):
    goal: Annotated[StrictInt, StageBound("goal_min_cents", "goal_max_cents", "cents")] | None = None


def test_a_stage_rule_validates_where_it_is_attached_and_documents_only_while_documenting(stage_env):
    settings = get_settings()
    with pytest.raises(ValidationError, match=f"must be between {settings.goal_min_cents} and"):
        Thing.model_validate({"goal": settings.goal_min_cents - 1}, context={"settings": settings})
    assert Thing.model_validate({}, context={"settings": settings}).goal is None
    plain = Thing.model_json_schema()["properties"]["goal"]
    assert "minimum" not in plain and plain["type"] == "integer"  # no null: NoNulls says so
    with documenting(settings):
        stated = Thing.model_json_schema()["properties"]["goal"]
    assert (stated["minimum"], stated["maximum"]) == (settings.goal_min_cents, settings.goal_max_cents)


def test_a_stage_bound_names_settings_that_exist():
    with pytest.raises(LookupError, match="goal_maximum"):
        StageBound("goal_min_cents", "goal_maximum", "cents")


# --- one page type, one problem shape ------------------------------------------------------------


def test_a_page_of_a_model_is_named_after_it_in_code_and_document(stage_env):
    assert CampaignPage is Page[Campaign] and CampaignPage.__name__ == "CampaignPage"
    names = set(openapi.document(api)["components"]["schemas"])
    assert {"CampaignPage", "BackerPage", "MyPledgePage", "NewsPage", "AuditPage", "MatchingFundPage"} <= names
    assert all(name.isidentifier() and "_" not in name for name in names), sorted(names)


def test_problem_bodies_are_the_documented_problem_details(stage_env):
    validator = TypeAdapter(ProblemDetails)
    plain = problem(NotFound("no such campaign"))
    assert validator.validate_python(plain) == plain and "errors" not in plain
    invalid = problem(ValidationFailed("title: too short", [{"field": "title", "message": "too short"}]))
    assert validator.validate_python(invalid)["errors"] == [{"field": "title", "message": "too short"}]
    schemas = openapi.document(api)["components"]["schemas"]
    generated = validator.json_schema(ref_template=openapi.REF)
    assert schemas["FieldError"] == generated.pop("$defs")["FieldError"]
    assert schemas["ProblemDetails"] == generated
