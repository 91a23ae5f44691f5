"""Media uploads (chalicelib/media.py): a request to upload, and where to send the file."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictInt, ValidationInfo, field_validator

from .base import Answer, Model, Text, stage_settings, within


class MediaRequest(Model):
    """An owner's request to upload one file; types and sizes per kind come from the stage."""

    kind: Literal["image", "video"]
    content_type: Annotated[str, Field(max_length=100, examples=["image/jpeg"])]
    size_bytes: StrictInt = Field(description="the file's exact size; the upload must match it")
    filename: Annotated[Text, Field(max_length=255, pattern=r"^[^\x00-\x1f/\\]+$")]

    @field_validator("content_type")
    @classmethod
    def allowed_type(cls, value: str, info: ValidationInfo) -> str:
        if "kind" not in info.data:
            return value  # the kind's own error says enough
        allowed = stage_settings(info).media_types(info.data["kind"])
        if value.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)} for the kind {info.data['kind']}")
        return value.lower()

    @field_validator("size_bytes")
    @classmethod
    def within_limit(cls, value: int, info: ValidationInfo) -> int:
        if "kind" not in info.data:
            return value
        return within(value, 1, stage_settings(info).media_max_bytes(info.data["kind"]), "bytes")


class PresignedPost(Answer):
    url: str = Field(description="POST a multipart/form-data form here: these fields first, then `file`")
    fields: dict[str, str]
    expires_at: datetime


class MediaUpload(Answer):
    """A pending media: upload the file with `upload`, then call its `complete` action."""

    id: str
    kind: Literal["image", "video"]
    content_type: str
    size_bytes: int
    filename: str
    status: Literal["pending"]
    upload: PresignedPost
