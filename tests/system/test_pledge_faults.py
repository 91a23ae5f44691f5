"""Faults between the API and DynamoDB: conflicts, throttling, and a write whose answer
is lost. Whatever happens, a pledge is neither lost nor doubled."""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import MockRawResponse

from chalicelib import aws, storage
from tests.conftest import bearer
from tests.factories import live_campaign, pledge

TRANSACT = "before-send.dynamodb.TransactWriteItems"


def error_answer(request, code, message, reasons=None):
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
    if reasons:
        body["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return AWSResponse(request.url, 400, {"x-amzn-RequestId": "fault"}, MockRawResponse(json.dumps(body).encode()))


@pytest.fixture
def faults():
    """Answer the next TransactWriteItems calls with the given faults, then let calls through."""
    planned = []
    calls = []

    def inject(request, **_):
        if not any(marker in request.body for marker in (b"IDEMPOTENCY#", b":cid")):
            return None  # neither a pledge nor a cancellation
        calls.append(request)
        if planned:
            return planned.pop(0)(request)
        return None

    dynamodb = aws.client("dynamodb")
    dynamodb.meta.events.register_first(TRANSACT, inject)
    yield planned, calls
    dynamodb.meta.events.unregister(TRANSACT, inject)


@pytest.fixture
def client(server_client):
    return server_client


def totals(client, campaign_id):
    shown = client.http.get(f"/campaigns/{campaign_id}").json_body
    stored, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None)
    return shown["raised_cents"], shown["pledge_count"], len(stored)


def test_transaction_conflicts_are_retried_into_one_pledge(client, faults):
    campaign_id, _ = live_campaign(client)
    planned, calls = faults
    conflict = lambda request: error_answer(  # noqa: E731
        request,
        "TransactionCanceledException",
        "conflict",
        ["None", "None", "TransactionConflict", "None", "None", "None"],
    )
    planned += [conflict, conflict]
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.status_code == 201
    assert len(calls) == 3
    assert totals(client, campaign_id) == (2500, 1, 1)


def test_throttling_is_retried_into_one_pledge(client, faults):
    campaign_id, _ = live_campaign(client)
    planned, calls = faults
    planned += [lambda request: error_answer(request, "ThrottlingException", "slow down")] * 2
    assert pledge(client, campaign_id, amount_cents=2500).status_code == 201
    assert len(calls) == 3
    assert totals(client, campaign_id) == (2500, 1, 1)


def test_endless_conflicts_answer_an_error_and_write_nothing(client, faults):
    campaign_id, _ = live_campaign(client)
    planned, _ = faults
    conflict = lambda request: error_answer(  # noqa: E731
        request, "TransactionCanceledException", "conflict", ["TransactionConflict"] * 6
    )
    planned += [conflict] * 50
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.status_code >= 500  # the client retries with the same key
    assert answer.headers["Content-Type"] == "application/problem+json"
    planned.clear()
    assert totals(client, campaign_id) == (0, 0, 0)
    retried = pledge(client, campaign_id, amount_cents=2500)
    assert retried.status_code == 201
    assert totals(client, campaign_id) == (2500, 1, 1)


def test_a_write_whose_answer_is_lost_is_not_doubled(client, faults):
    """The transaction commits but the connection drops before the answer: botocore
    sends it again, the idempotency record refuses the copy, and the pledge is answered
    once, as made by this request."""
    campaign_id, _ = live_campaign(client)
    planned, calls = faults

    def commit_then_time_out(request):
        writer = aws.boto3.client("dynamodb")  # another client: the fault hook is not on it
        writer.transact_write_items(**json.loads(request.body))
        raise ReadTimeoutError(endpoint_url=request.url)

    planned.append(commit_then_time_out)
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.status_code == 201
    assert "Idempotent-Replayed" not in answer.headers
    assert len(calls) >= 2
    assert totals(client, campaign_id) == (2500, 1, 1)
    replay = pledge(client, campaign_id, amount_cents=2500)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json_body["id"] == answer.json_body["id"]
    assert totals(client, campaign_id) == (2500, 1, 1)


def test_a_cancellation_whose_answer_is_lost_is_answered_once_as_done(client, faults):
    """botocore sends the committed cancellation again; its condition now fails, and the
    cancellation id on the pledge shows it was this request's own."""
    campaign_id, _ = live_campaign(client)
    made = pledge(client, campaign_id, amount_cents=2500).json_body
    planned, calls = faults

    def commit_then_time_out(request):
        aws.boto3.client("dynamodb").transact_write_items(**json.loads(request.body))
        raise ReadTimeoutError(endpoint_url=request.url)

    planned.append(commit_then_time_out)
    cancelled = client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice"))
    assert cancelled.status_code == 200
    assert cancelled.json_body["status"] == "cancelled"
    assert totals(client, campaign_id) == (0, 0, 0)
    assert client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice")).status_code == 409
