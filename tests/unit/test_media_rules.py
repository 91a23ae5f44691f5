"""Project media, the rules without the emulator: which S3 events reach the check, the
file signatures a stage may allow, and the bucket as infra/ declares it. Media as owners
and visitors meet them are in tests/api/test_media.py."""

import pytest
import yaml
from moto.events.models import EventPattern

from chalicelib import media
from chalicelib.settings import KNOWN_MEDIA_TYPES, ConfigurationError, get_settings
from tests.api.test_media import SAMPLES
from tests.conftest import ROOT

# --- the S3 event: the same check when the client never calls complete ---------------------------


def test_upload_events_match_the_rule_pattern_only_under_pending():
    pattern = EventPattern(None, media.UPLOAD_EVENTS)

    def event(key, bucket="oze-prod-media-123456789012", detail_type="Object Created"):
        detail = {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}, "reason": "PostObject"}
        return {"source": "aws.s3", "detail-type": detail_type, "detail": detail}

    assert pattern.matches_event(event("pending/abc/def"))
    assert not pattern.matches_event(event("media/abc/def"))
    assert not pattern.matches_event(event("pending/abc/def", bucket="someone-elses-bucket"))
    assert not pattern.matches_event(event("pending/abc/def", detail_type="Object Deleted"))


# --- settings and infrastructure ------------------------------------------------------------------


def test_every_type_a_stage_may_allow_has_a_signature():
    assert set(media.SIGNATURES) == {t for types in KNOWN_MEDIA_TYPES.values() for t in types}
    for content_type, (_, matches) in media.SIGNATURES.items():
        assert [other for other, data in SAMPLES.items() if matches(data)] == [content_type]


def test_a_stage_allowing_a_type_it_cannot_check_does_not_start(stage_env, monkeypatch):
    monkeypatch.setenv("MEDIA_IMAGE_TYPES", "image/png,image/gif")
    with pytest.raises(ConfigurationError, match="image/gif"):
        get_settings()


class _CloudFormationLoader(yaml.SafeLoader):
    pass


_CloudFormationLoader.add_multi_constructor(
    "!",
    lambda loader, tag, node: {
        tag: loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_scalar(node)
    },
)


def test_the_bucket_expires_unchecked_uploads_and_takes_browser_posts_and_events():
    template = yaml.load((ROOT / "infra" / "template.yaml").read_text(encoding="utf-8"), _CloudFormationLoader)
    bucket = template["Resources"]["MediaBucket"]["Properties"]

    [expiry] = [r for r in bucket["LifecycleConfiguration"]["Rules"] if r.get("Prefix") == media.PENDING]
    assert expiry["Status"] == "Enabled" and expiry["ExpirationInDays"] == 1
    [cors] = bucket["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedOrigins"] == {"Ref": "WebOrigins"} and "POST" in cors["AllowedMethods"]
    assert template["Parameters"]["WebOrigins"]["Default"] == "http://localhost:3000,http://127.0.0.1:3000"
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert bucket["VersioningConfiguration"]["If"][0] == "IsProd"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
