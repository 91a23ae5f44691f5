"""Limits at the HTTP edge, on every route the route table says they apply to: bodies
over the stage's size → 413, unknown query parameters and out-of-bounds `limit` → 400,
all in problem+json naming what is at fault, and nothing written."""

import json
import re

import pytest

from app import api
from tests.conftest import bearer

MODERATOR = bearer("moderatrice", name="Claire Moderatrice", groups=("moderators",))
PROBLEM_JSON = "application/problem+json"
WITH_BODY = [pytest.param(spec, id=f"{spec.method} {spec.path}") for spec in api.routes if spec.body]
WITH_QUERY = [
    pytest.param(spec, id=f"{spec.method} {spec.path}")
    for spec in api.routes
    if spec.query and spec.query.model_config.get("extra") == "forbid"
]
# The payment provider's notifications: it may add parameters, and none of them is trusted.
LENIENT_QUERY = [
    pytest.param(spec, id=f"{spec.method} {spec.path}")
    for spec in api.routes
    if spec.query and spec.query.model_config.get("extra") != "forbid"
]
PAGED = [
    pytest.param(spec, id=f"{spec.method} {spec.path}")
    for spec in api.routes
    if spec.query and "limit" in spec.query.model_fields
]


def concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "f" * 32, path)


def problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.body
    assert answer.headers["Content-Type"] == PROBLEM_JSON
    body = json.loads(answer.body)
    assert body["status"] == status and body["detail"]
    return body


def counts(client) -> dict:
    return json.loads(client.http.get("/stats").body)["campaigns_by_status"]


@pytest.mark.parametrize("spec", WITH_BODY)
def test_a_body_over_the_stage_s_limit_is_413_on_every_route_with_a_body(client, monkeypatch, spec):
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    body = json.dumps({"title": "x" * 2100}).encode()
    answer = client.http.request(spec.method, concrete(spec.path), headers=MODERATOR, body=body)
    assert "2048 bytes" in problem(answer, 413)["detail"]


def test_the_limit_is_the_stage_s_setting(client, monkeypatch):
    """Just under the configured size is accepted; one byte more is not; nothing written."""
    monkeypatch.setenv("MAX_BODY_BYTES", "1024")
    draft = {
        "title": "Cocotte Minute",
        "summary": "Une mercerie et des ateliers tricot à Saint-Lô.",
        "category": "business",
        "postcode": "50000",
        "commune": "Saint-Lô",
        "goal_cents": 290_000,
    }
    fill = 1024 - len(json.dumps({**draft, "description": ""}, ensure_ascii=False).encode())
    fitting = json.dumps({**draft, "description": "x" * fill}, ensure_ascii=False).encode()
    assert len(fitting) == 1024
    before = counts(client)
    assert client.http.post("/campaigns", headers=MODERATOR, body=fitting + b" ").status_code == 413
    assert counts(client) == before
    assert client.http.post("/campaigns", headers=MODERATOR, body=fitting).status_code == 201


def test_the_default_limit_is_64_kib(client):
    body = json.dumps({"title": "x" * (64 * 1024)}).encode()
    assert "65536 bytes" in problem(client.http.post("/campaigns", headers=MODERATOR, body=body), 413)["detail"]


@pytest.mark.parametrize("spec", WITH_QUERY)
def test_an_unknown_query_parameter_is_400_naming_it(client, spec):
    answer = client.http.request(spec.method, concrete(spec.path) + "?colour=bleu", headers=MODERATOR)
    assert {"field": "colour", "message": "Extra inputs are not permitted"} in problem(answer, 400)["errors"]


def test_only_the_provider_s_notifications_take_unknown_query_parameters():
    assert {(spec.method, spec.path) for spec in (p.values[0] for p in LENIENT_QUERY)} == {
        ("GET", "/payments/notifications/{provider}"),
        ("POST", "/payments/notifications/{provider}"),
    }


@pytest.mark.parametrize("spec", LENIENT_QUERY)
def test_the_provider_s_notifications_ignore_unknown_query_parameters(client, spec):
    """Handled as one naming nothing of ours: nothing moves, and the provider is not told
    to send it again and again. The parameters read are still bounded."""
    path = spec.path.replace("{provider}", "sandbox")
    answer = client.http.request(spec.method, f"{path}?EventType=PAYIN_NORMAL_SUCCEEDED&colour=bleu")
    assert (answer.status_code, json.loads(answer.body)) == (200, {"handled": False})
    too_long = client.http.request(spec.method, f"{path}?RessourceId={'x' * 101}")
    assert [error["field"] for error in problem(too_long, 400)["errors"]] == ["RessourceId"]


@pytest.mark.parametrize("spec", PAGED)
@pytest.mark.parametrize("limit", ["0", "101", "1000000", "-1", "dix"])
def test_a_limit_out_of_bounds_is_400_naming_it(client, spec, limit):
    answer = client.http.request(spec.method, f"{concrete(spec.path)}?limit={limit}", headers=MODERATOR)
    assert [error["field"] for error in problem(answer, 400)["errors"]] == ["limit"]


@pytest.mark.parametrize("spec", PAGED)
def test_the_largest_limit_is_accepted(client, spec):
    answer = client.http.request(spec.method, f"{concrete(spec.path)}?limit=100", headers=MODERATOR)
    assert answer.status_code != 400, answer.body


def test_the_documented_limit_bounds_are_the_enforced_ones(client):
    document = json.loads(client.http.get("/openapi.json").body)
    for spec in api.routes:
        if spec.query and "limit" in spec.query.model_fields:
            (limit,) = [p for p in document["paths"][spec.path]["get"]["parameters"] if p["name"] == "limit"]
            assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
