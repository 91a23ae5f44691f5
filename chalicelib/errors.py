"""Domain errors, and their one mapping to RFC 9457 problem details.

Domain code raises these; the HTTP edge turns any of them into an
application/problem+json answer with `problem()`. Nothing else builds error bodies.
`ProblemDetails` is that body's one definition: `problem()` is typed by it, and the OpenAPI
document's schema of errors is generated from it (chalicelib/openapi.py).
"""

from collections.abc import Callable
from typing import Annotated, Any, NotRequired

# typing_extensions' TypedDict, which pydantic can read on Python 3.11 (for the document);
# the module is loaded at cold start anyway (by pydantic, which the HTTP edge imports).
from typing_extensions import TypedDict

PROBLEM_BASE = "https://oze.example/problems/"


class Documented:
    """JSON Schema keywords that the OpenAPI document states for a field, beyond its type:
    pydantic calls this hook when it generates the document (no pydantic import here)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, core_schema: Any, handler: Callable[[Any], dict[str, Any]]
    ) -> dict[str, Any]:
        return {**handler(core_schema), **self.keywords}


class FieldError(TypedDict):
    field: Annotated[str, Documented(description="the body field (dotted path), query parameter or header at fault")]
    message: str


class ProblemDetails(TypedDict):
    """An error (RFC 9457), sent as application/problem+json."""

    type: Annotated[str, Documented(format="uri", examples=[PROBLEM_BASE + "validation-error"])]
    title: str
    status: int
    detail: str
    errors: NotRequired[
        Annotated[list[FieldError], Documented(description="validation errors: one per field at fault")]
    ]


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, errors: list[FieldError] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class BadRequest(DomainError):
    """The request cannot be read (malformed JSON, bad cursor, bad query parameter)."""


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    """The resource's current state forbids the action (a forbidden transition)."""

    status, slug, title = 409, "conflict", "Conflict with the current state"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ServiceUnavailable(DomainError):
    """A service the request needs (the payment provider) cannot answer now; nothing was
    done, and the same request may be sent again."""

    status, slug, title = 503, "service-unavailable", "Service unavailable"


class ValidationFailed(DomainError):
    """Well-formed input that breaks a rule; `errors` names each field at fault."""

    status, slug, title = 422, "validation-error", "Invalid request"


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", [{"field": field, "message": message}])


def problem(error: DomainError) -> ProblemDetails:
    body: ProblemDetails = {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if error.errors:
        body["errors"] = error.errors
    return body
