"""The OpenAPI 3.1 document of the API (GET /openapi.json), generated from the route table
that `Api.route` keeps and from the pydantic models that validate requests and shape
answers: no hand-kept copy to drift.

Per route: its path parameters, the fields of its query model, the Idempotency-Key header
of an idempotent route, its JSON body, its answer (and the Idempotent-Replayed header),
the problem+json errors it can give (which follow from its auth, body and parameters), and
who may call it (bearer JWT: Cognito's ID token, or the local stage's dev token).

Rules whose terms a stage configures (categories, territory, goal, duration, pledge amounts,
media types and sizes) are `StageRule`s attached to the models' field types
(chalicelib/models/base.py): the same objects that validate state their terms in the JSON
schemas generated while `documenting(settings)`, so the document served by a stage states
that stage's bounds. The error body's schema is generated from `errors.ProblemDetails`, the
type that `errors.problem()` builds.
"""

import re
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from .errors import ProblemDetails
from .http import Api, RouteSpec
from .models.base import documenting, without_null
from .pledges import KEY_PATTERN
from .settings import Settings, get_settings

# A JSON object of the document; the schema refs of the route models, by model and mode.
JSONObject = dict[str, Any]
Refs = dict[tuple[Any, JsonSchemaMode], JSONObject]
REF = "#/components/schemas/{model}"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
PROVIDER_PATHS = ("/payments/", "/sandbox/")  # public routes that ask the payment provider
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "pattern": f"^{KEY_PATTERN.pattern}$"}


ERRORS = {
    400: "The request cannot be read: malformed JSON, a bad query parameter, header or cursor.",
    401: "Sign in: the bearer token is missing, malformed, expired or not for this stage.",
    403: "Signed in, but not allowed: not the owner, not a moderator.",
    404: "No such resource, or not one the caller may see.",
    409: "The resource's current state forbids this (a forbidden transition, a sold-out reward…).",
    413: "The body is larger than the stage accepts ({max_body_bytes} bytes).",
    415: "The body is not sent in the media type the operation declares (application/json unless it says).",
    422: "Well-formed input that breaks a rule; `errors` names each field at fault.",
    503: "A service this depends on (the payment provider) cannot answer now: nothing was done; retry shortly.",
}


def _errors(spec: RouteSpec) -> list[int]:
    """The problem statuses a route can answer, from what it reads."""
    has_ids = bool(PATH_PARAMETER.search(spec.path))
    codes = set()
    if spec.body or spec.query or spec.idempotent:
        codes.add(400)
    if spec.auth != "none":
        codes.add(401)
    if spec.auth in ("user", "moderator"):
        codes.add(403)
    if has_ids:
        codes.add(404)
    if spec.method != "GET" and (has_ids or spec.auth != "none"):
        codes.add(409)  # a resource's state, or the caller's own (an account already opened)
    if spec.auth != "none" or spec.path.startswith(PROVIDER_PATHS):
        codes.add(503)
    if spec.body:
        codes |= {413, 415, 422}
    if spec.idempotent:
        codes.add(422)
    return sorted(codes)


class _Names(GenerateJsonSchema):
    """Component names: a generic page `Page[Campaign]` is CampaignPage, as the class is named
    (models.base.Page.model_parametrized_name), not pydantic's Page_Campaign_."""

    def normalize_name(self, name: str) -> str:
        return super().normalize_name(re.sub(r"^(\w+)\[(\w+)\]$", r"\2\1", name))


# --- the document --------------------------------------------------------------------------


def _parameters(spec: RouteSpec, query_schema: JSONObject | None) -> list[JSONObject]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in PATH_PARAMETER.findall(spec.path)
    ]
    if query_schema:
        required = set(query_schema.get("required", ()))
        for name, schema in query_schema["properties"].items():
            schema = {k: v for k, v in schema.items() if k != "title"}
            without_null(schema)  # an absent parameter is the null
            parameter = {"name": name, "in": "query", "required": name in required, "schema": schema}
            if "description" in schema:
                parameter["description"] = schema.pop("description")
            parameters.append(parameter)
    if spec.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": "the client's key for this request: the same key and body replay the first answer, "
                "the same key with another body is refused (422)",
                "schema": IDEMPOTENCY_KEY_SCHEMA,
            }
        )
    return parameters


def _success(spec: RouteSpec, refs: Refs) -> JSONObject:
    content = {}
    for media_type in spec.produces:
        if media_type == JSON:
            content[JSON] = {"schema": refs[(spec.response, "serialization")] if spec.response else {}}
        else:
            content[media_type] = {"schema": {"type": "string"}}
    answer: dict[str, Any] = {"description": "Created" if spec.status == 201 else "OK", "content": content}
    if spec.idempotent:
        answer["headers"] = {
            "Idempotent-Replayed": {
                "description": "present when this answer replays the first one given for this Idempotency-Key",
                "schema": {"type": "string", "enum": ["true"]},
            }
        }
    return answer


