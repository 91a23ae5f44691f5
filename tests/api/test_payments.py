"""Pledges paid into escrow at the payment provider (SPEC "Money (v2)"), through the API:
a pledge waits on the provider's hosted page with its reward unit held and counts only
once paid; notifications are never trusted and move a pledge once, however often they
come; the sweep settles what notifications missed; cancellations give units and money
back. The provider is the sandbox, whose hosted page the API serves."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import clock, escrow, finalisation, payments, storage
from chalicelib.settings import get_settings
from tests import factories
from tests.conftest import STAGE_ENV, bearer
from tests.factories import MODERATOR, complete_payment, live_campaign

WORKSHOP = {
    "title": "Atelier tricot",
    "description": "Deux heures à la boutique",
    "min_amount_cents": 3000,
    "quantity": 2,
}
LEA = bearer("lea", name="Léa Dupont", email="lea.dupont@exemple.fr")


@pytest.fixture
def at(monkeypatch):
    """The platform's clock, stopped: `at(moment)` sets it; it starts at the real now."""
    moments = [clock.now()]

    def set_clock(moment):
        moments[0] = moment
        return moment

    monkeypatch.setattr(clock, "now", lambda: moments[0])
    set_clock.now = lambda: moments[0]
    return set_clock


@pytest.fixture
def workshop(client, at):
    """A live campaign with a reward of 2 units; answers (campaign id, reward id)."""
    campaign_id, rewards = live_campaign(client, rewards=[WORKSHOP])
    return campaign_id, rewards["Atelier tricot"]


def pledge(client, campaign_id, contributor="lea", **kwargs):
    """A pledge made as the factories make it (paid unless `pay` says otherwise), by Léa by default."""
    return factories.pledge(client, campaign_id, contributor=contributor, **kwargs)


def ask(client, campaign_id, contributor="lea", key="cle-1", **body):
    """A pledge asked for and left on the provider's page (not paid); answers the 201's body."""
    answer = pledge(client, campaign_id, contributor=contributor, key=key, pay=None, **body)
    assert answer.status_code == 201, answer.body
    return answer.json_body


def payment_id(asked):
    return asked["payment"]["redirect_url"].rsplit("/", 1)[1]


def page_path(redirect_url):
    """The path of the sandbox's hosted page, which the API serves."""
    assert redirect_url.startswith(get_settings().api_url + "/")
    return redirect_url[len(get_settings().api_url) :]


def shown(client, campaign_id):
    return client.http.get(f"/campaigns/{campaign_id}").json_body


def totals(client, campaign_id):
    """What the campaign's page shows: (raised, pledge count, units left of its first reward)."""
    campaign = shown(client, campaign_id)
    left = campaign["rewards"][0]["remaining"] if campaign["rewards"] else None
    return campaign["raised_cents"], campaign["pledge_count"], left


def mine(client, contributor="lea"):
    """The contributor's pledges by id, as /me/pledges shows them."""
    items = client.http.get("/me/pledges?limit=100", headers=bearer(contributor)).json_body["items"]
    return {p["id"]: p for p in items}


def backers(client, campaign_id):
    return client.http.get(f"/campaigns/{campaign_id}/pledges").json_body["items"]


def notify(client, payment, event="PAYIN_NORMAL_SUCCEEDED", provider="sandbox", method="GET"):
    query = f"EventType={event}&RessourceId={quote(payment)}&Date=1767225600"
    return client.http.request(method, f"/payments/notifications/{provider}?{query}", headers={}, body=b"")


def ledger(campaign_id):
    """The campaign's ledger: (kind, amount, pledge) of each movement, sorted."""
    return sorted((e.kind, e.amount_cents, e.pledge_id) for e in storage.every(storage.ledger.entries, campaign_id))


def escrow_balance(campaign_id):
    """What the campaign's escrow holds at the provider."""
    return escrow.SandboxEscrow().escrow_balance(storage.campaigns.get(campaign_id).escrow_id)


def subjects(to):
    sent = ses_backends[DEFAULT_ACCOUNT_ID][STAGE_ENV["AWS_DEFAULT_REGION"]].sent_messages
    return [m.subject for m in sent if m.destinations["ToAddresses"] == [to]]


# --- asking for a pledge ---------------------------------------------------------------------


