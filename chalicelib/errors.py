"""Domain errors, and their one mapping to RFC 9457 problem details.

Domain code raises these; the HTTP edge turns any of them into an
application/problem+json answer with `problem()`. Nothing else builds error bodies.
"""

from typing import Any

PROBLEM_BASE = "https://oze.example/problems/"


class DomainError(Exception):
    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None):
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


class ValidationFailed(DomainError):
    """Well-formed input that breaks a rule; `errors` names each field at fault."""

    status, slug, title = 422, "validation-error", "Invalid request"


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", [{"field": field, "message": message}])


def problem(error: DomainError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if error.errors:
        body["errors"] = error.errors
    return body
