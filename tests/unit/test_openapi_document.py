"""The OpenAPI document built without the emulator: the route comparison can fail, each
stage's security and bounds, and the models the routes name, loaded on first use. The
document as GET /openapi.json serves it is checked in tests/api/test_openapi.py."""

import os
import re
import subprocess
import sys

import pytest
from chalice import Chalice
from openapi_spec_validator import OpenAPIV31SpecValidator

from app import api
from chalicelib import models, openapi
from chalicelib.http import Api
from tests.api.test_openapi import documented, served
from tests.conftest import ROOT
from tests.unit.conftest import REAL_MONEY


def test_the_comparison_sees_a_route_left_out_of_the_document(stage_env):
    """The check above can fail: a route added with Chalice alone is not documented."""
    other = Chalice(app_name="oze-other")
    other_api = Api(other)
    other_api.route("/things", "GET")(lambda call: [])
    other.route("/secret", methods=["GET"])(lambda: {})
    doc = openapi.document(other_api)
    assert served(other) - documented(doc) == {("/secret", "GET")}


def test_a_hosted_stage_names_its_cognito_user_pool(stage_env, monkeypatch):
    for name, value in {"STAGE": "prod", "DEV_JWT_SECRET": "", **REAL_MONEY}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COGNITO_USER_POOL_ID", "eu-west-3_AbCdEf123")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    doc = openapi.document(api)
    cognito = doc["components"]["securitySchemes"]["cognito"]
    assert cognito == {
        "type": "openIdConnect",
        "openIdConnectUrl": "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_AbCdEf123/.well-known/openid-configuration",
        "description": cognito["description"],
    }
    assert doc["paths"]["/me/pledges"]["get"]["security"] == [{"bearer": []}, {"cognito": []}]
    assert OpenAPIV31SpecValidator(doc).is_valid()


def test_the_document_states_the_stage_s_bounds(stage_env, monkeypatch):
    """Another département, other bounds: its document says so."""
    monkeypatch.setenv("POSTCODE_PREFIXES", "14,610")
    monkeypatch.setenv("CATEGORIES", "culture,sport")
    monkeypatch.setenv("PLEDGE_MIN_CENTS", "500")
    monkeypatch.setenv("GOAL_MAX_CENTS", "5000000")
    schemas = openapi.document(api)["components"]["schemas"]
    create = schemas["CampaignCreate"]["properties"]
    assert create["category"]["enum"] == ["culture", "sport"]
    assert re.fullmatch(create["postcode"]["pattern"], "14000") and re.fullmatch(create["postcode"]["pattern"], "61000")
    assert not re.fullmatch(create["postcode"]["pattern"], "50000") and not re.fullmatch(
        create["postcode"]["pattern"], "6100"
    )
    assert (create["goal_cents"]["minimum"], create["goal_cents"]["maximum"]) == (10_000, 5_000_000)
    assert schemas["PledgeCreate"]["properties"]["amount_cents"]["minimum"] == 500
    assert schemas["RewardCreate"]["properties"]["min_amount_cents"]["minimum"] == 500


# --- the models behind the routes: named, loaded on first use -----------------------------


def test_every_route_names_models_that_exist():
    named = {ref for spec in api.routes for ref in (spec.body_model, spec.query_model, spec.response_model) if ref}
    assert {ref: models.load(ref).__name__ for ref in named} == {ref: ref.split(".")[1] for ref in named}
    with pytest.raises(LookupError, match="campaigns.Campain"):
        models.load("campaigns.Campain")


def test_importing_the_app_loads_no_model_until_a_route_needs_it():
    """Creating every pydantic class at import was more than half of what the app added to a
    bare Chalice app's cold start (make bench): a cold start loads only its route's areas."""
    probe = (
        "import sys, app\n"
        "loaded = lambda: sorted(m for m in sys.modules if m.startswith('chalicelib.models.'))\n"
        "print(loaded())\n"
        "app.api.routes[0].response\n"
        "print(loaded())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert api.routes[0].response_model == "campaigns.CampaignPage"
    assert out == ["[]", "['chalicelib.models.base', 'chalicelib.models.campaigns']"]
