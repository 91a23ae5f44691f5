"""A succeeded campaign's money to its owner (SPEC "Money (v2)"), with the sandbox provider:
the escrow less the commission to the owner's wallet, then to their bank account, once
they are verified and their bank account active; reminders while it waits; a payout the
bank refuses is tried again on another bank account; the ledger balances."""

import json
from collections import Counter
from datetime import timedelta
from urllib.parse import quote

from chalicelib import escrow, finalisation, payouts, storage
from tests.api.test_finalisation import backed, closing, escrow_balance, reconciled, sent_mails
from tests.conftest import bearer
from tests.factories import MODERATOR, payout_account

OWNER = bearer("porteur", name="Yannick Hervé")
IBAN = "FR7630006000011234567890189"
OTHER_IBAN = "FR7030002005500000157845Z02"
WAITING = "Votre versement pour « Le rythme des maux » vous attend"
PAID = "Votre versement pour « Le rythme des maux » est parti"
FAILED = "Votre versement pour « Le rythme des maux » n'a pas abouti"


def ready_to_be_paid(client, iban=IBAN):
    payout_account(client, verify="verified")
    answer = client.http.post(
        "/me/payout-account/bank-account", headers=OWNER, body=json.dumps({"iban": iban, "holder": "Yannick Hervé"})
    )
    assert answer.status_code == 200, answer.body


def shown(client, campaign_id, who=OWNER):
    return client.http.get(f"/campaigns/{campaign_id}/payout", headers=who)


def ledger_sums(campaign_id):
    sums = Counter()
    for entry in storage.every(storage.ledger.entries, campaign_id):
        sums[entry.kind] += entry.amount_cents
    return sums


def owner_mails():
    return [subject for to, subject in sent_mails() if to == "porteur@exemple.fr"]


def test_a_verified_owner_is_paid_the_escrow_and_the_ledger_balances(client):
    campaign_id = backed(client)  # 60,000 + 50,000 for a goal of 100,000
    ready_to_be_paid(client)

    finalisation.run(closing(client, campaign_id))

    payout = shown(client, campaign_id).json_body
    assert (payout["status"], payout["amount_cents"], payout["commission_cents"]) == ("paid", 110_000, 0)
    assert payout["collected_cents"] == 110_000 and payout["paid_at"]
    sums = ledger_sums(campaign_id)
    assert sums["paid"] == sums["collected"] == sums["payout"] + sums["commission"] == 110_000
    assert escrow_balance(campaign_id) == 0 and reconciled(campaign_id)
    assert owner_mails().count(PAID) == 1


def test_the_commission_stays_at_the_provider_and_the_owner_gets_the_rest(client, monkeypatch):
    monkeypatch.setenv("COMMISSION_BASIS_POINTS", "250")  # 2.5 %
    campaign_id = backed(client, amounts=(60_001, 50_000))
    ready_to_be_paid(client)

    finalisation.run(closing(client, campaign_id))

    payout = shown(client, campaign_id).json_body
    assert (payout["collected_cents"], payout["commission_cents"], payout["amount_cents"]) == (110_001, 2_750, 107_251)
    sums = ledger_sums(campaign_id)
    assert sums["paid"] == sums["collected"] == sums["payout"] + sums["commission"] == 110_001
    assert sums["commission"] == 2_750 and escrow_balance(campaign_id) == 0


def test_the_payout_waits_for_the_owner_who_is_reminded_once_a_week(client):
    campaign_id = backed(client)
    after = closing(client, campaign_id)
    finalisation.run(after)
    assert shown(client, campaign_id).json_body["status"] == "waiting"
    assert owner_mails().count(WAITING) == 1
    finalisation.run(after + timedelta(days=3))
    assert owner_mails().count(WAITING) == 1  # not again within the week
    finalisation.run(after + timedelta(days=8))
    assert owner_mails().count(WAITING) == 2
    assert escrow_balance(campaign_id) == 110_000 and reconciled(campaign_id)  # still held

    ready_to_be_paid(client)
    finalisation.run(after + timedelta(days=9))
    assert shown(client, campaign_id).json_body["status"] == "paid"
    assert escrow_balance(campaign_id) == 0


def test_a_payout_the_bank_refuses_is_tried_again_on_another_account(client):
    campaign_id = backed(client)
    ready_to_be_paid(client, iban=escrow.SANDBOX_REFUSED_IBAN)
    after = closing(client, campaign_id)
    finalisation.run(after)

    failed = shown(client, campaign_id).json_body
    assert (failed["status"], failed["failure_reason"]) == ("failed", "compte bancaire clôturé")
    assert owner_mails().count(FAILED) == 1
    finalisation.run(after + timedelta(days=1))
    assert shown(client, campaign_id).json_body["status"] == "failed"  # the same account: not again

    ready_to_be_paid(client, iban=IBAN)
    finalisation.run(after + timedelta(days=2))

    paid = shown(client, campaign_id).json_body
    assert (paid["status"], paid["failure_reason"]) == ("paid", None)
    sums = ledger_sums(campaign_id)
    assert sums["collected"] == sums["payout"] == 110_000  # collected once, paid out once
    assert storage.payouts.get(campaign_id).attempt == 2


