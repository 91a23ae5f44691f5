"""Media uploads (chalicelib/media.py): a request to upload, and where to send the file."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt

from ..settings import Settings
from .base import Answer, Model, StageRule, Text, within


class AllowedMediaType(StageRule):
    """A content type that the stage accepts for the media's kind (validated before it)."""

    def check(self, value: str, settings: Settings, data: dict[str, Any]) -> str:
        if "kind" not in data:
            return value  # the kind's own error says enough
        allowed = settings.media_types(data["kind"])
        if value.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)} for the kind {data['kind']}")
        return value.lower()

    def document(self, schema: dict[str, Any], settings: Settings) -> None:
        schema.update(enum=sorted({*settings.media_image_types, *settings.media_video_types}))


class MediaSize(StageRule):
    """A size within the stage's limit for the media's kind (validated before it)."""

    def check(self, value: int, settings: Settings, data: dict[str, Any]) -> int:
        if "kind" not in data:
            return value
        return within(value, 1, settings.media_max_bytes(data["kind"]), "bytes")

    def document(self, schema: dict[str, Any], settings: Settings) -> None:
        schema.update(minimum=1, maximum=max(settings.media_image_max_bytes, settings.media_video_max_bytes))


class MediaRequest(Model):
    """An owner's request to upload one file; types and sizes per kind come from the stage."""

    kind: Literal["image", "video"]
    content_type: Annotated[str, Field(max_length=100, examples=["image/jpeg"]), AllowedMediaType()]
    size_bytes: Annotated[StrictInt, Field(description="the file's exact size; the upload must match it"), MediaSize()]
    filename: Annotated[Text, Field(max_length=255, pattern=r"^[^\x00-\x1f/\\]+$")]


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
