"""The media store: the S3 operations project media need, on the stage's media bucket.

Missing or replaced objects are answers (None, False), not exceptions; any other S3
error propagates as botocore raised it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from .. import aws
from ..settings import get_settings

MISSING = ("404", "NoSuchKey", "NotFound")
CHANGED = ("412", "PreconditionFailed")


class ObjectHead(NamedTuple):
    size: int
    content_type: str | None
    etag: str


def _s3():
    return aws.client("s3")


def bucket() -> str:
    return get_settings().media_bucket


def _code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


def presigned_post(key: str, content_type: str, size: int, expires_in: int) -> dict[str, Any]:
    """A browser upload of exactly `size` bytes of `content_type` to `key`: {"url", "fields"}."""
    return _s3().generate_presigned_post(
        Bucket=bucket(),
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
        ExpiresIn=expires_in,
    )


def head(key: str) -> ObjectHead | None:
    """The object's size, type and ETag; None when there is no such object."""
    try:
        answer = _s3().head_object(Bucket=bucket(), Key=key)
    except ClientError as error:
        if _code(error) in MISSING:
            return None
        raise
    return ObjectHead(answer["ContentLength"], answer.get("ContentType"), answer["ETag"])


def read_start(key: str, n: int, etag: str) -> bytes | None:
    """The object's first `n` bytes if it is still the one with `etag`; None when it was
    replaced or deleted meanwhile."""
    try:
        answer = _s3().get_object(Bucket=bucket(), Key=key, Range=f"bytes=0-{n - 1}", IfMatch=etag)
    except ClientError as error:
        if _code(error) in CHANGED + ("404", "NoSuchKey"):
            return None
        raise
    return answer["Body"].read()


def copy_if_unchanged(source: str, target: str, etag: str) -> bool:
    """Copy `source` to `target` if `source` is still the object with `etag` (AWS enforces
    the ETag; moto does not); False when it was replaced or deleted meanwhile."""
    try:
        _s3().copy_object(
            Bucket=bucket(), Key=target, CopySource={"Bucket": bucket(), "Key": source}, CopySourceIfMatch=etag
        )
    except ClientError as error:
        if _code(error) in CHANGED + ("NoSuchKey",):
            return False
        raise
    return True


def delete(key: str) -> None:
    """Delete the object (nothing happens if there is none)."""
    _s3().delete_object(Bucket=bucket(), Key=key)


def public_url(key: str) -> str:
    """Where browsers fetch the object: under the stage's public base URL if it has one,
    else a presigned GET that expires after the stage's media URL lifetime."""
    settings = get_settings()
    if settings.media_public_base_url:
        return f"{settings.media_public_base_url}/{key}"
    return _s3().generate_presigned_url(
        "get_object", Params={"Bucket": settings.media_bucket, "Key": key}, ExpiresIn=settings.media_url_seconds
    )
