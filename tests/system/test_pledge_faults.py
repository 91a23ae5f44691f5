"""Faults between the API and DynamoDB: conflicts, throttling, and a write whose answer
is lost, on each write of a pledge's life (asked for, paid, refunded, cancelled). Whatever
happens, a pledge is neither lost nor doubled, and a payment counted once."""

import json

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import MockRawResponse

from chalicelib import aws, storage
from tests.conftest import bearer
from tests.factories import complete_payment, live_campaign, pledge
from tests.system.conftest import escrow_money

TRANSACT = "before-send.dynamodb.TransactWriteItems"


def keys_of(request):
    """The (pk, sk) of each item of a TransactWriteItems request."""
    found = []
    for item in json.loads(request.body)["TransactItems"]:
        ((_, action),) = item.items()
        key = action.get("Key") or action["Item"]
        found.append((key["pk"]["S"], key["sk"]["S"]))
    return found


def kind_of(request):
    """Which write of a pledge's life a transaction is, or None."""
    pks = [pk for pk, _ in keys_of(request)]
    sks = [sk for pk, sk in keys_of(request) if pk.startswith("LEDGER#")]
    if any(pk.startswith("IDEMPOTENCY#") for pk in pks):
        return "pledge"  # asked for: the pledge, its key, its unit held
    if any(pk.startswith("PSP#") for pk in pks):
        return "provider"  # the sandbox provider's own books
    if any(sk.startswith("refunded#") for sk in sks):
        return "refund"
    if any(sk.startswith("paid#") for sk in sks):
        return "paid"
    if any(pk.startswith("PLEDGE#") for pk in pks):
        return "end"  # cancelled, failed or expired before its payment
    return None


def error_answer(request, code, message, conflict=False):
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
    if conflict:
        body["CancellationReasons"] = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (
            len(keys_of(request)) - 1
        )
    return AWSResponse(request.url, 400, {"x-amzn-RequestId": "fault"}, MockRawResponse(json.dumps(body).encode()))


def conflict(request):
    return error_answer(request, "TransactionCanceledException", "conflict", conflict=True)


def throttling(request):
    return error_answer(request, "ThrottlingException", "slow down")


def commit_then_time_out(request):
    """The transaction commits, but the connection drops before its answer."""
    writer = aws.boto3.client("dynamodb")  # another client: the fault hook is not on it
    writer.transact_write_items(**json.loads(request.body))
    raise ReadTimeoutError(endpoint_url=request.url)


class Faults:
    """The next transactions of a kind answered with the planned faults, then let through."""

    def __init__(self):
        self.planned: dict[str, list] = {}
        self.calls: list[str] = []

    def plan(self, kind, *faults):
        self.planned.setdefault(kind, []).extend(faults)

    def clear(self):
        self.planned.clear()

    def count(self, kind):
        return self.calls.count(kind)

    def __call__(self, request, **_):
        kind = kind_of(request)
        if kind is None:
            return None
        self.calls.append(kind)
        planned = self.planned.get(kind)
        return planned.pop(0)(request) if planned else None


@pytest.fixture
def faults():
    injected = Faults()
    dynamodb = aws.client("dynamodb")
    dynamodb.meta.events.register_first(TRANSACT, injected)
    yield injected
    dynamodb.meta.events.unregister(TRANSACT, injected)


@pytest.fixture
def client(server_client):
    return server_client


def totals(client, campaign_id):
    """(raised, pledge count) as shown, the pledges that count, and the escrow by the
    ledger and at the provider."""
    shown = client.http.get(f"/campaigns/{campaign_id}").json_body
    counted, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None)
    return shown["raised_cents"], shown["pledge_count"], len(counted), *escrow_money(campaign_id)


def written(campaign_id):
    everything, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None, counted_only=False)
    return [p.status for p in everything]


def test_transaction_conflicts_on_a_pledge_are_retried_into_one_pledge(client, faults):
    campaign_id, _ = live_campaign(client)
    faults.plan("pledge", conflict, conflict)
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.status_code == 201
    assert answer.json_body["status"] == "paid"
    assert faults.count("pledge") == 3
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)


def test_throttling_is_retried_into_one_pledge(client, faults):
    campaign_id, _ = live_campaign(client)
    faults.plan("pledge", throttling, throttling)
    assert pledge(client, campaign_id, amount_cents=2500).status_code == 201
    assert faults.count("pledge") == 3
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)