def test_a_new_pledge_waits_for_its_payment_with_its_unit_held_and_counts_nothing(client, workshop, at):
    campaign_id, reward_id = workshop
    answer = pledge(client, campaign_id, contributor="lea", pay=None, amount_cents=4500, reward_id=reward_id)
    assert answer.status_code == 201
    asked = answer.json_body
    assert asked["status"] == "pending_payment" and asked["paid_at"] is None
    assert asked["payment"]["redirect_url"] == f"{get_settings().api_url}/sandbox/payments/{payment_id(asked)}"
    assert clock.parse(asked["payment"]["expires_at"]) == at.now() + payments.window()
    assert totals(client, campaign_id) == (0, 0, 1)  # the unit is held, nothing counted
    assert backers(client, campaign_id) == []
    assert mine(client)[asked["id"]]["payment"] == asked["payment"]
    assert ledger(campaign_id) == [] and escrow_balance(campaign_id) == 0


def test_the_same_key_and_body_replays_the_same_payment_page(client, workshop):
    campaign_id, reward_id = workshop
    first = pledge(client, campaign_id, pay=None, amount_cents=3000, reward_id=reward_id)
    again = pledge(client, campaign_id, pay=None, amount_cents=3000, reward_id=reward_id)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json_body["id"] == first.json_body["id"]
    assert again.json_body["payment"]["redirect_url"] == first.json_body["payment"]["redirect_url"]
    assert list(mine(client)) == [first.json_body["id"]]
    assert totals(client, campaign_id) == (0, 0, 1)  # one unit held, not two


def test_a_limited_reward_held_by_pending_payments_is_sold_out(client, workshop):
    campaign_id, reward_id = workshop
    for n in range(2):
        ask(client, campaign_id, contributor=f"fan-{n}", amount_cents=3000, reward_id=reward_id)
    refused = pledge(client, campaign_id, contributor="fan-3", pay=None, amount_cents=3000, reward_id=reward_id)
    assert refused.status_code == 409 and "sold out" in refused.json_body["detail"]
    assert mine(client, "fan-3") == {}


def test_the_payment_provider_down_is_503_and_nothing_is_written(client, workshop, monkeypatch):
    campaign_id, reward_id = workshop

    def down(*args, **kwargs):
        raise escrow.ProviderError("down", retryable=True)

    monkeypatch.setattr(escrow.SandboxEscrow, "start_payment", down)
    refused = pledge(client, campaign_id, pay=None, amount_cents=3000, reward_id=reward_id)
    assert refused.status_code == 503, refused.body
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json_body["status"] == 503
    assert mine(client) == {}
    assert totals(client, campaign_id) == (0, 0, 2)

    monkeypatch.undo()  # back: the same request makes the pledge (no error was kept for the key)
    retried = pledge(client, campaign_id, pay=None, amount_cents=3000, reward_id=reward_id)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    assert totals(client, campaign_id) == (0, 0, 1)


@pytest.mark.parametrize(
    "return_url",
    [
        "https://ailleurs.example/merci",
        "http://localhost:3000.ailleurs.example/merci",
        "http://localhost:3001/merci",
        "javascript:alert(1)",
        "/merci",
    ],
)
def test_a_return_url_of_a_foreign_origin_is_422_and_writes_nothing(client, workshop, return_url):
    campaign_id, reward_id = workshop
    refused = pledge(client, campaign_id, pay=None, amount_cents=3000, reward_id=reward_id, return_url=return_url)
    assert refused.status_code == 422, refused.body
    assert [e["field"] for e in refused.json_body["errors"]] == ["return_url"]
    assert mine(client) == {} and totals(client, campaign_id) == (0, 0, 2)


# --- the provider's hosted page ---------------------------------------------------------------


def test_the_payment_page_is_html_and_its_buttons_pay_once_then_go_back_to_return_url(client, workshop):
    campaign_id, reward_id = workshop
    back = "http://localhost:3000/campagnes/atelier/merci?source=paiement"
    asked = ask(client, campaign_id, amount_cents=4500, reward_id=reward_id, return_url=back)
    path = page_path(asked["payment"]["redirect_url"])

    page = client.http.get(path)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.body.decode()
    assert "45,00\u00a0€" in text and 'value="succeeded"' in text and 'value="failed"' in text

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    paid = client.http.post(path, headers=form, body="outcome=succeeded")
    assert paid.status_code == 303 and paid.headers["Location"] == back
    now = mine(client)[asked["id"]]
    assert now["status"] == "paid" and now["paid_at"] and now["payment"] is None
    assert totals(client, campaign_id) == (4500, 1, 1)
    assert [(b["display_name"], b["message"]) for b in backers(client, campaign_id)] == [("Léa Dupont", None)]

    # Twice, or the other button afterwards: the payment completed once, nothing moves.
    assert client.http.post(path, headers=form, body="outcome=succeeded").status_code == 303
    assert client.http.post(path, headers=form, body="outcome=failed").status_code == 303
    assert mine(client)[asked["id"]]["status"] == "paid"
    assert totals(client, campaign_id) == (4500, 1, 1)
    assert ledger(campaign_id) == [("paid", 4500, asked["id"])] and escrow_balance(campaign_id) == 4500
    assert subjects("lea@exemple.fr") == ["Votre contribution à « Le rythme des maux » est enregistrée"]

    after = client.http.get(path).body.decode()
    assert "réussi" in after and "<form" not in after


