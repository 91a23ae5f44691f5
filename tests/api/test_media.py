"""Project media as owners and visitors meet them: a presigned POST straight to S3, the
check that publishes or rejects the upload (from `complete` or from the S3 event), the
campaign's media with their URLs, and every refusal writing nothing.

moto does not enforce presigned POST policies, so the policy is read back and checked
here, and the files below break each rule that `complete` must catch by itself.
"""

import base64
import json
from datetime import timedelta

import boto3

from chalicelib import clock, storage
from chalicelib.settings import VARIABLES
from tests.conftest import STAGE_ENV, bearer
from tests.factories import payout_account

OWNER = bearer("owner-gregory", name="Grégory Jamard")
STRANGER = bearer("stranger-ines", name="Inès Hébert")
MODERATOR = bearer("moderator-anne", name="Anne Marié", groups=("moderators",))
BUCKET = STAGE_ENV["MEDIA_BUCKET"]
CAMPAIGN = {
    "title": "Exp3D — imprimantes 3D fabriquées à Saint-Lô",
    "summary": "Grégory conçoit et assemble des imprimantes 3D dans la Manche.",
    "description": "Exp3D fabrique à Saint-Lô des imprimantes 3D robustes, réparables et vendues en kit.",
    "category": "business",
    "postcode": "50000",
    "commune": "Saint-Lô",
    "goal_cents": 200_000,
}

# The first bytes of real files of each type, then filler.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(100) + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free" + bytes(200)
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(40)
SAMPLES = {"image/jpeg": JPEG, "image/png": PNG, "image/webp": WEBP, "video/mp4": MP4}


# --- helpers -------------------------------------------------------------------------------


def call(client, method, path, who=None, body=None):
    answer = client.http.request(method, path, headers=who or {}, body=json.dumps(body).encode() if body else b"")
    return answer.status_code, answer.json_body


def new_campaign(client, who=OWNER):
    status, campaign = call(client, "POST", "/campaigns", who, CAMPAIGN)
    assert status == 201, campaign
    return campaign["id"]


def go_live(client, campaign_id):
    assert call(client, "POST", f"/campaigns/{campaign_id}/submit", OWNER)[0] == 200
    payout_account(client, headers=OWNER)
    assert call(client, "POST", f"/campaigns/{campaign_id}/approve", MODERATOR)[0] == 200


def ask(client, campaign_id, content_type="image/png", size=None, who=OWNER, filename="atelier.png"):
    size = len(PNG) if size is None else size
    body = {"kind": content_type.split("/")[0].lower(), "content_type": content_type, "size_bytes": size}
    body["filename"] = filename
    return call(client, "POST", f"/campaigns/{campaign_id}/media", who, body)


def requested(client, campaign_id, content_type="image/png", data=None):
    data = SAMPLES[content_type] if data is None else data
    status, upload = ask(client, campaign_id, content_type, len(data))
    assert status == 201, upload
    return upload


def put(upload, data, content_type=None):
    """The browser's upload, straight into the emulated bucket."""
    fields = upload["upload"]["fields"]
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=fields["key"], Body=data, ContentType=content_type or fields["Content-Type"])


def complete(client, campaign_id, media_id, who=OWNER):
    return call(client, "POST", f"/campaigns/{campaign_id}/media/{media_id}/complete", who)


def uploaded(client, campaign_id, content_type="image/png"):
    upload = requested(client, campaign_id, content_type)
    put(upload, SAMPLES[content_type])
    status, campaign = complete(client, campaign_id, upload["id"])
    assert status == 200, campaign
    return upload["id"]


def keys():
    return {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def stored_media(campaign_id):
    campaign = storage.campaigns.get(campaign_id)
    return {m.id: {k: v for k, v in m._asdict().items() if v is not None} for m in campaign.media}


def unsigned(campaign):
    """A campaign answer without the signatures of its media URLs, which carry their signing time."""
    return {**campaign, "media": [{**m, "url": m["url"].split("?")[0]} for m in campaign["media"]]}


def policy(upload):
    return json.loads(base64.b64decode(upload["upload"]["fields"]["policy"]))


def object_created(client, key, bucket=BUCKET):
    detail = {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}, "reason": "PostObject"}
    event = client.events.generate_cw_event("aws.s3", "Object Created", detail, [f"arn:aws:s3:::{bucket}"])
    return client.lambda_.invoke("media_uploaded", event).payload


