"""What the département's IT sees: one JSON line per log record with the API Gateway request
id as correlation id, no e-mail or token anywhere, business metrics and the cold start in
CloudWatch's embedded metric format (EMF) — from invocations shaped as Lambda gets them."""

import json
from datetime import timedelta

import pytest
from chalice.local import LambdaContext

from app import app
from chalicelib import campaigns, clock, escrow, observability, payments
from tests.conftest import token
from tests.factories import live_campaign, payout_account_body, pledge

OWNER = {"sub": "porteuse", "name": "Camille Lecarpentier", "email": "camille.lecarpentier@exemple.fr"}
CONTRIBUTOR = {"sub": "contributrice", "name": "Léa Dupont", "email": "lea.dupont@exemple.fr"}
MODERATOR = {"sub": "moderatrice", "name": "Claire Moderatrice", "email": "claire@manche.fr", "groups": ("moderators",)}
DRAFT = {
    "title": "Le rythme des maux",
    "summary": "Un album enregistré avec des adolescents hospitalisés.",
    "description": "Yannick Hervé enregistre avec les jeunes du service pédiatrique un album de leurs chansons.",
    "category": "culture",
    "postcode": "50000",
    "commune": "Saint-Lô",
    "goal_cents": 500_000,
}


def gateway_event(method, path, resource, request_id, *, params=None, body=None, who=None, headers=None):
    """An API Gateway (REST, proxy integration) event, as the API handler receives it."""
    headers = {"Content-Type": "application/json", **(headers or {})}
    if who:
        claims = {k: v for k, v in who.items() if k != "groups"}
        headers["Authorization"] = f"Bearer {token(who['sub'], **{k: v for k, v in who.items() if k != 'sub'})}"
        assert claims["email"]
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": request_id,
            "extendedRequestId": "Ab1cDEFgCGkF3sQ=",
            "identity": {"sourceIp": "203.0.113.7"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def call(event) -> tuple[int, dict]:
    response = app(event, LambdaContext("oze-dev-APIHandler", memory_size=512))
    return response["statusCode"], json.loads(response["body"] or "null")


def output(capsys) -> list[dict]:
    """Every line written to stdout since the last read: each must be JSON."""
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def logs(lines):
    return [line for line in lines if "level" in line]


def emf(lines) -> dict[str, float]:
    """The metrics of the EMF lines, by name, with their namespace and dimensions checked."""
    found = {}
    for line in (line for line in lines if "_aws" in line):
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Oze"
        for dimensions in directive["Dimensions"]:
            assert all(line[name] for name in dimensions)
        for metric in directive["Metrics"]:
            found[metric["Name"]] = found.get(metric["Name"], 0) + sum(_values(line[metric["Name"]]))
    return found


def _values(value):
    return value if isinstance(value, list) else [value]


@pytest.fixture
def journey(emulated_aws, capsys):
    """A live campaign with a reward, made through API Gateway events; the output so far read."""
    status, draft = call(gateway_event("POST", "/campaigns", "/campaigns", "req-create", body=DRAFT, who=OWNER))
    assert status == 201, draft
    ids = {"campaign_id": draft["id"]}
    path = f"/campaigns/{draft['id']}"
    assert (
        call(
            gateway_event("POST", f"{path}/submit", "/campaigns/{campaign_id}/submit", "req-2", params=ids, who=OWNER)
        )[0]
        == 200
    )
    account = payout_account_body()
    opened = gateway_event("POST", "/me/payout-account", "/me/payout-account", "req-account", body=account, who=OWNER)
    assert call(opened)[0] == 201
    assert (
        call(
            gateway_event(
                "POST", f"{path}/approve", "/campaigns/{campaign_id}/approve", "req-3", params=ids, who=MODERATOR
            )
        )[0]
        == 200
    )
    capsys.readouterr()
    return draft["id"]


def pledge_event(campaign_id, request_id, key="cle-1", amount=5000):
    body = {"amount_cents": amount, "message": "Bravo ! Écrivez-moi : lea.dupont@exemple.fr"}
    return gateway_event(
        "POST",
        f"/campaigns/{campaign_id}/pledges",
        "/campaigns/{campaign_id}/pledges",
        request_id,
        params={"campaign_id": campaign_id},
        body=body,
        who=CONTRIBUTOR,
        headers={"Idempotency-Key": key},
    )


def test_every_line_of_a_call_carries_its_api_gateway_request_id(emulated_aws, capsys, monkeypatch):
    def broken():
        raise RuntimeError("stats failed for camille.lecarpentier@exemple.fr")

    monkeypatch.setattr(campaigns, "stats", broken)
    capsys.readouterr()
    status, body = call(gateway_event("GET", "/stats", "/stats", "8f1c2a3b-0000-4abc-9def-1234567890ab"))
    assert status == 500 and body["status"] == 500
    lines = logs(output(capsys))
    assert [line["level"] for line in lines] == ["ERROR", "INFO"]  # Chalice's traceback, then the call
    assert {line["correlation_id"] for line in lines} == {"8f1c2a3b-0000-4abc-9def-1234567890ab"}
    assert "RuntimeError: stats failed for [e-mail]" in lines[0]["exception"]
    assert lines[1] | {"duration_ms": 0} == lines[1] | {
        "message": "HTTP call",
        "method": "GET",
        "route": "/stats",
        "path": "/api/stats",
        "status": 500,
        "duration_ms": 0,
    }


def test_a_signed_in_journey_leaves_no_e_mail_or_token_in_the_output(journey, capsys):
    assert call(pledge_event(journey, "req-pledge"))[0] == 201
    forged = gateway_event(
        "GET", "/me/pledges", "/me/pledges", "req-forged", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30.x"}
    )
    assert call(forged)[0] == 401
    raw = "\n".join(json.dumps(line, ensure_ascii=False) for line in output(capsys))
    assert "HTTP call" in raw
    for secret in ("@exemple.fr", "@manche.fr", "eyJ", token(CONTRIBUTOR["sub"], name=CONTRIBUTOR["name"])[:20]):
        assert secret not in raw


def payment_page_event(pledge, request_id, outcome="succeeded"):
    """The sandbox's hosted page: the payer's button, a form POST to the pledge's redirect_url."""
    payment_id = pledge["payment"]["redirect_url"].rsplit("/", 1)[1]
    event = gateway_event(
        "POST",
        f"/sandbox/payments/{payment_id}",
        "/sandbox/payments/{payment_id}",
        request_id,
        params={"payment_id": payment_id},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return {**event, "body": f"outcome={outcome}"}


def notification_event(pledge, request_id):
    """The provider's notification of a pledge's payment, as Mangopay sends its hooks."""
    payment_id = pledge["payment"]["redirect_url"].rsplit("/", 1)[1]
    query = {"EventType": "PAYIN_NORMAL_SUCCEEDED", "RessourceId": payment_id}
    event = gateway_event(
        "GET",
        "/payments/notifications/sandbox",
        "/payments/notifications/{provider}",
        request_id,
        params={"provider": "sandbox"},
    )
    return {
        **event,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
    }


def page_status(event) -> int:
    return app(event, LambdaContext("oze-dev-APIHandler", memory_size=512))["statusCode"]


def test_pledges_count_and_amounts_are_metrics_when_paid_replays_are_not(journey, capsys):
    status, first = call(pledge_event(journey, "req-p1", key="cle-1", amount=5000))
    assert status == 201
    status, second = call(pledge_event(journey, "req-p2", key="cle-2", amount=2500))
    assert status == 201
    assert emf(output(capsys)) == {}  # asked for, not paid yet
    assert page_status(payment_page_event(first, "req-pay1")) == 303
    assert page_status(payment_page_event(second, "req-pay2")) == 303
    assert emf(output(capsys)) == {"Pledges": 2, "PledgedCents": 7500}
    status, replayed = call(pledge_event(journey, "req-p3", key="cle-1", amount=5000))
    assert status == 201 and replayed["id"] == first["id"]
    assert call(notification_event(first, "req-n1")) == (200, {"handled": True})  # the provider's own, late
    assert page_status(payment_page_event(first, "req-pay3")) == 303  # the button pressed again
    assert emf(output(capsys)) == {}
    pledge_id = replayed["id"]
    cancel = gateway_event(
        "POST",
        f"/pledges/{pledge_id}/cancel",
        "/pledges/{pledge_id}/cancel",
        "req-c",
        params={"pledge_id": pledge_id},
        who=CONTRIBUTOR,
    )
    assert call(cancel)[0] == 200
    lines = output(capsys)
    assert emf(lines) == {"PledgesCancelled": 1, "PledgesRefunded": 1}  # paid: refunded at the provider
    (metrics_line,) = [line for line in lines if "_aws" in line]
    assert (metrics_line["service"], metrics_line["stage"]) == ("oze", "local")


def test_the_first_invocation_of_a_container_counts_a_cold_start(emulated_aws, capsys, monkeypatch):
    monkeypatch.setattr(observability, "_cold", [True])
    capsys.readouterr()
    call(gateway_event("GET", "/stats", "/stats", "req-cold"))
    first = output(capsys)
    assert emf(first) == {"ColdStart": 1}
    cold = next(line for line in first if "ColdStart" in line)
    assert cold["function_name"] == "oze-dev-APIHandler"
    assert all(line["cold_start"] is True for line in logs(first))
    call(gateway_event("GET", "/stats", "/stats", "req-warm"))
    second = output(capsys)
    assert emf(second) == {}
    assert all(line["cold_start"] is False for line in logs(second))


def test_a_refused_card_is_a_payment_failure_metric(journey, capsys):
    status, made = call(pledge_event(journey, "req-p1", key="cle-1", amount=5000))
    assert status == 201
    capsys.readouterr()
    assert page_status(payment_page_event(made, "req-pay", outcome="failed")) == 303
    assert emf(output(capsys)) == {"PaymentFailures": 1}


def test_closures_refunds_and_provider_failures_are_metrics_of_the_scheduled_run(client, capsys, monkeypatch):
    """Two campaigns due: one succeeds, one fails with a paid pledge whose refund the
    provider cannot make yet; the next run refunds it."""
    campaigns_due = []
    for goal, amount in ((10_000, 20_000), (50_000, 5_000)):
        campaign_id, _ = live_campaign(client, goal_cents=goal)
        answer = pledge(client, campaign_id, contributor="lea", name="Léa Dupont", key=f"k{goal}", amount_cents=amount)
        assert (answer.status_code, answer.json_body["status"]) == (201, "paid")
        campaigns_due.append(campaign_id)
    ends_at = max(clock.parse(client.http.get(f"/campaigns/{c}").json_body["ends_at"]) for c in campaigns_due)
    moment = ends_at + payments.window() + timedelta(seconds=1)
    monkeypatch.setattr(clock, "now", lambda: moment)
    real_refund = escrow.SandboxEscrow.refund

    def unreachable(self, payment):
        raise escrow.ProviderError("the provider answered 503", retryable=True)

    monkeypatch.setattr(escrow.SandboxEscrow, "refund", unreachable)
    capsys.readouterr()
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event", detail={}, resources=[])
    client.lambda_.invoke("finalise", event)
    lines = output(capsys)
    assert emf(lines) == {"CampaignsSucceeded": 1, "CampaignsFailed": 1, "RefundsDelayed": 1}
    messages = {line["message"]: line for line in logs(lines)}
    assert {"a pledge waits for the next pass", "finalisation run"} <= set(messages)
    assert len({line["correlation_id"] for line in logs(lines)}) == 1  # the Lambda request id
    waiting = messages["a pledge waits for the next pass"]  # logged by a refund thread
    assert waiting["correlation_id"] == messages["finalisation run"]["correlation_id"]
    assert messages["finalisation run"]["closed"] == 2
    assert "@exemple.fr" not in json.dumps(lines)

    monkeypatch.setattr(escrow.SandboxEscrow, "refund", real_refund)
    moment += timedelta(minutes=11)  # the settlement left waiting is handed on again
    client.lambda_.invoke("finalise", event)
    lines = output(capsys)
    assert emf(lines) == {"PledgesRefunded": 1}
    assert logs(lines)[-1]["message"] == "finalisation run" and logs(lines)[-1]["dispatched"] == 1


def test_counting_outside_an_invocation_records_nothing(emulated_aws):
    observability.count(observability.PLEDGES)
    assert observability.tools()[1].metric_set == {}