def test_without_return_url_the_page_goes_back_to_the_campaign_on_the_site(client, workshop):
    campaign_id, _ = workshop
    asked = ask(client, campaign_id, amount_cents=2000)
    done = complete_payment(client, asked["payment"]["redirect_url"], "succeeded")
    assert done.status_code == 303
    assert done.headers["Location"] == f"{get_settings().site_url}/campaigns/{campaign_id}"


def test_a_refused_card_fails_the_pledge_and_gives_its_unit_back(client, workshop):
    campaign_id, reward_id = workshop
    asked = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    assert totals(client, campaign_id) == (0, 0, 1)
    complete_payment(client, asked["payment"]["redirect_url"], "failed")
    failed = mine(client)[asked["id"]]
    assert failed["status"] == "payment_failed" and failed["failure_reason"] == "carte refusée"
    assert failed["payment"] is None
    assert totals(client, campaign_id) == (0, 0, 2)
    assert backers(client, campaign_id) == [] and ledger(campaign_id) == []
    assert escrow_balance(campaign_id) == 0
    page = client.http.get(page_path(asked["payment"]["redirect_url"])).body.decode()
    assert "refusé" in page and "<form" not in page


def test_the_page_of_an_unknown_payment_is_404_and_an_unknown_outcome_422(client, workshop):
    campaign_id, _ = workshop
    assert client.http.get("/sandbox/payments/payin-inconnu").status_code == 404
    asked = ask(client, campaign_id, amount_cents=2000)
    path = page_path(asked["payment"]["redirect_url"])
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert client.http.post(path, headers=form, body="outcome=peut-etre").status_code == 422
    assert (
        client.http.post("/sandbox/payments/payin-inconnu", headers=form, body="outcome=succeeded").status_code == 404
    )
    assert mine(client)[asked["id"]]["status"] == "pending_payment"


# --- notifications -----------------------------------------------------------------------------


def test_a_notification_replayed_five_times_moves_the_pledge_once(client, workshop):
    campaign_id, reward_id = workshop
    asked = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    escrow.SandboxEscrow().complete(payment_id(asked), "succeeded")  # paid; its notification comes below
    assert mine(client)[asked["id"]]["status"] == "pending_payment"

    for method in ("GET", "GET", "POST", "GET", "POST"):
        answer = notify(client, payment_id(asked), method=method)
        assert answer.status_code == 200 and answer.json_body == {"handled": True}
    assert mine(client)[asked["id"]]["status"] == "paid"
    assert totals(client, campaign_id) == (3000, 1, 1)
    assert ledger(campaign_id) == [("paid", 3000, asked["id"])]
    assert len(subjects("lea@exemple.fr")) == 1


def test_a_payment_and_pledge_recorded_without_their_names_still_confirm_and_refund(client, workshop):
    """Payments started before they named their campaign and contributor, and pledges
    recorded without their escrow and payer (before 2026-12-02): the pledge is read first,
    then its payment read again before its refund; nothing else differs."""
    campaign_id, reward_id = workshop
    asked = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    dynamo = storage.dynamo
    payment_key = storage.keys.psp_object("PAYIN", payment_id(asked))
    dynamo.write(dynamo.update(payment_key, "REMOVE campaign_id, contributor_id"))
    dynamo.write(dynamo.update(storage.keys.pledge(asked["id"]), "REMOVE escrow_id, payer_id"))
    assert storage.pledges.get(asked["id"]).payer_id is None
    assert storage.sandbox.get_payment(payment_id(asked)).campaign_id == ""
    escrow.SandboxEscrow().complete(payment_id(asked), "succeeded")

    assert notify(client, payment_id(asked)).json_body == {"handled": True}
    assert mine(client)[asked["id"]]["status"] == "paid"
    assert totals(client, campaign_id) == (3000, 1, 1)
    cancelled = client.http.post(f"/pledges/{asked['id']}/cancel", headers=bearer("lea"))
    assert cancelled.json_body["status"] == "refunded"
    assert totals(client, campaign_id) == (0, 0, 2) and escrow_balance(campaign_id) == 0