def _security(auth: str, schemes: list[str]) -> list[JSONObject] | None:
    signed_in: list[dict[str, list[str]]] = [{scheme: []} for scheme in schemes]
    return {"none": None, "optional": [{}, *signed_in]}.get(auth, signed_in)


def _operation(spec: RouteSpec, refs: Refs, query_schema: JSONObject | None, schemes: list[str]) -> JSONObject:
    doc = (spec.view.__doc__ or "").strip()
    summary = doc.splitlines()[0] if doc else spec.view.__name__.replace("_", " ").capitalize()
    operation: dict[str, Any] = {
        "operationId": spec.view.__name__,
        "summary": summary,
        "tags": [spec.path.strip("/").split("/")[0]],
    }
    if spec.auth == "moderator":
        operation["description"] = "Moderators only: members of the Cognito group `moderators`."
    parameters = _parameters(spec, query_schema)
    if parameters:
        operation["parameters"] = parameters
    if spec.body:
        operation["requestBody"] = {
            "required": True,
            "content": {spec.consumes: {"schema": refs[(spec.body, "validation")]}},
        }
    responses = {str(spec.status): _success(spec, refs)}
    if spec.redirects:
        responses["303"] = {
            "description": "See Other: the browser goes on to the page in Location",
            "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
        }
    responses.update({str(code): {"$ref": f"#/components/responses/{code}"} for code in _errors(spec)})
    operation["responses"] = responses
    security = _security(spec.auth, schemes)
    if security is not None:
        operation["security"] = security
    return operation


def _security_schemes(settings: Settings) -> JSONObject:
    schemes = {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An ID token of the stage's Amazon Cognito user pool (claims sub, email, name, "
            "cognito:groups). The local stage accepts HS256 dev tokens with the same claims (make token).",
        }
    }
    if settings.cognito_user_pool_id:
        issuer = f"https://cognito-idp.{settings.aws_region}.amazonaws.com/{settings.cognito_user_pool_id}"
        schemes["cognito"] = {
            "type": "openIdConnect",
            "openIdConnectUrl": f"{issuer}/.well-known/openid-configuration",
            "description": "The user pool that issues the bearer tokens.",
        }
    return schemes


def _components(
    routes: list[RouteSpec], settings: Settings
) -> tuple[JSONObject, Refs, dict[type[BaseModel], JSONObject]]:
    """Component schemas, the refs of the route models, and each query model's schema."""
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = {(spec.body, "validation") for spec in routes if spec.body}
    wanted |= {(spec.response, "serialization") for spec in routes if spec.response}
    with documenting(settings):  # the stage's rules state their terms
        refs, top = models_json_schema(
            sorted(wanted, key=lambda m: (m[0].__name__, m[1])), ref_template=REF, schema_generator=_Names
        )
        schemas = top.get("$defs", {})
        problem = TypeAdapter(ProblemDetails).json_schema(ref_template=REF, schema_generator=_Names)
        schemas.update(problem.pop("$defs", {}), ProblemDetails=problem)
        queries: dict[type[BaseModel], JSONObject] = {}
        for spec in routes:
            query_model = spec.query
            if query_model and query_model not in queries:
                query = query_model.model_json_schema(ref_template=REF, schema_generator=_Names)
                schemas.update(query.pop("$defs", {}))
                queries[query_model] = query
    return dict(sorted(schemas.items())), refs, queries


@lru_cache(maxsize=4)
def _document(api: Api, settings: Settings) -> JSONObject:
    schemas, refs, queries = _components(api.routes, settings)
    security_schemes = _security_schemes(settings)
    paths: dict[str, JSONObject] = {}
    for spec in api.routes:
        query_model = spec.query
        query_schema = queries[query_model] if query_model else None
        operation = _operation(spec, refs, query_schema, list(security_schemes))
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    problem = {"$ref": REF.format(model="ProblemDetails")}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ozé API",
            "version": "1",
            "summary": f"Civic crowdfunding of the territory of {settings.territory_name}",
            "description": "JSON bodies, snake_case fields, money in integer euro cents, UTC times with Z. "
            "Errors are application/problem+json (RFC 9457). Lists are paginated with `limit` and the opaque "
            "`cursor` of the previous page's `next_cursor` (absent on the last page).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                str(code): {
                    "description": text.format(max_body_bytes=settings.max_body_bytes),
                    "content": {PROBLEM_JSON: {"schema": problem}},
                }
                for code, text in ERRORS.items()
            },
            "securitySchemes": security_schemes,
        },
    }


def document(api: Api) -> JSONObject:
    """The document for the current stage's settings (built once per stage and process)."""
    return _document(api, get_settings())
