"""What every area's models share: the request and answer bases, common field types, paging."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..settings import Settings

Text = Annotated[str, Field(pattern=r"\S")]
Postcode = Annotated[str, Field(pattern=r"^[0-9]{5}$", examples=["50000"])]
FundingModel = Literal["all_or_nothing", "keep_it_all"]
Status = Literal["draft", "submitted", "live", "succeeded", "failed", "cancelled"]


class Model(BaseModel):
    # defer_build: schemas are built on first use, not at import (cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True, str_strip_whitespace=True)


def stage_settings(info: ValidationInfo) -> Settings:
    return info.context["settings"]


def within(value: int | None, low: int, high: int, unit: str) -> int | None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"must be between {low} and {high} {unit}")
    return value


class NoNulls(Model):
    """Partial updates: an absent field is left alone, an explicit null is refused."""

    @field_validator("*", mode="before")
    @classmethod
    def not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep its value")
        return value


class Answer(BaseModel):
    # defer_build: each schema is built by the first answer that uses it, not at import;
    # building them all at import cost about 10 ms of the cold start (make bench).
    model_config = ConfigDict(defer_build=True)


class PageQuery(Model):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=2000)] | None = None
