"""Payout runs racing each other, with real threads against the locked emulator: a
succeeded campaign's escrow goes to its owner's wallet once and on to their bank account
once, the ledger balances, the owner is told once."""

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from chalicelib import clock, escrow, finalisation, notifications, payments, storage
from tests.conftest import bearer
from tests.factories import live_campaign, payout_account, pledge


def test_racing_runs_pay_a_succeeded_campaign_out_once(server_client, monkeypatch):
    client = server_client
    campaign_id, _ = live_campaign(client, goal_cents=10_000)
    for c in range(3):
        pledge(client, campaign_id, contributor=f"c{c}", amount_cents=4_000 + c)
    payout_account(client, verify="verified")
    iban = {"iban": "FR7630006000011234567890189", "holder": "Yannick Hervé"}
    headers = bearer("porteur", name="Yannick Hervé")
    assert (
        client.http.post("/me/payout-account/bank-account", headers=headers, body=json.dumps(iban)).status_code == 200
    )
    after = clock.parse(storage.campaigns.get(campaign_id).ends_at) + payments.window() + timedelta(seconds=1)

    lock, mails = threading.Lock(), []
    real_send = notifications.send

    def counted_send(template, to, **values):
        with lock:
            mails.append(template)
        return real_send(template, to, **values)

    monkeypatch.setattr(notifications, "send", counted_send)
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda _: finalisation.run(after), range(6)))  # close, settle, pay out: at once

    payout = storage.payouts.get(campaign_id)
    assert payout.status == "paid"
    sums = Counter()
    for entry in storage.every(storage.ledger.entries, campaign_id):
        sums[entry.kind] += entry.amount_cents
    assert sums == {"paid": 12_003, "collected": 12_003, "payout": 12_003}
    account = storage.owners.get("porteur")
    assert escrow.SandboxEscrow().escrow_balance(payout.escrow_id) == 0
    assert storage.sandbox.wallet_balance(account.wallet_id) == 0  # credited once, paid out once
    assert mails.count("owner_payout_paid") == 1 and mails.count("owner_succeeded") == 1