def test_a_notification_is_never_trusted_the_payment_is_read_again(client, workshop):
    campaign_id, reward_id = workshop
    waiting = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    refused = ask(client, campaign_id, contributor="marc", amount_cents=3000, reward_id=reward_id)
    complete_payment(client, refused["payment"]["redirect_url"], "failed")
    assert totals(client, campaign_id) == (0, 0, 1)

    forged = [
        notify(client, "payin-inconnu"),  # no such payment at the provider
        notify(client, payment_id(waiting)),  # still waiting for its payer at the provider
        notify(client, payment_id(refused)),  # says succeeded; the provider says failed
        notify(client, payment_id(waiting), event="PAYIN_NORMAL_FAILED"),  # says failed; it waits
        notify(client, payment_id(waiting), event="TOUT_VA_BIEN"),
        notify(client, payment_id(waiting), event="PAYIN_REFUND_SUCCEEDED"),
    ]
    assert [answer.status_code for answer in forged] == [200] * 6
    assert [answer.json_body["handled"] for answer in forged[:2]] == [False, False]
    assert mine(client)[waiting["id"]]["status"] == "pending_payment"
    assert mine(client, "marc")[refused["id"]]["status"] == "payment_failed"
    assert totals(client, campaign_id) == (0, 0, 1)  # Léa's unit still held, Marc's back once
    assert ledger(campaign_id) == [] and escrow_balance(campaign_id) == 0


def test_what_the_provider_says_wins_over_the_notification_s_event(client, workshop):
    campaign_id, _ = workshop
    asked = ask(client, campaign_id, amount_cents=2500)
    escrow.SandboxEscrow().complete(payment_id(asked), "succeeded")
    notify(client, payment_id(asked), event="PAYIN_NORMAL_FAILED")  # out of order, or forged
    assert mine(client)[asked["id"]]["status"] == "paid"
    assert totals(client, campaign_id)[:2] == (2500, 1)


def test_a_notification_for_another_provider_is_404(client, workshop):
    campaign_id, _ = workshop
    asked = ask(client, campaign_id, amount_cents=2500)
    escrow.SandboxEscrow().complete(payment_id(asked), "succeeded")
    for provider in ("mangopay", "stripe"):
        answer = notify(client, payment_id(asked), provider=provider)
        assert answer.status_code == 404
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert mine(client)[asked["id"]]["status"] == "pending_payment"
    assert totals(client, campaign_id)[:2] == (0, 0)


# --- the sweep: what notifications missed --------------------------------------------------------


def test_a_lost_notification_is_caught_by_the_sweep_after_the_window(client, workshop, at):
    campaign_id, reward_id = workshop
    asked = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    escrow.SandboxEscrow().complete(payment_id(asked), "succeeded")  # its notification is lost
    expires_at = clock.parse(asked["payment"]["expires_at"])

    assert finalisation.run(at(expires_at - timedelta(seconds=1)))["expired"] == []  # within its window
    assert mine(client)[asked["id"]]["status"] == "pending_payment"

    report = finalisation.run(at(expires_at + timedelta(seconds=1)))
    assert report["expired"] == [asked["id"]] and report["closed"] == []
    assert mine(client)[asked["id"]]["status"] == "paid"
    assert totals(client, campaign_id) == (3000, 1, 1)
    assert ledger(campaign_id) == [("paid", 3000, asked["id"])]
    assert payments.sweep(at(expires_at + timedelta(minutes=5))) == []  # no longer pending: once


def test_an_abandoned_payment_page_expires_at_the_sweep_and_gives_its_unit_back(client, workshop, at):
    campaign_id, reward_id = workshop
    asked = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    expires_at = clock.parse(asked["payment"]["expires_at"])
    assert payments.sweep(at(expires_at + timedelta(seconds=1))) == [asked["id"]]
    expired = mine(client)[asked["id"]]
    assert expired["status"] == "expired" and expired["failure_reason"] and expired["payment"] is None
    assert totals(client, campaign_id) == (0, 0, 2)
    assert payments.sweep(at(expires_at + timedelta(minutes=5))) == []

    # The payer comes back to the page later and pays: the money goes back at once.
    complete_payment(client, asked["payment"]["redirect_url"], "succeeded")
    assert mine(client)[asked["id"]]["status"] == "refunded"
    assert totals(client, campaign_id) == (0, 0, 2)
    assert ledger(campaign_id) == [("paid", 3000, asked["id"]), ("refunded", 3000, asked["id"])]
    assert escrow_balance(campaign_id) == 0


