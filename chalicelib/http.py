"""The HTTP edge: how a Chalice route reads its request and shapes its answer.

`Api.route` wraps a view so that it receives a parsed `Call` (validated body and query, and
the caller as the route's `auth` has it) and returns plain data; every DomainError becomes
one problem+json answer here. The route table it keeps is what the OpenAPI document is
generated from.

Which caller a view gets is typed: a view of a route that requires sign-in ("user",
"moderator") takes a `UserCall`, whose `user` is an Identity; one of an "optional" route a
`ViewerCall`, whose `viewer` is an Identity or None; a public view a `Call`, with no caller.
`Api.route` is overloaded on `auth` so that mypy refuses a view that asks for more.
"""

import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, Literal, NamedTuple, TypeVar, overload
from urllib.parse import parse_qsl

from chalice import Chalice, Response
from pydantic import BaseModel, ValidationError

from . import identity, models, observability
from .errors import (
    BadRequest,
    DomainError,
    FieldError,
    Forbidden,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
    problem,
)
from .settings import get_settings

logger = logging.getLogger("oze")

Auth = Literal["none", "optional", "user", "moderator"]
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HTML = "text/html; charset=utf-8"
PROBLEM_JSON = "application/problem+json"
# Chalice keeps the current request on the shared app object; `chalice local` serves on
# threads, so each thread keeps its own request here (set by `remember_request`).
_local = threading.local()
# CORS for the stage's allowed origins (settings.allowed_origins): what pages may send and read.
CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key"
CORS_EXPOSE_HEADERS = "Idempotent-Replayed"
CORS_MAX_AGE_SECONDS = "3600"


# NamedTuples rather than dataclasses: as plain, and a fraction of their cost at import
# (make bench: each dataclass generates and compiles its methods).
class Call(NamedTuple):
    """What a view needs of its request, already checked: a public route's (auth "none")."""

    body: Any = None
    query: Any = None
    headers: Any = {}  # case-insensitive on requests


class ViewerCall(NamedTuple):
    """A call to a route that serves anyone and more to some (auth "optional")."""

    body: Any = None
    query: Any = None
    headers: Any = {}
    viewer: identity.Identity | None = None


class UserCall(NamedTuple):
    """A call to a route that requires sign-in (auth "user" or "moderator"): `user` is there."""

    user: identity.Identity
    body: Any = None
    query: Any = None
    headers: Any = {}


# Views, by the call they take first (then their path parameters, by name).
PublicView = TypeVar("PublicView", bound=Callable[Concatenate[Call, ...], Any])
ViewerView = TypeVar("ViewerView", bound=Callable[Concatenate[ViewerCall, ...], Any])
UserView = TypeVar("UserView", bound=Callable[Concatenate[UserCall, ...], Any])


