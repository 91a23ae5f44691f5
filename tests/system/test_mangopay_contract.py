"""The `mangopay` provider against Mangopay's own sandbox: the contract that the fixtures of
tests/unit/test_mangopay.py stand for. Run when sandbox credentials are in the environment
(README, Operations, "Mangopay"), skipped otherwise:

    MANGOPAY_CLIENT_ID=… MANGOPAY_API_KEY=… .venv/bin/pytest tests/system/test_mangopay_contract.py

It creates users, wallets and pay-ins in that sandbox account, each named for this run. A
card payment cannot be completed here (Mangopay's hosted page wants a browser): the
payment is left CREATED, the rest of the port is played around it.
"""

import os
import uuid

import pytest

from chalicelib.adapters import mangopay_client
from chalicelib.adapters.mangopay import MangopayEscrow
from chalicelib.adapters.mangopay_client import Credentials
from chalicelib.escrow import Payer

pytestmark = pytest.mark.skipif(
    not (os.environ.get("MANGOPAY_CLIENT_ID") and os.environ.get("MANGOPAY_API_KEY")),
    reason="Mangopay sandbox credentials not set (MANGOPAY_CLIENT_ID, MANGOPAY_API_KEY)",
)

RETURN_URL = "https://oze.example.org/campagnes/contrat/merci"


@pytest.fixture
def psp(stage_env, monkeypatch):
    url = os.environ.get("MANGOPAY_API_URL", "https://api.sandbox.mangopay.com")
    if "sandbox" not in url:
        pytest.fail(f"the contract test runs against Mangopay's sandbox only, not {url}")
    monkeypatch.setenv("MANGOPAY_API_URL", url)
    mangopay_client._handler.cache_clear()
    yield MangopayEscrow(Credentials(os.environ["MANGOPAY_CLIENT_ID"], os.environ["MANGOPAY_API_KEY"]))
    mangopay_client._handler.cache_clear()


@pytest.fixture
def run():
    return uuid.uuid4().hex[:12]


def test_the_port_holds_against_mangopays_sandbox(psp, run, monkeypatch):
    payer = Payer(f"contrat-{run}", "Léa Martin", f"lea+{run}@example.org")
    user_id = psp.register_payer(payer)
    assert user_id and psp.register_payer(payer) == user_id  # the same key: Mangopay's first answer

    owner = os.environ.get("MANGOPAY_ESCROW_USER_ID") or psp.register_payer(
        Payer(f"plateforme-{run}", "Plateforme Ozé", f"plateforme+{run}@example.org")
    )
    monkeypatch.setenv("MANGOPAY_ESCROW_USER_ID", owner)
    escrow_id = psp.open_escrow(f"campagne-{run}", "Contrat du séquestre")
    assert psp.escrow_balance(escrow_id) == 0 and psp.escrow_transactions(escrow_id) == []

    payer = payer._replace(user_id=user_id)
    payment = psp.start_payment(f"p-{run}", escrow_id, 1_000, RETURN_URL, payer=payer)
    assert (payment.status, payment.pledge_id, payment.escrow_id, payment.amount_cents) == (
        "created",
        f"p-{run}",
        escrow_id,
        1_000,
    )
    assert payment.redirect_url.startswith("https://") and payment.created_at.endswith("Z")
    assert psp.start_payment(f"p-{run}", escrow_id, 1_000, RETURN_URL, payer=payer).id == payment.id
    assert psp.read_payment(payment.id) == payment
    assert psp.read_payment(f"inconnu-{run}") is None

    refund = psp.refund(payment)
    assert (refund.status, refund.result) == ("failed", "paiement non remboursable (CREATED)")

    too_much = psp.release(escrow_id, 10_000, f"campagne-{run}", payee_wallet_id=escrow_id)
    assert too_much.status == "failed" and too_much.result
    assert psp.escrow_balance(escrow_id) == 0