def test_a_pledge_the_sweep_cannot_move_waits_for_the_next_run_which_goes_on(client, workshop, at, monkeypatch):
    """The provider unreachable for one pledge, the table busy for another: both wait for
    the next sweep, and the run still closes the campaigns that are due."""
    campaign_id, _ = workshop
    unreadable = ask(client, campaign_id, contributor="lea", amount_cents=2000)
    busy = ask(client, campaign_id, contributor="marc", amount_cents=2500)
    fine = ask(client, campaign_id, contributor="zoe", amount_cents=3000)
    due_id, _ = live_campaign(client, owner="camille", duration_days=1)
    real_read, real_end = escrow.SandboxEscrow.read_payment, storage.pledges.end_pending

    def read_payment(self, payment):
        if payment == payment_id(unreadable):
            raise escrow.ProviderError("timeout", retryable=True)
        return real_read(self, payment)

    def end_pending(pledge, *args, **kwargs):
        if pledge.id == busy["id"]:
            raise ClientError({"Error": {"Code": "TransactionConflictException"}}, "TransactWriteItems")
        return real_end(pledge, *args, **kwargs)

    monkeypatch.setattr(escrow.SandboxEscrow, "read_payment", read_payment)
    monkeypatch.setattr(storage.pledges, "end_pending", end_pending)
    closing = at(clock.parse(shown(client, due_id)["ends_at"]) + payments.window() + timedelta(seconds=1))
    report = finalisation.run(closing)
    assert report["expired"] == [fine["id"]] and report["closed"] == [due_id]
    assert {p["id"]: p["status"] for p in mine(client, "lea").values()} == {unreadable["id"]: "pending_payment"}
    assert mine(client, "marc")[busy["id"]]["status"] == "pending_payment"

    monkeypatch.setattr(escrow.SandboxEscrow, "read_payment", real_read)
    monkeypatch.setattr(storage.pledges, "end_pending", real_end)
    assert sorted(payments.sweep(closing)) == sorted([unreadable["id"], busy["id"]])
    assert mine(client, "lea")[unreadable["id"]]["status"] == "expired"
    assert mine(client, "marc")[busy["id"]]["status"] == "expired"


# --- cancellations -------------------------------------------------------------------------------


def test_cancelling_a_pending_pledge_gives_its_unit_back_and_a_later_payment_is_refunded(client, workshop):
    campaign_id, reward_id = workshop
    asked = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    cancelled = client.http.post(f"/pledges/{asked['id']}/cancel", headers=LEA)
    assert cancelled.status_code == 200
    assert cancelled.json_body["status"] == "cancelled" and cancelled.json_body["cancelled_at"]
    assert cancelled.json_body["payment"] is None
    assert totals(client, campaign_id) == (0, 0, 2)
    assert client.http.post(f"/pledges/{asked['id']}/cancel", headers=LEA).status_code == 409

    # The payment page was still open: the contributor pays anyway.
    complete_payment(client, asked["payment"]["redirect_url"], "succeeded")
    assert mine(client)[asked["id"]]["status"] == "refunded"
    assert totals(client, campaign_id) == (0, 0, 2)  # the unit was given back once
    assert ledger(campaign_id) == [("paid", 3000, asked["id"]), ("refunded", 3000, asked["id"])]
    assert escrow_balance(campaign_id) == 0
    assert "Votre contribution à « Le rythme des maux » vous est remboursée" in subjects("lea@exemple.fr")