# --- request an upload: the presigned POST ---------------------------------------------------


def test_request_answers_201_with_a_post_policy_pinning_key_type_size_and_expiry(client):
    campaign_id = new_campaign(client)
    before = clock.now()
    status, upload = ask(client, campaign_id, "image/jpeg", len(JPEG), filename="Atelier été.jpg")
    after = clock.now()

    assert status == 201
    assert upload["status"] == "pending" and upload["kind"] == "image" and upload["size_bytes"] == len(JPEG)
    key = f"pending/{campaign_id}/{upload['id']}"
    assert upload["upload"]["fields"]["key"] == key
    assert upload["upload"]["fields"]["Content-Type"] == "image/jpeg"
    assert BUCKET in upload["upload"]["url"]
    conditions = policy(upload)["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": key} in conditions
    assert {"Content-Type": "image/jpeg"} in conditions
    assert ["content-length-range", len(JPEG), len(JPEG)] in conditions
    expiration = clock.parse(policy(upload)["expiration"])
    assert clock.parse(upload["upload"]["expires_at"]) == expiration
    seconds = int(STAGE_ENV.get("MEDIA_UPLOAD_SECONDS", VARIABLES["MEDIA_UPLOAD_SECONDS"]))
    assert before + timedelta(seconds=seconds) <= expiration <= after + timedelta(seconds=seconds + 1)
    # Nothing is shown before the file is checked.
    assert call(client, "GET", f"/campaigns/{campaign_id}", OWNER)[1]["media"] == []


def test_content_type_is_pinned_in_lower_case(client):
    campaign_id = new_campaign(client)
    status, upload = ask(client, campaign_id, "image/PNG")
    assert status == 201
    assert upload["content_type"] == "image/png"
    assert {"Content-Type": "image/png"} in policy(upload)["conditions"]


BAD_DECLARATIONS = [
    ({"content_type": "image/gif"}, "content_type"),
    ({"content_type": "video/mp4"}, "content_type"),  # a video type for an image
    ({"content_type": "text/html"}, "content_type"),
    ({"kind": "document"}, "kind"),
    ({"size_bytes": 10 * 1024 * 1024 + 1}, "size_bytes"),
    ({"size_bytes": 0}, "size_bytes"),
    ({"size_bytes": "12"}, "size_bytes"),
    ({"filename": "../../etc/passwd"}, "filename"),
    ({"filename": "  "}, "filename"),
    ({"key": "pending/elsewhere/x"}, "key"),  # clients never choose a key
]


def test_bad_declarations_answer_422_naming_the_field_and_store_nothing(client, subtests):
    campaign_id = new_campaign(client)
    for body, field in BAD_DECLARATIONS:
        with subtests.test(body=body):
            request = {"kind": "image", "content_type": "image/png", "size_bytes": 1000, "filename": "a.png", **body}
            status, problem = call(client, "POST", f"/campaigns/{campaign_id}/media", OWNER, request)
            assert status == 422
            assert problem["status"] == 422
            assert field in [e["field"] for e in problem["errors"]]
            assert stored_media(campaign_id) == {}


def test_a_video_may_weigh_200_mb_and_not_one_byte_more(client):
    campaign_id = new_campaign(client)
    limit = 200 * 1024 * 1024
    assert ask(client, campaign_id, "video/mp4", limit, filename="reportage.mp4")[0] == 201
    status, problem = ask(client, campaign_id, "video/mp4", limit + 1, filename="reportage.mp4")
    assert status == 422 and problem["errors"][0]["field"] == "size_bytes"
    assert len(stored_media(campaign_id)) == 1


def test_the_number_of_media_per_campaign_is_bounded(client, monkeypatch):
    monkeypatch.setenv("MEDIA_MAX_COUNT", "2")
    campaign_id = new_campaign(client)
    assert ask(client, campaign_id)[0] == 201
    assert ask(client, campaign_id)[0] == 201
    status, problem = ask(client, campaign_id)
    assert status == 422
    assert problem["errors"] == [{"field": "media", "message": "a campaign has at most 2 media"}]
    assert len(stored_media(campaign_id)) == 2


