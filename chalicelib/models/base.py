"""What every area's models share: the request and answer bases, common field types, paging,
and the rules whose terms each stage configures."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictInt,
    ValidationInfo,
    field_validator,
)
from pydantic_core import CoreSchema, core_schema

from ..settings import Settings

# Texts are plain text, shown as written: no control character but line breaks and tabs, and
# no bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069), which would make a
# text read otherwise than it is written (a name reversed, a link disguised).
UNSHOWABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _plain(value: str) -> str:
    if UNSHOWABLE.search(value):
        raise ValueError("must be plain text: no control characters nor bidirectional overrides")
    return value


Text = Annotated[str, Field(pattern=r"\S"), AfterValidator(_plain)]
PlainText = Annotated[str, AfterValidator(_plain)]  # may be empty or blank
Postcode = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["50000"])]
ReturnUrl = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s]+$")]


def _iso_day(value: object) -> object:
    """A day as the document says (YYYY-MM-DD), not a number pydantic would take for one."""
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError("must be a day, YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]
FundingModel = Literal["all_or_nothing", "keep_it_all"]
Status = Literal["draft", "submitted", "live", "succeeded", "failed", "cancelled"]


class Model(BaseModel):
    # defer_build: schemas are built on first use, not at import (cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True, str_strip_whitespace=True)


def stage_settings(info: ValidationInfo) -> Settings:
    """The stage's Settings, which chalicelib/http.py puts in every body's validation context."""
    if not info.context or "settings" not in info.context:
        raise RuntimeError("validate with context={'settings': Settings}: stage rules read the stage's bounds")
    settings: Settings = info.context["settings"]
    return settings


def within(value: int, low: int, high: int, unit: str) -> int:
    if not low <= value <= high:
        raise ValueError(f"must be between {low} and {high} {unit}")
    return value


# --- rules that a stage configures ----------------------------------------------------------

# The stage whose terms JSON schemas state, while chalicelib/openapi.py makes its document.
_documented_stage: ContextVar[Settings | None] = ContextVar("documented_stage", default=None)


@contextmanager
def documenting(settings: Settings) -> Iterator[None]:
    """JSON schemas generated within state the terms of this stage's rules."""
    token = _documented_stage.set(settings)
    try:
        yield
    finally:
        _documented_stage.reset(token)


class StageRule:
    """A rule whose terms the stage configures (Settings), attached to the type it governs as
    `Annotated` metadata: `Annotated[StrictInt, StageBound(...)]`. The one validator below
    checks it wherever the type is used (optional or not, create or patch), and the JSON
    schema of the type states the stage's terms in the OpenAPI document: a rule cannot be
    checked without being documented, or documented without being checked."""

    def check(self, value: Any, settings: Settings, data: dict[str, Any]) -> Any:
        """The value, or ValueError; `data` holds the fields validated before this one."""
        raise NotImplementedError

    def document(self, schema: dict[str, Any], settings: Settings) -> None:
        """State the stage's terms in the JSON schema of the type."""
        raise NotImplementedError

    def _validate(self, value: Any, info: ValidationInfo) -> Any:
        return self.check(value, stage_settings(info), info.data)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_after_validator_function(self._validate, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        json_schema = handler(schema)
        settings = _documented_stage.get()
        if settings is not None:
            self.document(json_schema, settings)
        return json_schema


class StageBound(StageRule):
    """An integer between two of the stage's settings, by name:
    `StageBound("goal_min_cents", "goal_max_cents", "cents")`."""

    def __init__(self, low: str, high: str, unit: str) -> None:
        unknown = {low, high} - set(Settings._fields)
        if unknown:
            raise LookupError(f"no settings {', '.join(sorted(unknown))}")
        self.low, self.high, self.unit = low, high, unit

    def bounds(self, settings: Settings) -> tuple[int, int]:
        return getattr(settings, self.low), getattr(settings, self.high)

    def check(self, value: int, settings: Settings, data: dict[str, Any]) -> int:
        return within(value, *self.bounds(settings), self.unit)

    def document(self, schema: dict[str, Any], settings: Settings) -> None:
        low, high = self.bounds(settings)
        schema.update(minimum=low, maximum=high)


class KnownCategory(StageRule):
    """One of the stage's categories."""

    def check(self, value: str, settings: Settings, data: dict[str, Any]) -> str:
        if value not in settings.categories:
            raise ValueError(f"must be one of {', '.join(settings.categories)}")
        return value

    def document(self, schema: dict[str, Any], settings: Settings) -> None:
        schema.update(enum=list(settings.categories))


class KnownCategories(StageRule):
    """A list of the stage's categories."""

    def check(self, value: list[str], settings: Settings, data: dict[str, Any]) -> list[str]:
        unknown = [c for c in value if c not in settings.categories]
        if unknown:
            raise ValueError(f"unknown {', '.join(unknown)}; categories are {', '.join(settings.categories)}")
        return value

    def document(self, schema: dict[str, Any], settings: Settings) -> None:
        schema.setdefault("items", {}).update(enum=list(settings.categories))


class OnTerritory(StageRule):
    """A postcode that starts with one of the stage's prefixes."""

    def check(self, value: str, settings: Settings, data: dict[str, Any]) -> str:
        if not value.startswith(settings.postcode_prefixes):
            raise ValueError(
                f"must be on the territory of {settings.territory_name} ({', '.join(settings.postcode_prefixes)}…)"
            )
        return value

    def document(self, schema: dict[str, Any], settings: Settings) -> None:
        postcodes = "|".join(f"{re.escape(p)}[0-9]{{{5 - len(p)}}}" for p in settings.postcode_prefixes)
        schema.update(pattern=f"^(?:{postcodes})$")


# Field types that several areas share.
PledgeCents = Annotated[StrictInt, StageBound("pledge_min_cents", "pledge_max_cents", "cents")]
Category = Annotated[str, KnownCategory()]
TerritoryPostcode = Annotated[Postcode, OnTerritory()]


# --- requests and answers -------------------------------------------------------------------


def without_null(schema: dict[str, Any]) -> None:
    """The JSON schema of an optional value that may be absent but not null."""
    branches = [b for b in schema.get("anyOf", ()) if b.get("type") != "null"]
    if len(branches) == 1 and len(schema["anyOf"]) == 2:
        del schema["anyOf"]
        schema.update(branches[0])
    if schema.get("default", 0) is None:
        del schema["default"]


class NoNulls(Model):
    """Partial updates: an absent field is left alone, an explicit null is refused (and the
    JSON schema says so)."""

    @field_validator("*", mode="before")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        json_schema = handler(schema)
        for field in handler.resolve_ref_schema(json_schema).get("properties", {}).values():
            without_null(field)
        return json_schema


class Answer(BaseModel):
    # defer_build: each schema is built by the first answer that uses it, not at import;
    # building them all at import cost about 10 ms of the cold start (make bench).
    model_config = ConfigDict(defer_build=True)


class PageQuery(Model):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=2000)] | None = None


Item = TypeVar("Item")


class Page(Answer, Generic[Item]):
    """A page of a list. `Page[Campaign]` is named CampaignPage, here and in the OpenAPI document."""

    items: list[Item]
    next_cursor: str | None = Field(None, description="absent on the last page")

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        return "".join(getattr(param, "__name__", str(param)) for param in params) + cls.__name__
