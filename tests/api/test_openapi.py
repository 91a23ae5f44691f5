"""GET /openapi.json: a valid OpenAPI 3.1 document of exactly the routes the app serves,
generated from the route table and the pydantic models, with the stage's bounds."""

import json
import re

import pytest
from chalice import Chalice
from openapi_spec_validator import OpenAPIV31SpecValidator

from app import api, app
from chalicelib.models.base import PageQuery
from tests.conftest import bearer

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture
def document(client):
    answer = client.http.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    return json.loads(answer.body)


def served(chalice_app: Chalice) -> set[tuple[str, str]]:
    """The operations Chalice routes, but the CORS preflights (OPTIONS on every path)."""
    return {(path, method) for path, entries in chalice_app.routes.items() for method in entries if method in METHODS}


def documented(doc: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in doc["paths"].items() for method in item}


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1.")
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_every_route_is_documented_and_nothing_else(document):
    assert served(app) == documented(document)
    assert len(served(app)) == len(api.routes)


def test_every_path_answers_cors_preflights(document):
    for path in document["paths"]:
        assert app.routes[path]["OPTIONS"].view_function == api.preflight


def test_operations_carry_their_route_s_parameters_body_answer_and_security(document):
    for spec in api.routes:
        operation = document["paths"][spec.path][spec.method.lower()]
        parameters = {(p["in"], p["name"]): p for p in operation.get("parameters", [])}
        for name in re.findall(r"\{(\w+)\}", spec.path):
            assert parameters[("path", name)]["required"] is True
        query_fields = {f.alias or name for name, f in spec.query.model_fields.items()} if spec.query else set()
        assert {name for where, name in parameters if where == "query"} == query_fields
        if spec.body:  # JSON, or the form of a hosted page (the sandbox's)
            assert set(operation["requestBody"]["content"]) == {spec.consumes}
            schema = operation["requestBody"]["content"][spec.consumes]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{spec.body.__name__}"}
        else:
            assert "requestBody" not in operation
        answer = operation["responses"][str(spec.status)]
        if spec.response and "application/json" in spec.produces:
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{spec.response.__name__}"}
        assert set(answer["content"]) == set(spec.produces)
        security = operation.get("security")
        assert (
            security
            == {
                "none": None,
                "optional": [{}, {"bearer": []}],
                "user": [{"bearer": []}],
                "moderator": [{"bearer": []}],
            }[spec.auth]
        ), spec.path


def test_errors_are_problem_details_as_fits_each_route(document):
    responses = document["components"]["responses"]
    for code in ("400", "401", "403", "404", "409", "413", "415", "422"):
        content = responses[code]["content"]
        assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
    problem = document["components"]["schemas"]["ProblemDetails"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    create = document["paths"]["/campaigns"]["post"]["responses"]
    assert {"401", "413", "415", "422"} <= set(create) and "404" not in create
    public_list = document["paths"]["/campaigns"]["get"]["responses"]
    assert set(public_list) == {"200", "400"}
    approve = document["paths"]["/campaigns/{campaign_id}/approve"]["post"]["responses"]
    assert {"401", "403", "404", "409"} <= set(approve) and "415" not in approve


def test_the_pledge_route_documents_its_idempotency_key_and_replay_header(document):
    operation = document["paths"]["/campaigns/{campaign_id}/pledges"]["post"]
    (key,) = [p for p in operation["parameters"] if p["in"] == "header"]
    assert key["name"] == "Idempotency-Key" and key["required"] is True
    assert re.fullmatch(key["schema"]["pattern"], "cle-1") and not re.fullmatch(key["schema"]["pattern"], "é")
    replayed = operation["responses"]["201"]["headers"]["Idempotent-Replayed"]
    assert replayed["schema"] == {"type": "string", "enum": ["true"]}
    others = [op for path, item in document["paths"].items() for op in item.values() if op is not operation]
    assert not any("Idempotent-Replayed" in str(op) for op in others)


def test_security_schemes_say_bearer_jwt(document):
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer" and scheme["bearerFormat"] == "JWT"


def test_partial_updates_refuse_null_and_say_so(document):
    patch = document["components"]["schemas"]["CampaignPatch"]
    assert patch["properties"]["title"]["type"] == "string"
    assert "null" not in json.dumps(patch)


def test_query_parameters_come_from_the_query_models(document):
    operation = document["paths"]["/me/pledges"]["get"]
    limit = next(p for p in operation["parameters"] if p["name"] == "limit")
    bounds = PageQuery.model_json_schema()["properties"]["limit"]
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (bounds["minimum"], bounds["maximum"])
    cursor = next(p for p in operation["parameters"] if p["name"] == "cursor")
    assert cursor["schema"]["type"] == "string"  # no null: an absent parameter is the null


def test_answers_match_their_documented_schemas(client, document):
    """A few real answers, checked against the document by the validator of OpenAPI's
    own JSON Schema dialect (the fuzzer checks thousands more)."""
    from openapi_schema_validator import OAS31Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:oze", resource)

    def check(body, ref):
        OAS31Validator({"$ref": "urn:oze" + ref}, registry=registry).validate(body)

    created = client.http.post(
        "/campaigns",
        headers=bearer("porteuse"),
        body=json.dumps(
            {
                "title": "Exp3D",
                "summary": "Des imprimantes 3D fabriquées à Saint-Lô.",
                "description": "Grégory Jamard fabrique des imprimantes 3D dans son atelier de Saint-Lô.",
                "category": "business",
                "postcode": "50000",
                "commune": "Saint-Lô",
                "goal_cents": 200_000,
            }
        ),
    )
    assert created.status_code == 201
    check(json.loads(created.body), "#/components/schemas/Campaign")
    refused = client.http.post("/campaigns", headers=bearer("porteuse"), body=json.dumps({"title": "x"}))
    assert refused.status_code == 422 and refused.headers["Content-Type"] == "application/problem+json"
    check(json.loads(refused.body), "#/components/schemas/ProblemDetails")
    listed = client.http.get("/campaigns?limit=5")
    check(json.loads(listed.body), "#/components/schemas/CampaignPage")