def test_abandoned_and_rejected_uploads_free_their_slots(client, monkeypatch):
    monkeypatch.setenv("MEDIA_MAX_COUNT", "2")
    campaign_id = new_campaign(client)
    abandoned = requested(client, campaign_id)
    rejected = requested(client, campaign_id)
    put(rejected, JPEG)  # declared PNG
    assert complete(client, campaign_id, rejected["id"])[0] == 422
    assert ask(client, campaign_id)[0] == 201  # the rejected one made room
    assert ask(client, campaign_id)[0] == 422

    later = clock.now() + timedelta(hours=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert ask(client, campaign_id)[0] == 201  # uploads never made expire
    assert abandoned["id"] not in stored_media(campaign_id)


# --- who may, and when -------------------------------------------------------------------------


def test_only_the_owner_manages_media(client):
    draft = new_campaign(client)
    live = new_campaign(client)
    media_id = uploaded(client, live)
    go_live(client, live)

    # A draft does not exist for others (404); a live campaign is not theirs (403).
    assert ask(client, draft, who=STRANGER)[0] == 404
    assert ask(client, draft, who=MODERATOR)[0] == 403
    assert ask(client, draft, who={})[0] == 401
    assert ask(client, live, who=STRANGER)[0] == 403
    assert complete(client, live, media_id, who=STRANGER)[0] == 403
    assert call(client, "DELETE", f"/campaigns/{live}/media/{media_id}", STRANGER)[0] == 403
    assert call(client, "DELETE", f"/campaigns/{live}/media/{media_id}", MODERATOR)[0] == 403
    assert stored_media(draft) == {}
    assert list(stored_media(live)) == [media_id]


def test_live_campaigns_take_media_until_their_end_and_other_states_not_at_all(client, monkeypatch):
    live = new_campaign(client)
    go_live(client, live)
    assert ask(client, live)[0] == 201

    submitted = new_campaign(client)
    assert call(client, "POST", f"/campaigns/{submitted}/submit", OWNER)[0] == 200
    status, problem = ask(client, submitted)
    assert status == 409 and "submitted" in problem["detail"]
    assert stored_media(submitted) == {}

    ends_at = clock.parse(storage.campaigns.get(live).ends_at)
    monkeypatch.setattr(clock, "now", lambda: ends_at + timedelta(seconds=1))
    status, problem = ask(client, live)
    assert status == 409 and "ended" in problem["detail"]
    assert len(stored_media(live)) == 1


def test_a_pending_upload_cannot_be_completed_once_the_campaign_is_submitted(client):
    campaign_id = new_campaign(client)
    upload = requested(client, campaign_id)
    put(upload, PNG)
    assert call(client, "POST", f"/campaigns/{campaign_id}/submit", OWNER)[0] == 200
    assert complete(client, campaign_id, upload["id"])[0] == 409
    assert stored_media(campaign_id)[upload["id"]]["status"] == "pending"


def test_a_media_id_of_another_campaign_is_not_found(client):
    mine, other = new_campaign(client), new_campaign(client)
    media_id = uploaded(client, other)
    upload = requested(client, mine)
    assert complete(client, mine, media_id)[0] == 404
    assert call(client, "DELETE", f"/campaigns/{mine}/media/{media_id}", OWNER)[0] == 404
    assert complete(client, other, upload["id"])[0] == 404
    assert stored_media(other)[media_id]["status"] == "ready"
    assert stored_media(mine)[upload["id"]]["status"] == "pending"


# --- complete: the check -----------------------------------------------------------------------


def test_complete_publishes_each_type_with_a_url_serving_the_bytes(client, subtests):
    campaign_id = new_campaign(client)
    for content_type, data in SAMPLES.items():
        with subtests.test(content_type=content_type):
            upload = requested(client, campaign_id, content_type)
            put(upload, data)

            status, campaign = complete(client, campaign_id, upload["id"])

            assert status == 200
            shown = campaign["media"][-1]
            assert {k: shown[k] for k in ("id", "kind", "content_type", "size_bytes")} == {
                "id": upload["id"],
                "kind": content_type.split("/")[0],
                "content_type": content_type,
                "size_bytes": len(data),
            }
            published = f"media/{campaign_id}/{upload['id']}"
            assert published in shown["url"] and "Signature" in shown["url"]
            assert f"pending/{campaign_id}/{upload['id']}" not in keys()
            stored = boto3.client("s3").get_object(Bucket=BUCKET, Key=published)
            assert stored["Body"].read() == data
            assert stored["ContentType"] == content_type
            # Completing again changes nothing (but the signing time of the URLs).
            again = complete(client, campaign_id, upload["id"])
            assert again[0] == 200 and unsigned(again[1]) == unsigned(campaign)
    assert keys() == {f"media/{campaign_id}/{media_id}" for media_id in stored_media(campaign_id)}
    assert len(stored_media(campaign_id)) == len(SAMPLES)


BAD_UPLOADS = [
    ("image/png", PNG + b"x", None, f"the file has {len(PNG) + 1} bytes, not the {len(PNG)} declared"),
    ("image/png", PNG[:-1], None, f"the file has {len(PNG) - 1} bytes, not the {len(PNG)} declared"),
    ("image/png", JPEG[: len(PNG)], None, "the file's content is not a PNG image"),
    ("image/jpeg", b"<html><script>alert(1)</script></html>", None, "the file's content is not a JPEG image"),
    ("image/webp", b"RIFF\x1a\x00\x00\x00WAVEfmt " + bytes(22), None, "the file's content is not a WebP image"),
    ("video/mp4", HEIC, None, "the file's content is not an MP4 video"),
    ("image/jpeg", JPEG, "text/html", "the file was sent as text/html, not image/jpeg"),
    ("image/png", None, None, "no file was uploaded for this media"),
]


def test_complete_rejects_a_bad_upload_with_422_says_why_and_deletes_it(client, subtests):
    campaign_id = new_campaign(client)
    for declared, data, sent_as, reason in BAD_UPLOADS:
        with subtests.test(reason=reason):
            declared_size = len(PNG) if data is None or "bytes" in reason else len(data)
            status, upload = ask(client, campaign_id, declared, declared_size)
            assert status == 201
            if data is not None:
                put(upload, data, sent_as)

            status, problem = complete(client, campaign_id, upload["id"])

            assert status == 422
            assert problem["errors"] == [{"field": "file", "message": reason}]
            assert keys() == set()
            assert call(client, "GET", f"/campaigns/{campaign_id}", OWNER)[1]["media"] == []
            assert stored_media(campaign_id)[upload["id"]]["status"] == "rejected"
            assert complete(client, campaign_id, upload["id"]) == (status, problem)  # still refused, still why


# --- the S3 event: the same check when the client never calls complete ---------------------------


def test_the_event_publishes_like_complete_and_running_both_makes_one_record(client):
    campaign_id = new_campaign(client)
    upload = requested(client, campaign_id, "video/mp4")
    put(upload, MP4)

    result = object_created(client, upload["upload"]["fields"]["key"])

    assert result["outcome"] == "ready"
    [shown] = call(client, "GET", f"/campaigns/{campaign_id}", OWNER)[1]["media"]
    assert shown["id"] == upload["id"] and shown["kind"] == "video"
    status, campaign = complete(client, campaign_id, upload["id"])
    assert status == 200 and [m["id"] for m in campaign["media"]] == [upload["id"]]
    assert list(stored_media(campaign_id)) == [upload["id"]]
    assert keys() == {f"media/{campaign_id}/{upload['id']}"}


def test_an_event_after_complete_changes_nothing_and_clears_a_repeated_upload(client):
    campaign_id = new_campaign(client)
    upload = requested(client, campaign_id)
    put(upload, PNG)
    status, campaign = complete(client, campaign_id, upload["id"])
    assert status == 200
    put(upload, JPEG[: len(PNG)])  # the same policy used again after the check

    assert object_created(client, upload["upload"]["fields"]["key"])["outcome"] == "discarded"

    assert unsigned(call(client, "GET", f"/campaigns/{campaign_id}", OWNER)[1]) == unsigned(campaign)
    assert keys() == {f"media/{campaign_id}/{upload['id']}"}
    published = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"media/{campaign_id}/{upload['id']}")
    assert published["Body"].read() == PNG