def test_two_runs_with_the_same_payout_pay_it_once(client):
    campaign_id = backed(client)
    after = closing(client, campaign_id)
    finalisation.run(after)  # closed, settled, waiting for the owner
    ready_to_be_paid(client)
    stale = storage.payouts.get(campaign_id)

    assert payouts.advance(stale, after).status == "paid"
    assert payouts.advance(stale, after) is None  # read before the other run moved it: nothing

    assert ledger_sums(campaign_id)["payout"] == 110_000
    assert owner_mails().count(PAID) == 1


def test_a_payout_the_bank_takes_its_time_over_is_paid_on_its_notification(client, monkeypatch):
    real = escrow.SandboxEscrow.pay_out
    monkeypatch.setattr(escrow.SandboxEscrow, "pay_out", lambda *a: real(*a)._replace(status="created"))
    campaign_id = backed(client)
    ready_to_be_paid(client)
    finalisation.run(closing(client, campaign_id))
    assert shown(client, campaign_id).json_body["status"] == "in_progress"
    payout_id = storage.payouts.get(campaign_id).payout_id

    forged = client.http.get("/payments/notifications/sandbox?EventType=PAYOUT_NORMAL_SUCCEEDED&RessourceId=po-x")
    assert forged.json_body == {"handled": False}
    query = f"EventType=PAYOUT_NORMAL_SUCCEEDED&RessourceId={quote(payout_id)}"
    assert client.http.get(f"/payments/notifications/sandbox?{query}").json_body == {"handled": True}

    assert shown(client, campaign_id).json_body["status"] == "paid"
    assert ledger_sums(campaign_id)["payout"] == 110_000


def test_only_the_owner_and_moderators_see_a_payout(client):
    campaign_id = backed(client)
    assert shown(client, campaign_id).status_code == 404  # still live: no payout yet
    finalisation.run(closing(client, campaign_id))

    assert shown(client, campaign_id, MODERATOR).json_body["status"] == "waiting"
    assert shown(client, campaign_id, bearer("curieuse")).status_code == 404
    assert client.http.get(f"/campaigns/{campaign_id}/payout").status_code == 401


def test_a_failed_campaign_has_no_payout(client):
    campaign_id = backed(client, goal_cents=1_000_000)
    finalisation.run(closing(client, campaign_id))
    answer = shown(client, campaign_id)
    assert answer.status_code == 404 and "refunded" in answer.json_body["detail"]
    assert storage.payouts.get(campaign_id) is None


def test_an_owner_whose_money_has_not_reached_them_cannot_erase_their_data_yet(client):
    campaign_id = backed(client)
    after = closing(client, campaign_id)
    finalisation.run(after)
    refused = client.http.delete("/me", headers=OWNER)
    assert refused.status_code == 409 and "has not reached you" in refused.json_body["detail"]
    assert client.http.get("/me/payout-account", headers=OWNER).status_code == 200  # nothing erased

    ready_to_be_paid(client)
    finalisation.run(after + timedelta(minutes=5))
    assert client.http.delete("/me", headers=OWNER).status_code == 200
    assert client.http.get("/me/payout-account", headers=OWNER).status_code == 404
    assert shown(client, campaign_id, MODERATOR).json_body["status"] == "paid"  # the record stays


def test_a_payout_the_bank_sends_back_later_fails_then_is_paid_on_another_account(client):
    campaign_id = backed(client)
    ready_to_be_paid(client)
    after = closing(client, campaign_id)
    finalisation.run(after)
    paid = storage.payouts.get(campaign_id)
    assert paid.status == "paid"

    note = escrow.SandboxEscrow().return_payout(paid.payout_id, "BANKACCOUNT_HAS_BEEN_CLOSED")
    query = f"EventType=PAYOUT_REFUND_SUCCEEDED&RessourceId={quote(note.resource_id)}"
    for _ in range(2):  # a notification repeated moves nothing twice
        assert client.http.get(f"/payments/notifications/sandbox?{query}").json_body == {"handled": True}

    failed = shown(client, campaign_id).json_body
    assert (failed["status"], failed["paid_at"]) == ("failed", None)
    assert "BANKACCOUNT_HAS_BEEN_CLOSED" in failed["failure_reason"]
    wallet = storage.owners.get("porteur").wallet_id
    assert storage.sandbox.wallet_balance(wallet) == 110_000  # back in the owner's wallet
    assert owner_mails().count(FAILED) == 1

    ready_to_be_paid(client, iban=OTHER_IBAN)
    finalisation.run(after + timedelta(days=1))

    assert shown(client, campaign_id).json_body["status"] == "paid"
    sums = ledger_sums(campaign_id)
    assert sums["payout"] - sums["payout_returned"] + sums["commission"] == sums["collected"] == 110_000
    assert storage.sandbox.wallet_balance(wallet) == 0
