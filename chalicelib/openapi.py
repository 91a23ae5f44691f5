"""The OpenAPI 3.1 document of the API (GET /openapi.json), generated from the route table
that `Api.route` keeps and from the pydantic models that validate requests and shape
answers: no hand-kept copy to drift.

Per route: its path parameters, the fields of its query model, the Idempotency-Key header
of an idempotent route, its JSON body, its answer (and the Idempotent-Replayed header),
the problem+json errors it can give (which follow from its auth, body and parameters), and
who may call it (bearer JWT: Cognito's ID token, or the local stage's dev token).

Bounds that a stage configures are checked by model validators reading Settings, which
JSON Schema cannot see; `stage_rules` writes them into the document by validator name, so
that the document served by a stage states that stage's bounds (categories, territory,
goal, duration, pledge amounts, media types and sizes).
"""

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, Field

from .errors import PROBLEM_BASE
from .pledges import KEY_PATTERN
from .settings import Settings, get_settings

REF = "#/components/schemas/{model}"
JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
PATH_PARAMETER = re.compile(r"\{(\w+)\}")
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "pattern": f"^{KEY_PATTERN.pattern}$"}


@lru_cache(maxsize=1)
def problem_details() -> type[BaseModel]:
    """The shape of chalicelib.errors.problem(), made with the first document (classes
    cost import time that cold starts need not pay)."""

    class FieldError(BaseModel):
        field: str = Field(description="the body field (dotted path), query parameter or header at fault")
        message: str

    class ProblemDetails(BaseModel):
        """An error (RFC 9457), sent as application/problem+json."""

        type: str = Field(json_schema_extra={"format": "uri"}, examples=[PROBLEM_BASE + "validation-error"])
        title: str
        status: int
        detail: str
        errors: list[FieldError] = Field(default=[], description="validation errors: one per field at fault")

    return ProblemDetails


ERRORS = {
    400: "The request cannot be read: malformed JSON, a bad query parameter, header or cursor.",
    401: "Sign in: the bearer token is missing, malformed, expired or not for this stage.",
    403: "Signed in, but not allowed: not the owner, not a moderator.",
    404: "No such resource, or not one the caller may see.",
    409: "The resource's current state forbids this (a forbidden transition, a sold-out reward…).",
    413: "The body is larger than the stage accepts ({max_body_bytes} bytes).",
    415: "The body is not sent as application/json.",
    422: "Well-formed input that breaks a rule; `errors` names each field at fault.",
}


def _errors(spec: Any) -> list[int]:
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
    if spec.method != "GET" and has_ids:
        codes.add(409)
    if spec.body:
        codes |= {413, 415, 422}
    if spec.idempotent:
        codes.add(422)
    return sorted(codes)


# --- stage bounds, by the name of the validator that checks them -------------------------------


def _bounds(low: int, high: int) -> Callable[[dict], None]:
    return lambda schema: schema.update(minimum=low, maximum=high)


def stage_rules(settings: Settings) -> dict[str, Callable[[dict], None]]:
    postcodes = "|".join(f"{re.escape(p)}[0-9]{{{5 - len(p)}}}" for p in settings.postcode_prefixes)
    media_types = sorted({*settings.media_image_types, *settings.media_video_types})
    media_max = max(settings.media_image_max_bytes, settings.media_video_max_bytes)
    pledge = _bounds(settings.pledge_min_cents, settings.pledge_max_cents)
    return {
        "known_category": lambda schema: schema.update(enum=list(settings.categories)),
        "known_categories": lambda schema: schema.setdefault("items", {}).update(enum=list(settings.categories)),
        "on_territory": lambda schema: schema.update(pattern=f"^(?:{postcodes})$"),
        "goal_within_bounds": _bounds(settings.goal_min_cents, settings.goal_max_cents),
        "duration_within_bounds": _bounds(settings.duration_min_days, settings.duration_max_days),
        "pledgeable": pledge,
        "amount_within_bounds": pledge,
        "allowed_type": lambda schema: schema.update(enum=media_types),
        "within_limit": _bounds(1, media_max),
    }