def test_the_event_rejects_a_bad_upload_and_complete_then_says_why(client):
    campaign_id = new_campaign(client)
    upload = requested(client, campaign_id, "image/webp")
    put(upload, b"RIFF" + bytes(len(WEBP) - 4))

    result = object_created(client, upload["upload"]["fields"]["key"])

    assert result == {"outcome": "rejected", "key": upload["upload"]["fields"]["key"], "reason": result["reason"]}
    assert result["reason"] == "the file's content is not a WebP image"
    assert keys() == set()
    status, problem = complete(client, campaign_id, upload["id"])
    assert status == 422 and problem["errors"][0]["message"] == result["reason"]


def test_events_outside_the_awaited_keys_touch_nothing_of_the_campaign(client):
    campaign_id, other = new_campaign(client), new_campaign(client)
    upload = requested(client, campaign_id)
    put(upload, PNG)
    key = upload["upload"]["fields"]["key"]

    assert object_created(client, key, bucket="another-bucket")["outcome"] == "ignored"
    assert object_created(client, f"media/{campaign_id}/{upload['id']}")["outcome"] == "ignored"
    assert object_created(client, f"{key}/../x")["outcome"] == "ignored"
    # The key of this media under another campaign's prefix: not awaited there.
    assert object_created(client, f"pending/{other}/{upload['id']}")["outcome"] == "discarded"
    assert object_created(client, f"pending/{'0' * 32}/{upload['id']}")["outcome"] == "discarded"

    assert stored_media(campaign_id)[upload["id"]]["status"] == "pending"
    assert stored_media(other) == {}
    assert keys() == {key}


