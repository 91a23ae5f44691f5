"""The daily reconciliation (chalicelib/reconciliation.py): each open escrow's balance at
the provider against its campaign's ledger, and its report for moderators."""

from datetime import timedelta

from chalicelib import clock, escrow, reconciliation, storage
from tests.conftest import bearer
from tests.factories import MODERATOR, live_campaign, pledge

ALICE = bearer("alice", name="Alice Martin")


def test_paid_and_refunded_pledges_leave_every_escrow_equal_to_its_ledger(client):
    campaign_id, _ = live_campaign(client)
    kept = pledge(client, campaign_id, contributor="lea", key="k1", amount_cents=4_000)
    cancelled = pledge(client, campaign_id, contributor="theo", key="k2", name="Théo Lefèvre", amount_cents=2_500)
    assert kept.json_body["status"] == cancelled.json_body["status"] == "paid"
    refunded = client.http.post(f"/pledges/{cancelled.json_body['id']}/cancel", headers=bearer("theo"))
    assert refunded.json_body["status"] == "refunded"

    report = reconciliation.run(clock.now())

    escrow_id = storage.campaigns.get(campaign_id).escrow_id
    assert escrow.SandboxEscrow().escrow_balance(escrow_id) == storage.ledger.escrow_balance(campaign_id) == 4_000
    assert (report.escrows_checked, report.differences, report.unreadable) == (1, (), ())


def test_money_moved_behind_the_platform_s_back_is_reported_to_moderators(client):
    campaign_id, _ = live_campaign(client, title="La Cocotte Minute à Coutances")
    paid = pledge(client, campaign_id, contributor="lea", amount_cents=3_000).json_body
    # A refund made by hand in the provider's dashboard: the ledger never hears of it.
    provider = escrow.SandboxEscrow()
    provider.refund(provider.read_payment(storage.pledges.get(paid["id"]).payment_id))

    reconciliation.run(clock.now() + timedelta(days=1))
    shown = client.http.get("/reconciliation", headers=MODERATOR)

    assert shown.status_code == 200
    assert shown.json_body["escrows_checked"] == 1
    assert shown.json_body["differences"] == [
        {
            "campaign_id": campaign_id,
            "campaign_title": "La Cocotte Minute à Coutances",
            "escrow_id": storage.campaigns.get(campaign_id).escrow_id,
            "provider_cents": 0,
            "ledger_cents": 3_000,
            "difference_cents": -3_000,
        }
    ]


def test_only_moderators_read_the_report_which_says_when_none_ran_yet(client):
    before = client.http.get("/reconciliation", headers=MODERATOR)
    assert (before.status_code, before.json_body["run_at"], before.json_body["escrows_checked"]) == (200, None, 0)
    reconciliation.run(clock.now())

    assert client.http.get("/reconciliation").status_code == 401
    assert client.http.get("/reconciliation", headers=ALICE).status_code == 403
    assert client.http.get("/reconciliation", headers=MODERATOR).json_body["differences"] == []


def test_an_older_run_never_replaces_the_latest_report(client):
    now = clock.now()
    reconciliation.run(now)
    reconciliation.run(now - timedelta(hours=1))

    assert client.http.get("/reconciliation", headers=MODERATOR).json_body["run_at"] == clock.iso(now)