def _not_null(schema: dict) -> None:
    """NoNulls models refuse an explicit null: the document says so."""
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update(branches[0])
    if schema.get("default", 0) is None:
        del schema["default"]


def _value_schema(schema: dict) -> dict:
    """The non-null branch of an optional field's schema."""
    for branch in schema.get("anyOf", ()):
        if branch.get("type") != "null":
            return branch
    return schema


def _apply_stage_rules(model: type[BaseModel], schema: dict, settings: Settings) -> None:
    rules = stage_rules(settings)
    properties = schema.get("properties", {})
    validators = model.__pydantic_decorators__.field_validators.values()
    for validator in sorted(validators, key=lambda v: v.cls_var_name != "not_null"):
        for name in validator.info.fields:
            fields = properties if name == "*" else [model.model_fields[name].alias or name]
            for field in [f for f in fields if f in properties]:
                if validator.cls_var_name == "not_null":
                    _not_null(properties[field])
                elif validator.cls_var_name in rules:
                    rules[validator.cls_var_name](_value_schema(properties[field]))


# --- the document --------------------------------------------------------------------------


def _parameters(spec: Any, query_schema: dict | None) -> list[dict]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in PATH_PARAMETER.findall(spec.path)
    ]
    if query_schema:
        required = set(query_schema.get("required", ()))
        for name, schema in query_schema["properties"].items():
            schema = {k: v for k, v in schema.items() if k != "title"}
            _not_null(schema)  # an absent parameter is the null
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


def _success(spec: Any, refs: dict) -> dict:
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


def _security(auth: str, schemes: list[str]) -> list[dict] | None:
    signed_in = [{scheme: []} for scheme in schemes]
    return {"none": None, "optional": [{}, *signed_in]}.get(auth, signed_in)


def _operation(spec: Any, refs: dict, query_schema: dict | None, schemes: list[str]) -> dict:
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
        operation["requestBody"] = {"required": True, "content": {JSON: {"schema": refs[(spec.body, "validation")]}}}
    responses = {str(spec.status): _success(spec, refs)}
    responses.update({str(code): {"$ref": f"#/components/responses/{code}"} for code in _errors(spec)})
    operation["responses"] = responses
    security = _security(spec.auth, schemes)
    if security is not None:
        operation["security"] = security
    return operation


def _security_schemes(settings: Settings) -> dict:
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


def _components(routes: list, settings: Settings) -> tuple[dict, dict, dict]:
    """Component schemas, the refs of the route models, and each query model's schema."""
    from pydantic.json_schema import models_json_schema  # on first use: not at cold start

    wanted = {(spec.body, "validation") for spec in routes if spec.body}
    wanted |= {(spec.response, "serialization") for spec in routes if spec.response}
    wanted.add((problem_details(), "serialization"))
    refs, top = models_json_schema(sorted(wanted, key=lambda m: (m[0].__name__, m[1])), ref_template=REF)
    schemas = top.get("$defs", {})
    for model, mode in wanted:
        if mode == "validation":
            _apply_stage_rules(model, schemas[model.__name__], settings)
    queries = {}
    for spec in routes:
        if spec.query and spec.query not in queries:
            query = spec.query.model_json_schema(ref_template=REF)
            schemas.update(query.pop("$defs", {}))
            _apply_stage_rules(spec.query, query, settings)
            queries[spec.query] = query
    return schemas, refs, queries


@lru_cache(maxsize=4)
def _document(api: Any, settings: Settings) -> dict:
    schemas, refs, queries = _components(api.routes, settings)
    security_schemes = _security_schemes(settings)
    paths: dict[str, dict] = {}
    for spec in api.routes:
        operation = _operation(spec, refs, queries.get(spec.query), list(security_schemes))
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


def document(api: Any) -> dict:
    """The document for the current stage's settings (built once per stage and process)."""
    return _document(api, get_settings())
