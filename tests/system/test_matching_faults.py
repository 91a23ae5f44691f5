"""Matching funds against the moto server, for faults injected in botocore (which
in-process moto would answer anyway): a fund that stays busy costs the top-up, not the
pledge. The rest of matching is in tests/api/test_matching.py."""

import json

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse

from chalicelib import aws, matching, storage
from tests.api.test_matching import give, matched_campaign, money, shown


def test_a_fund_that_stays_busy_costs_the_top_up_not_the_pledge(server_client):
    """Transaction conflicts on the fund item every time its pledge's payment is recorded:
    after the bounded retries, the pledge is paid and counted without a top-up."""
    client = server_client
    campaign_id, fund_id = matched_campaign(client)
    calls = []

    def conflict_on_fund(request, **_):
        items = json.loads(request.body).get("TransactItems", [])
        keys = [
            next(iter(item.values()))["Key"]["pk"]["S"] if "Key" in next(iter(item.values())) else "" for item in items
        ]
        if not any(key.startswith("FUND#") for key in keys):
            return None
        calls.append(request)
        reasons = [{"Code": "TransactionConflict" if key.startswith("FUND#") else "None"} for key in keys]
        body = {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException", "message": "conflict"}
        raw = MockRawResponse(json.dumps({**body, "CancellationReasons": reasons}).encode())
        return AWSResponse(request.url, 400, {"x-amzn-RequestId": "fault"}, raw)

    events = aws.client("dynamodb").meta.events
    events.register_first("before-send.dynamodb.TransactWriteItems", conflict_on_fund)
    try:
        made = give(client, campaign_id, 2_000)
    finally:
        events.unregister("before-send.dynamodb.TransactWriteItems", conflict_on_fund)
    assert (made["status"], made["matched_cents"]) == ("paid", 0)
    assert len(calls) == storage.dynamo.TRANSACTION_ATTEMPTS * matching.MATCH_ATTEMPTS
    campaign = shown(client, campaign_id)
    assert (campaign["crowd_cents"], campaign["matched_cents"]) == (2_000, 0)
    assert money(client, fund_id) == (0, 0, 100_000)
