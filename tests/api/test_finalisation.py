"""Deadline closure and settlement: each campaign closes once at its deadline, each pledge
is collected or released once, each mail goes once — across reruns, crashes and queues."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import aws, clock, finalisation, payments, storage
from tests.conftest import STAGE_ENV
from tests.factories import MODERATOR, live_campaign, pledge


def sent_mails():
    return [
        (message.destinations["ToAddresses"][0], message.subject)
        for message in ses_backends[DEFAULT_ACCOUNT_ID][STAGE_ENV["AWS_DEFAULT_REGION"]].sent_messages
    ]


def shown(client, campaign_id):
    return client.http.get(f"/campaigns/{campaign_id}").json_body


def deadline(client, campaign_id):
    return clock.parse(shown(client, campaign_id)["ends_at"])


def pledges_of(campaign_id):
    items, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None)
    return sorted((p._asdict() for p in items), key=lambda p: p["contributor_id"])


def backed(client, goal_cents=100000, amounts=(60000, 50000), **campaign):
    campaign_id, _ = live_campaign(client, goal_cents=goal_cents, **campaign)
    for n, amount in enumerate(amounts):
        assert (
            pledge(client, campaign_id, contributor=f"c{n}", name=f"Contributeur {n}", amount_cents=amount).status_code
            == 201
        )
    return campaign_id


def test_a_campaign_closes_one_second_after_its_deadline_not_before(client):
    campaign_id = backed(client)
    ends_at = deadline(client, campaign_id)
    assert finalisation.run(ends_at)["closed"] == []
    assert shown(client, campaign_id)["status"] == "live"
    assert finalisation.run(ends_at + timedelta(seconds=1))["closed"] == [campaign_id]
    assert shown(client, campaign_id)["status"] == "succeeded"


def test_deadline_across_the_autumn_clock_change(client, monkeypatch):
    """Approved on 20 October 2026 for 10 days: ends on 30 October at 23:59:59 in Paris,
    which is 22:59:59Z after the change of 25 October (23:59:59 CEST would be 21:59:59Z)."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 10, 20, 10, 0, tzinfo=UTC))
    campaign_id, _ = live_campaign(client, duration_days=10)
    ends_at = deadline(client, campaign_id)
    assert ends_at == datetime(2026, 10, 30, 22, 59, 59, tzinfo=UTC)
    assert finalisation.run(datetime(2026, 10, 30, 22, 59, 59, tzinfo=UTC))["closed"] == []
    assert finalisation.run(datetime(2026, 10, 30, 23, 0, 0, tzinfo=UTC))["closed"] == [campaign_id]


@pytest.mark.parametrize(
    ("model", "goal", "amounts", "status", "settlement"),
    [
        ("all_or_nothing", 100000, (60000, 40000), "succeeded", "collected"),
        ("all_or_nothing", 100000, (60000, 39999), "failed", "released"),
        ("keep_it_all", 100000, (2500,), "succeeded", "collected"),
        ("keep_it_all", 100000, (), "failed", None),
    ],
)
def test_funding_models_decide_the_outcome_and_the_settlement(client, model, goal, amounts, status, settlement):
    campaign_id = backed(client, goal_cents=goal, amounts=amounts, funding_model=model)
    finalisation.run(deadline(client, campaign_id) + timedelta(seconds=1))
    assert shown(client, campaign_id)["status"] == status
    assert [p["settlement"] for p in pledges_of(campaign_id)] == [settlement] * len(amounts)
    assert storage.settlement.get(campaign_id).settled


def test_owner_and_contributors_get_one_mail_each_in_french(client):
    campaign_id = backed(client)
    after = deadline(client, campaign_id) + timedelta(seconds=1)
    finalisation.run(after)
    finalisation.run(after + timedelta(hours=1))
    mails = sent_mails()
    assert sorted(mails) == sorted(
        [
            ("porteur@exemple.fr", "Votre campagne « Le rythme des maux » a réussi"),
            ("c0@exemple.fr", "Votre contribution à « Le rythme des maux » a été prélevée"),
            ("c1@exemple.fr", "Votre contribution à « Le rythme des maux » a été prélevée"),
        ]
    )
    body = ses_backends[DEFAULT_ACCOUNT_ID][STAGE_ENV["AWS_DEFAULT_REGION"]].sent_messages[-1].body
    assert "€" in body and "Département" in body


def test_a_cancelled_campaign_releases_its_pledges(client):
    campaign_id = backed(client)
    assert client.http.post(f"/campaigns/{campaign_id}/cancel", headers=MODERATOR).status_code == 200
    report = finalisation.run(clock.now())
    assert report["dispatched"] == [campaign_id]
    assert [p["settlement"] for p in pledges_of(campaign_id)] == ["released", "released"]
    assert ("porteur@exemple.fr", "Votre campagne « Le rythme des maux » est annulée") in sent_mails()


def test_owners_are_reminded_once_a_week_before_the_deadline(client):
    campaign_id = backed(client, duration_days=30)
    ends_at = deadline(client, campaign_id)
    assert finalisation.run(ends_at - timedelta(days=8))["reminded"] == []
    assert finalisation.run(ends_at - timedelta(days=6))["reminded"] == [campaign_id]
    assert finalisation.run(ends_at - timedelta(days=5))["reminded"] == []
    subjects = [subject for _, subject in sent_mails()]
    assert subjects.count("Plus qu'une semaine pour « Le rythme des maux »") == 1