# --- remove, cover, URLs -------------------------------------------------------------------------


def test_delete_removes_the_record_and_the_object(client):
    campaign_id = new_campaign(client)
    kept, removed = uploaded(client, campaign_id), uploaded(client, campaign_id, "image/jpeg")

    status, campaign = call(client, "DELETE", f"/campaigns/{campaign_id}/media/{removed}", OWNER)

    assert status == 200
    assert [m["id"] for m in campaign["media"]] == [kept]
    assert list(stored_media(campaign_id)) == [kept]
    assert keys() == {f"media/{campaign_id}/{kept}"}
    assert call(client, "DELETE", f"/campaigns/{campaign_id}/media/{removed}", OWNER)[0] == 404


def test_a_live_campaign_may_remove_media_and_the_public_sees_the_rest(client):
    campaign_id = new_campaign(client)
    first, second = uploaded(client, campaign_id), uploaded(client, campaign_id, "video/mp4")
    go_live(client, campaign_id)
    assert [m["id"] for m in call(client, "GET", f"/campaigns/{campaign_id}")[1]["media"]] == [first, second]

    assert call(client, "DELETE", f"/campaigns/{campaign_id}/media/{first}", OWNER)[0] == 200

    assert [m["id"] for m in call(client, "GET", f"/campaigns/{campaign_id}")[1]["media"]] == [second]


def test_cover_is_a_ready_image_of_the_campaign_and_goes_with_it(client):
    campaign_id, other = new_campaign(client), new_campaign(client)
    image, video = uploaded(client, campaign_id), uploaded(client, campaign_id, "video/mp4")
    pending = requested(client, campaign_id)["id"]
    foreign = uploaded(client, other)

    for refused in (video, pending, foreign, "inconnu"):
        status, problem = call(client, "PATCH", f"/campaigns/{campaign_id}", OWNER, {"cover_media_id": refused})
        assert status == 422 and problem["errors"][0]["field"] == "cover_media_id"
        assert storage.campaigns.get(campaign_id).cover_media_id is None

    status, campaign = call(client, "PATCH", f"/campaigns/{campaign_id}", OWNER, {"cover_media_id": image})
    assert status == 200 and campaign["cover_media_id"] == image

    status, campaign = call(client, "DELETE", f"/campaigns/{campaign_id}/media/{image}", OWNER)
    assert status == 200 and campaign["cover_media_id"] is None
    assert storage.campaigns.get(campaign_id).cover_media_id is None


def test_a_public_base_url_serves_media_from_the_stage_cdn(client, monkeypatch):
    monkeypatch.setenv("MEDIA_PUBLIC_BASE_URL", "https://medias.oze.example/")
    campaign_id = new_campaign(client)
    media_id = uploaded(client, campaign_id)
    [shown] = call(client, "GET", f"/campaigns/{campaign_id}", OWNER)[1]["media"]
    assert shown["url"] == f"https://medias.oze.example/media/{campaign_id}/{media_id}"
