"""The adapters of chalicelib/adapters on in-process moto: plain values in and out, and
the S3/SES answers that mean "missing", "replaced" or "refused" turned into None, False
or MailNotSent. Where moto does not enforce a condition (CopySourceIfMatch), the test
says so instead of pretending."""

import base64
import json

import pytest

from chalicelib import aws
from chalicelib.adapters import mailer, media_store, queue
from chalicelib.settings import get_settings
from tests.conftest import STAGE_ENV

PNG = b"\x89PNG\r\n\x1a\n" + bytes(24)


def _put(key: str, body: bytes, content_type: str = "image/png") -> str:
    """An object written from the test (not recorded as the application's call); its ETag."""
    written = aws.client("s3").put_object(Bucket=media_store.bucket(), Key=key, Body=body, ContentType=content_type)
    return written["ETag"]


def _exists(key: str) -> bool:
    listed = aws.client("s3").list_objects_v2(Bucket=media_store.bucket(), Prefix=key)
    return any(item["Key"] == key for item in listed.get("Contents", []))


# --- media store -----------------------------------------------------------------------


def test_the_bucket_is_the_stages(emulated_aws):
    assert media_store.bucket() == STAGE_ENV["MEDIA_BUCKET"] == get_settings().media_bucket


def test_head_answers_size_type_and_etag(emulated_aws):
    etag = _put("pending/a/b", PNG)
    assert media_store.head("pending/a/b") == media_store.ObjectHead(len(PNG), "image/png", etag)


def test_head_of_a_missing_object_is_none(emulated_aws):
    assert media_store.head("pending/a/none") is None


def test_read_start_reads_the_first_bytes_of_that_very_object(emulated_aws):
    etag = _put("pending/a/b", PNG)
    assert media_store.read_start("pending/a/b", 8, etag) == PNG[:8]


def test_read_start_of_a_replaced_object_is_none(emulated_aws):
    etag = _put("pending/a/b", PNG)
    _put("pending/a/b", b"GIF89a" + bytes(26))
    assert media_store.read_start("pending/a/b", 8, etag) is None


def test_read_start_of_a_deleted_object_is_none(emulated_aws):
    etag = _put("pending/a/b", PNG)
    media_store.delete("pending/a/b")
    assert media_store.read_start("pending/a/b", 8, etag) is None


def test_copy_if_unchanged_copies(emulated_aws):
    etag = _put("pending/a/b", PNG)
    assert media_store.copy_if_unchanged("pending/a/b", "media/a/b", etag) is True
    assert media_store.head("media/a/b") == media_store.ObjectHead(len(PNG), "image/png", etag)


def test_copy_if_unchanged_of_a_deleted_source_is_false(emulated_aws):
    etag = _put("pending/a/b", PNG)
    media_store.delete("pending/a/b")
    assert media_store.copy_if_unchanged("pending/a/b", "media/a/b", etag) is False
    assert not _exists("media/a/b")


def test_moto_does_not_enforce_copy_source_if_match(emulated_aws):
    """AWS answers 412 (so False) for a stale ETag; moto copies anyway. If moto starts
    enforcing it, turn this into `is False`."""
    _put("pending/a/b", PNG)
    assert media_store.copy_if_unchanged("pending/a/b", "media/a/b", '"0123456789abcdef0123456789abcdef"') is True


def test_delete_removes_and_is_idempotent(emulated_aws):
    _put("pending/a/b", PNG)
    media_store.delete("pending/a/b")
    media_store.delete("pending/a/b")
    assert media_store.head("pending/a/b") is None


def test_presigned_post_is_for_that_key_type_and_size(emulated_aws):
    post = media_store.presigned_post("pending/a/b", "image/png", 1234, 300)
    assert post["fields"]["key"] == "pending/a/b" and post["fields"]["Content-Type"] == "image/png"
    conditions = json.loads(base64.b64decode(post["fields"]["policy"]))["conditions"]
    assert {"Content-Type": "image/png"} in conditions and ["content-length-range", 1234, 1234] in conditions
    assert {"bucket": media_store.bucket()} in conditions


def test_public_url_is_presigned_without_a_public_base(emulated_aws):
    url = media_store.public_url("media/a/b")
    assert f"{media_store.bucket()}" in url and "/media/a/b?" in url and "X-Amz-Signature=" in url
    assert f"X-Amz-Expires={get_settings().media_url_seconds}" in url


def test_public_url_under_the_public_base(emulated_aws, monkeypatch):
    monkeypatch.setenv("MEDIA_PUBLIC_BASE_URL", "https://media.oze.example/")
    assert media_store.public_url("media/a/b") == "https://media.oze.example/media/a/b"


# --- queue -----------------------------------------------------------------------------


def test_queue_sends_the_body_as_json(emulated_aws):
    sqs = aws.client("sqs")
    queue_url = sqs.get_queue_url(QueueName="oze-test-settlement")["QueueUrl"]
    queue.send(queue_url, {"campaign_id": "c1", "n": 2})
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"campaign_id": "c1", "n": 2}]


# --- mailer ----------------------------------------------------------------------------


def _sent() -> int:
    return int(aws.client("ses").get_send_quota()["SentLast24Hours"])


def test_mailer_sends_from_the_verified_sender(emulated_aws):
    before = _sent()
    mailer.send(get_settings().sender_email, "ines@example.org", "Sujet é", "texte", "<p>texte</p>")
    assert _sent() == before + 1


def test_mailer_refused_by_ses_raises_mail_not_sent(emulated_aws):
    """moto rejects an unverified sender (MessageRejected), as SES's sandbox does."""
    before = _sent()
    with pytest.raises(mailer.MailNotSent, match="MessageRejected"):
        mailer.send("personne@unverified.example", "ines@example.org", "Sujet", "texte", "<p>texte</p>")
    assert _sent() == before