def test_endless_conflicts_answer_an_error_and_write_nothing(client, faults):
    campaign_id, _ = live_campaign(client)
    faults.plan("pledge", *[conflict] * 50)
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.status_code >= 500  # the client retries with the same key
    assert answer.headers["Content-Type"] == "application/problem+json"
    faults.clear()
    assert written(campaign_id) == []
    retried = pledge(client, campaign_id, amount_cents=2500)
    assert retried.status_code == 201
    assert retried.json_body["status"] == "paid"
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)


def test_a_write_whose_answer_is_lost_is_not_doubled(client, faults):
    """The transaction commits but the connection drops before the answer: botocore
    sends it again, the idempotency record refuses the copy, and the pledge is answered
    once, as made by this request."""
    campaign_id, _ = live_campaign(client)
    faults.plan("pledge", commit_then_time_out)
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.status_code == 201
    assert "Idempotent-Replayed" not in answer.headers
    assert faults.count("pledge") >= 2
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)
    replay = pledge(client, campaign_id, amount_cents=2500)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json_body["id"] == answer.json_body["id"]
    assert written(campaign_id) == ["paid"]
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)


def test_conflicts_on_a_payment_s_confirmation_are_retried_into_one_count(client, faults):
    campaign_id, _ = live_campaign(client)
    faults.plan("paid", conflict, conflict)
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.json_body["status"] == "paid"
    assert faults.count("paid") == 3
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)


def test_a_payment_s_confirmation_whose_answer_is_lost_is_counted_once(client, faults):
    """The pledge, its totals and its ledger entry commit, the answer is lost, botocore
    sends the transaction again: refused (the pledge moved), and the pledge is paid once."""
    campaign_id, _ = live_campaign(client)
    faults.plan("paid", commit_then_time_out)
    answer = pledge(client, campaign_id, amount_cents=2500)
    assert answer.json_body["status"] == "paid"
    assert faults.count("paid") >= 2
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)
    payment_id = storage.pledges.get(answer.json_body["id"]).payment_id
    hook = f"/payments/notifications/sandbox?EventType=PAYIN_NORMAL_SUCCEEDED&RessourceId={payment_id}"
    assert client.http.get(hook).status_code == 200  # the provider's notification, late: nothing moves
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)


def test_a_payment_completed_at_the_provider_whose_answer_is_lost_is_still_counted(client, faults):
    """The provider's own books commit the payment but the answer is lost: the copy
    botocore sends is refused (it completed already); the payment, read again, is what
    moves the pledge."""
    campaign_id, _ = live_campaign(client)
    made = pledge(client, campaign_id, amount_cents=2500, pay=None).json_body
    faults.plan("provider", commit_then_time_out)
    complete_payment(client, made["payment"]["redirect_url"], "succeeded")
    assert faults.count("provider") >= 2
    mine = client.http.get("/me/pledges", headers=bearer("contributrice")).json_body["items"]
    assert [p["status"] for p in mine] == ["paid"]
    assert totals(client, campaign_id) == (2500, 1, 1, 2500, 2500)


def test_a_refund_whose_answer_is_lost_is_answered_once_as_done(client, faults):
    """A paid pledge's cancellation: the refund is made at the provider, its record
    commits, the answer is lost; the copy botocore sends is refused (the pledge moved), and
    the cancellation is answered as done, once."""
    campaign_id, _ = live_campaign(client)
    made = pledge(client, campaign_id, amount_cents=2500).json_body
    faults.plan("refund", commit_then_time_out)
    cancelled = client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice"))
    assert cancelled.status_code == 200, cancelled.body
    assert cancelled.json_body["status"] == "refunded"
    assert faults.count("refund") >= 2
    assert totals(client, campaign_id) == (0, 0, 0, 0, 0)
    assert client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice")).status_code == 409
    assert totals(client, campaign_id) == (0, 0, 0, 0, 0)


def test_a_waiting_pledge_s_cancellation_whose_answer_is_lost_is_answered_once_as_done(client, faults):
    """botocore sends the committed cancellation again; its condition now fails. The
    contributor asked once and it was done: the answer says so."""
    campaign_id, _ = live_campaign(client, rewards=[{"title": "Affiche", "min_amount_cents": 1000, "quantity": 3}])
    reward_id = client.http.get(f"/campaigns/{campaign_id}").json_body["rewards"][0]["id"]
    made = pledge(client, campaign_id, amount_cents=2500, reward_id=reward_id, pay=None).json_body
    faults.plan("end", commit_then_time_out)
    cancelled = client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice"))
    assert cancelled.status_code == 200, cancelled.body
    assert cancelled.json_body["status"] == "cancelled"
    assert faults.count("end") >= 2
    assert client.http.get(f"/campaigns/{campaign_id}").json_body["rewards"][0]["remaining"] == 3
    assert client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice")).status_code == 409