def test_a_crash_half_way_is_finished_by_the_rerun_without_touching_settled_pledges(client, monkeypatch):
    campaign_id = backed(client, amounts=[20000 + n for n in range(7)])
    after = deadline(client, campaign_id) + timedelta(seconds=1)
    collected = []
    real_collect = payments.SandboxProvider.collect

    def crash_after_four(self, p):
        if len(collected) == 4:
            raise RuntimeError("Lambda timed out")
        collected.append(p.id)
        return real_collect(self, p)

    monkeypatch.setattr(payments.SandboxProvider, "collect", crash_after_four)
    monkeypatch.setattr(finalisation, "PAGE", 3)  # checkpoints after 3 and 6 pledges
    with pytest.raises(RuntimeError):
        finalisation.run(after)
    settled_before = {p["id"]: p["settled_at"] for p in pledges_of(campaign_id) if p.get("settlement")}
    assert len(settled_before) == 3  # the first page; the 4th was collected, not yet recorded

    monkeypatch.setattr(
        payments.SandboxProvider, "collect", lambda self, p: collected.append(p.id) or real_collect(self, p)
    )
    finalisation.run(after + timedelta(minutes=11))  # the stalled settlement is handed on again
    pledges = pledges_of(campaign_id)
    assert [p["settlement"] for p in pledges] == ["collected"] * 7
    assert all(p["settled_at"] == settled_before[p["id"]] for p in pledges if p["id"] in settled_before)
    assert len(collected) == 8 and len(set(collected)) == 7  # the rerun asked again for the 4th only
    assert all(storage.sandbox.get(p["id"]).attempts == 1 for p in pledges)  # collected once each
    assert sum(1 for _, s in sent_mails() if s.startswith("Votre contribution")) == 7


def test_a_failed_collection_is_retried_then_reported(client, monkeypatch, caplog):
    campaign_id, _ = live_campaign(client, goal_cents=10000)
    pledge(client, campaign_id, contributor="ok", amount_cents=5000, payment_token="sandbox_ok")
    pledge(client, campaign_id, contributor="retry", amount_cents=5000, payment_token="sandbox_retry")
    pledge(client, campaign_id, contributor="declined", amount_cents=5000, payment_token="sandbox_declined")
    moment = deadline(client, campaign_id) + timedelta(seconds=1)
    finalisation.run(moment)
    states = {p["contributor_id"]: (p["settlement"], p["payment_attempts"]) for p in pledges_of(campaign_id)}
    assert states == {"ok": ("collected", 1), "retry": ("payment_failed", 1), "declined": ("payment_failed", 1)}
    assert not storage.settlement.get(campaign_id).settled
    for _ in range(3):
        moment += timedelta(minutes=11)
        finalisation.run(moment)
    states = {p["contributor_id"]: (p["settlement"], p["payment_attempts"]) for p in pledges_of(campaign_id)}
    assert states == {"ok": ("collected", 1), "retry": ("collected", 2), "declined": ("payment_failed", 3)}
    declined = next(p for p in pledges_of(campaign_id) if p["contributor_id"] == "declined")
    assert declined["settlement_reason"] == "carte refusée"
    assert storage.settlement.get(campaign_id).settled
    assert "payment failed for good" in caplog.text


def test_sqs_redelivery_of_the_same_message_doubles_nothing(client, monkeypatch):
    queue_url = aws.client("sqs").get_queue_url(QueueName="oze-test-settlement")["QueueUrl"]
    monkeypatch.setenv("SETTLEMENT_QUEUE_URL", queue_url)
    campaign_id = backed(client)
    finalisation.run(deadline(client, campaign_id) + timedelta(seconds=1))
    messages = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"campaign_id": campaign_id}]
    event = client.events.generate_sqs_event(queue_name="oze-test-settlement", message_bodies=[messages[0]["Body"]])
    for _ in range(2):
        assert client.lambda_.invoke("settle", event).payload is None
    assert [p["settlement"] for p in pledges_of(campaign_id)] == ["collected", "collected"]
    assert sum(1 for _, s in sent_mails() if s.startswith("Votre contribution")) == 2
    assert shown(client, campaign_id)["raised_cents"] == 110000


def test_a_large_campaign_settles_across_several_messages(client, monkeypatch):
    queue_url = aws.client("sqs").get_queue_url(QueueName="oze-test-settlement")["QueueUrl"]
    monkeypatch.setenv("SETTLEMENT_QUEUE_URL", queue_url)
    monkeypatch.setenv("SETTLEMENT_BATCH_COUNT", "2")
    campaign_id = backed(client, amounts=[20000 + n for n in range(5)])
    finalisation.run(deadline(client, campaign_id) + timedelta(seconds=1))
    sqs = aws.client("sqs")
    handled = 0
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages"):
        event = client.events.generate_sqs_event(queue_name="oze-test-settlement", message_bodies=[messages[0]["Body"]])
        client.lambda_.invoke("settle", event)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
        handled += 1
    assert handled == 3  # 2 + 2 + 1 pledges
    assert [p["settlement"] for p in pledges_of(campaign_id)] == ["collected"] * 5
    assert storage.settlement.get(campaign_id).settled


def test_the_scheduled_function_takes_its_time_from_the_clock(client, monkeypatch):
    campaign_id = backed(client)
    after = deadline(client, campaign_id) + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: after)
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region="eu-west-3"
    )
    result = client.lambda_.invoke("finalise", event).payload
    assert result["closed"] == [campaign_id]
    assert client.http.get("/stats").json_body["campaigns_by_status"]["succeeded"] == 1