class Reply(NamedTuple):
    """A view's answer when it sets its own status or headers. With a `content_type`,
    `body` (text or bytes) is sent as it is, not shaped into JSON: a CSV file, a page."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = {}
    content_type: str | None = None


class RouteSpec(NamedTuple):
    """A route and its models, named "area.Name" (chalicelib/models): loaded on first use."""

    path: str
    method: str
    view: Callable[..., Any]
    auth: Auth
    body_model: str | None
    query_model: str | None
    response_model: str | None
    status: int
    idempotent: bool = False  # takes an Idempotency-Key header, may answer Idempotent-Replayed
    produces: tuple[str, ...] = (JSON,)  # media types of its answers (Reply.content_type), for the document
    consumes: str = JSON  # the media type of its body: JSON, or an HTML form's (a hosted page)
    redirects: bool = False  # may answer 303 See Other to a Location (a hosted page's form)

    @property
    def body(self) -> type[BaseModel] | None:
        return models.load(self.body_model) if self.body_model else None

    @property
    def query(self) -> type[BaseModel] | None:
        return models.load(self.query_model) if self.query_model else None

    @property
    def response(self) -> type[BaseModel] | None:
        return models.load(self.response_model) if self.response_model else None


def _fields(error: ValidationError, where: str) -> list[FieldError]:
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or where,
            "message": item["msg"].removeprefix("Value error, "),
        }
        for item in error.errors(include_url=False)
    ]


def _validation_detail(errors: list[FieldError]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


def parse_body(raw: bytes | None, content_type: str, model: type[BaseModel], media_type: str = JSON) -> BaseModel:
    limit = get_settings().max_body_bytes
    if raw and len(raw) > limit:
        raise PayloadTooLarge(f"the body exceeds {limit} bytes")
    if content_type.split(";")[0].strip().lower() != media_type:
        raise UnsupportedMediaType(
            f"send the body as {media_type}, not {content_type or 'nothing'}",
            [{"field": "Content-Type", "message": f"must be {media_type}"}],
        )
    try:
        data = json.loads(raw or b"") if media_type == JSON else dict(parse_qsl((raw or b"").decode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(
            f"the body is not valid JSON: {exc}", [{"field": "body", "message": "malformed JSON"}]
        ) from exc
    except RecursionError as exc:  # the JSON nests deeper than the parser goes: no body of ours does
        raise BadRequest("the body nests too deeply", [{"field": "body", "message": "nested too deeply"}]) from exc
    try:
        return model.model_validate(data, context={"settings": get_settings()})
    except ValidationError as exc:
        errors = _fields(exc, "body")
        raise ValidationFailed(_validation_detail(errors), errors) from exc


def parse_query(params: dict[str, str] | None, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(params or {})
    except ValidationError as exc:
        errors = _fields(exc, "query")
        raise BadRequest(_validation_detail(errors), errors) from exc


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def problem_response(error: DomainError, headers: Mapping[str, str | list[str]] | None = None) -> Response:
    return Response(
        _json(problem(error)), status_code=error.status, headers={"Content-Type": PROBLEM_JSON, **(headers or {})}
    )


def _shape(result: Any, model: type[BaseModel] | None) -> Any:
    if model is None:
        return result
    shaped = model.model_validate(result).model_dump(mode="json")
    if isinstance(shaped, dict) and "next_cursor" in shaped and shaped["next_cursor"] is None:
        del shaped["next_cursor"]  # absent on the last page
    return shaped


class Api:
    def __init__(self, app: Chalice):
        self.app = app
        self.routes: list[RouteSpec] = []
        # Outermost first: logs and metrics see every answer, CORS headers go on all of them.
        app.register_middleware(observability.middleware, "all")
        app.register_middleware(cors, "http")
        app.register_middleware(problem_for_chalice_errors, "http")
        app.register_middleware(remember_request, "http")

    @overload
    def route(
        self,
        path: str,
        method: str,
        *,
        auth: Literal["user", "moderator"],
        body: str | None = None,
        query: str | None = None,
        response: str | None = None,
        status: int = 200,
        idempotent: bool = False,
        produces: tuple[str, ...] = (JSON,),
        consumes: str = JSON,
        redirects: bool = False,
    ) -> Callable[[UserView], UserView]: ...

    @overload
    def route(
        self,
        path: str,
        method: str,
        *,
        auth: Literal["optional"],
        body: str | None = None,
        query: str | None = None,
        response: str | None = None,
        status: int = 200,
        idempotent: bool = False,
        produces: tuple[str, ...] = (JSON,),
        consumes: str = JSON,
        redirects: bool = False,
    ) -> Callable[[ViewerView], ViewerView]: ...

    @overload
    def route(
        self,
        path: str,
        method: str,
        *,
        auth: Literal["none"] = "none",
        body: str | None = None,
        query: str | None = None,
        response: str | None = None,
        status: int = 200,
        idempotent: bool = False,
        produces: tuple[str, ...] = (JSON,),
        consumes: str = JSON,
        redirects: bool = False,
    ) -> Callable[[PublicView], PublicView]: ...

    def route(
        self,
        path: str,
        method: str,
        *,
        auth: Auth = "none",
        body: str | None = None,
        query: str | None = None,
        response: str | None = None,
        status: int = 200,
        idempotent: bool = False,
        produces: tuple[str, ...] = (JSON,),
        consumes: str = JSON,
        redirects: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            spec = RouteSpec(
                path, method, view, auth, body, query, response, status, idempotent, produces, consumes, redirects
            )
            self.routes.append(spec)

            def handle(**path_params: str) -> Response:
                try:
                    return self._answer(spec, view(self._call(spec), **path_params))
                except DomainError as error:
                    return problem_response(error)

            handle.__name__ = view.__name__
            handle.__doc__ = view.__doc__
            # Content types are checked by parse_body, to answer in problem+json.
            self.app.route(path, methods=[method], content_types=["*/*"])(handle)
            if "OPTIONS" not in self.app.routes[path]:
                self.app.route(path, methods=["OPTIONS"], content_types=["*/*"])(self.preflight)
            return view

        return register

    def preflight(self, **path_params: str) -> Response:
        """OPTIONS on every path, so that API Gateway hands browsers' CORS preflights to the
        function: it answers OPTIONS itself only for routes with Chalice's `cors=`, which
        allows one origin. `cors` adds the Access-Control-* headers for allowed origins."""
        methods = self.app.routes[_local.request.context["resourcePath"]]
        return Response("", status_code=204, headers={"Allow": ", ".join(methods)})

    def _call(self, spec: RouteSpec) -> Call | ViewerCall | UserCall:
        request = _local.request
        # Public routes read no credentials: a stale token cannot break them.
        caller = None
        if spec.auth != "none":
            caller = identity.authenticate(request.headers.get("authorization"), get_settings())
            if spec.auth != "optional" and caller is None:
                raise Unauthorized("sign in to do this")  # before the body is read: 401 whatever it holds
            if spec.auth == "moderator" and not (caller and caller.is_moderator):
                raise Forbidden("only moderators may do this")  # 403 whatever the body holds
        body_model, query_model = spec.body, spec.query
        content_type = request.headers.get("content-type", "")
        body = parse_body(request.raw_body, content_type, body_model, spec.consumes) if body_model else None
        query = parse_query(request.query_params, query_model) if query_model else None
        if spec.auth == "optional":
            return ViewerCall(body, query, request.headers, viewer=caller)
        if caller is not None:
            return UserCall(caller, body, query, request.headers)
        return Call(body, query, request.headers)

    def _answer(self, spec: RouteSpec, result: Any) -> Response:
        reply = result if isinstance(result, Reply) else Reply(result, spec.status)
        if reply.content_type:
            return Response(
                reply.body, status_code=reply.status, headers={"Content-Type": reply.content_type, **reply.headers}
            )
        return Response(
            _json(_shape(reply.body, spec.response)),
            status_code=reply.status,
            headers={"Content-Type": JSON, **reply.headers},
        )


def cors(request: Any, get_response: Callable[[Any], Response]) -> Response:
    """CORS headers for the stage's allowed origins; other origins get none, so browsers
    refuse to show them the answer (or to send the preflighted request at all)."""
    response = get_response(request)
    origin = request.headers.get("origin")
    response.headers["Vary"] = "Origin"
    if origin and origin in get_settings().allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "")
            response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE_SECONDS
    return response


def remember_request(request: Any, get_response: Callable[[Any], Response]) -> Response:
    _local.request = request
    return get_response(request)


def problem_for_chalice_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice answers some errors itself (405, unhandled exceptions): give them the
    problem+json shape too. Unexpected exceptions are logged with their trace."""
    response = get_response(event)
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        error = DomainError(str(body.get("Message", body["Code"])))
        error.status, error.slug, error.title = response.status_code, str(body["Code"]).lower(), str(body["Code"])
        return problem_response(error, {k: v for k, v in response.headers.items() if k.lower() != "content-type"})
    return response