def test_cancelling_a_paid_pledge_refunds_it_and_gives_totals_and_unit_back(client, workshop, figures):
    campaign_id, reward_id = workshop
    made = pledge(client, campaign_id, contributor="lea", name="Léa Dupont", amount_cents=3500, reward_id=reward_id)
    other = pledge(client, campaign_id, contributor="marc", name="Marc Lenoir", amount_cents=2000)
    assert (made.json_body["status"], other.json_body["status"]) == ("paid", "paid")
    assert totals(client, campaign_id) == (5500, 2, 1)
    assert escrow_balance(campaign_id) == 5500

    refunded = client.http.post(f"/pledges/{made.json_body['id']}/cancel", headers=bearer("lea"))
    assert refunded.status_code == 200
    assert refunded.json_body["status"] == "refunded" and refunded.json_body["refunded_at"]
    assert totals(client, campaign_id) == (2000, 1, 2)
    assert [b["display_name"] for b in backers(client, campaign_id)] == ["Marc Lenoir"]
    assert ledger(campaign_id) == sorted(
        [
            ("paid", 3500, made.json_body["id"]),
            ("paid", 2000, other.json_body["id"]),
            ("refunded", 3500, made.json_body["id"]),
        ]
    )
    assert escrow_balance(campaign_id) == 2000  # Marc's payment only
    assert client.http.post(f"/pledges/{made.json_body['id']}/cancel", headers=bearer("lea")).status_code == 409
    assert totals(client, campaign_id) == (2000, 1, 2)
    figures.catch_up()
    assert client.http.get("/stats").json_body["total_raised_cents"] == 2000


def test_a_paid_pledge_cannot_be_cancelled_after_the_deadline(client, workshop, at):
    campaign_id, _ = workshop
    made = pledge(client, campaign_id, amount_cents=2000).json_body
    at(clock.parse(shown(client, campaign_id)["ends_at"]) + timedelta(seconds=1))  # in the payment window
    refused = client.http.post(f"/pledges/{made['id']}/cancel", headers=LEA)
    assert refused.status_code == 409
    assert mine(client)[made["id"]]["status"] == "paid" and escrow_balance(campaign_id) == 2000


# --- a contributor's view ------------------------------------------------------------------------


def test_my_pledges_show_each_state(client, at):
    """Paid, collected, refunded, cancelled, failed, expired and pending, each as its
    contributor sees it in /me/pledges."""
    open_id, _ = live_campaign(client, duration_days=30)
    funded_id, _ = live_campaign(client, owner="camille", title="Cocotte Minute", goal_cents=10_000, duration_days=1)
    made = {
        "paid": pledge(client, open_id, key="paid", amount_cents=1000).json_body,
        "collected": pledge(client, funded_id, key="collected", amount_cents=10_000).json_body,
        "refunded": pledge(client, open_id, key="refunded", amount_cents=1100).json_body,
        "cancelled": ask(client, open_id, key="cancelled", amount_cents=1200),
        "payment_failed": pledge(client, open_id, key="failed", amount_cents=1300, pay="failed").json_body,
        "expired": ask(client, open_id, key="expired", amount_cents=1400),
    }
    for which in ("refunded", "cancelled"):
        assert client.http.post(f"/pledges/{made[which]['id']}/cancel", headers=LEA).status_code == 200
    closing = at(clock.parse(shown(client, funded_id)["ends_at"]) + payments.window() + timedelta(seconds=1))
    made["pending_payment"] = ask(client, open_id, key="pending", amount_cents=1500)
    report = finalisation.run(closing)
    assert report["expired"] == [made["expired"]["id"]] and report["closed"] == [funded_id]

    seen = mine(client)
    assert {state: seen[p["id"]]["status"] for state, p in made.items()} == {state: state for state in made}
    assert seen[made["collected"]["id"]]["campaign"] == {
        "id": funded_id,
        "title": "Cocotte Minute",
        "status": "succeeded",
    }
    assert seen[made["pending_payment"]["id"]]["payment"]["redirect_url"]
    assert [state for state, p in made.items() if seen[p["id"]]["payment"]] == ["pending_payment"]
    assert seen[made["payment_failed"]["id"]]["failure_reason"] == "carte refusée"
    assert totals(client, open_id)[:2] == (1000, 1)
    assert client.http.get("/me/pledges", headers=bearer("quelqu-un")).json_body["items"] == []


def test_a_moderator_cancelling_a_campaign_leaves_pending_pledges_to_their_payment(client, workshop):
    """A cancelled campaign takes no more payments into its totals: one paid afterwards is refunded."""
    campaign_id, reward_id = workshop
    asked = ask(client, campaign_id, amount_cents=3000, reward_id=reward_id)
    assert client.http.post(f"/campaigns/{campaign_id}/cancel", headers=MODERATOR).status_code == 200
    complete_payment(client, asked["payment"]["redirect_url"], "succeeded")
    assert mine(client)[asked["id"]]["status"] == "refunded"
    assert shown(client, campaign_id)["raised_cents"] == 0
    assert escrow_balance(campaign_id) == 0
    assert ledger(campaign_id) == [("paid", 3000, asked["id"]), ("refunded", 3000, asked["id"])]
