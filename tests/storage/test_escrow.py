"""The escrow port's sandbox provider (chalicelib/escrow.py on chalicelib/storage/sandbox.py)
and the ledger (chalicelib/storage/ledger.py): money moves once per request, a wallet never
goes below zero, and the ledger's sum per campaign is the escrow's balance."""

import pytest

from chalicelib import escrow, storage
from chalicelib.records import LedgerEntry

pytestmark = pytest.mark.usefixtures("emulated_aws")

RETURN_URL = "http://localhost:3000/campagnes/c0ffee/merci"


@pytest.fixture
def psp():
    return escrow.SandboxEscrow()


@pytest.fixture
def wallet(psp):
    return psp.open_escrow("c0ffee", "Le rythme des maux")


def paid(psp, wallet, pledge_id="p-lea", amount=2_500):
    payment = psp.start_payment(pledge_id, wallet, amount, RETURN_URL)
    assert psp.complete(payment.id, "succeeded") == escrow.Notification("payment", payment.id)
    return psp.read_payment(payment.id)


def test_an_escrow_opens_empty_and_opening_it_again_changes_nothing(psp, wallet):
    assert psp.open_escrow("c0ffee", "Le rythme des maux") == wallet
    assert psp.escrow_balance(wallet) == 0 and psp.escrow_transactions(wallet) == []


def test_the_same_pledge_starts_the_same_payment_with_the_same_page(psp, wallet):
    first = psp.start_payment("p-lea", wallet, 2_500, RETURN_URL)
    again = psp.start_payment("p-lea", wallet, 2_500, RETURN_URL)
    assert again == first and first.status == "created" and not first.settled
    assert first.redirect_url.endswith(f"/sandbox/payments/{first.id}")
    assert psp.start_payment("p-hugo", wallet, 2_500, RETURN_URL).id != first.id


def test_a_paid_payment_lands_in_the_escrow_once(psp, wallet):
    payment = paid(psp, wallet)
    assert (payment.status, payment.executed_at is not None) == ("succeeded", True)
    assert psp.complete(payment.id, "failed") is None  # a completed payment never moves again
    assert psp.complete(payment.id, "succeeded") is None
    assert psp.escrow_balance(wallet) == 2_500
    assert [(t.kind, t.amount_cents) for t in psp.escrow_transactions(wallet)] == [("payin", 2_500)]


def test_a_refused_card_brings_nothing_and_says_why(psp, wallet):
    payment = psp.start_payment("p-lea", wallet, 2_500, RETURN_URL)
    assert psp.complete(payment.id, "failed") == escrow.Notification("payment", payment.id)
    refused = psp.read_payment(payment.id)
    assert (refused.status, refused.result, refused.settled) == ("failed", "carte refusée", True)
    assert psp.escrow_balance(wallet) == 0
    assert psp.complete("payin-inconnu", "succeeded") is None and psp.complete(payment.id, "peut-être") is None


def test_a_payment_is_refunded_once_and_a_failed_one_never(psp, wallet):
    payment = paid(psp, wallet)
    refund = psp.refund(payment)
    assert (refund.kind, refund.status, refund.amount_cents, refund.payment_id) == (
        "refund",
        "succeeded",
        2_500,
        payment.id,
    )
    assert psp.refund(payment) == refund  # asked again: the same refund, no second movement
    assert psp.escrow_balance(wallet) == 0
    assert [t.kind for t in psp.escrow_transactions(wallet)] == ["payin", "refund"]

    refused = psp.start_payment("p-hugo", wallet, 1_000, RETURN_URL)
    psp.complete(refused.id, "failed")
    failed = psp.refund(psp.read_payment(refused.id))
    assert failed.status == "failed" and "non abouti" in failed.result
    assert psp.escrow_balance(wallet) == 0


def test_an_escrow_never_pays_out_more_than_it_holds(psp, wallet):
    paid(psp, wallet, "p-lea", 2_500)
    paid(psp, wallet, "p-hugo", 1_350)
    too_much = psp.release(wallet, 10_000, "campagne-trop")
    assert (too_much.status, too_much.result) == ("failed", "solde insuffisant")
    assert psp.escrow_balance(wallet) == 3_850
    released = psp.release(wallet, 3_850, "c0ffee")
    assert released.status == "succeeded" and psp.release(wallet, 3_850, "c0ffee") == released
    assert psp.escrow_balance(wallet) == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"EventType": "PAYIN_NORMAL_SUCCEEDED", "RessourceId": "payin-1", "Date": "1767225600"},
            ("payment", "payin-1"),
        ),
        ({"EventType": "PAYIN_REFUND_FAILED", "RessourceId": "refund-2"}, ("refund", "refund-2")),
        ({"EventType": "USER_KYC_REGULAR", "RessourceId": "u-1"}, None),  # not an event of this port
        ({"EventType": "PAYIN_NORMAL_SUCCEEDED"}, None),
        ({"EventType": "PAYIN_NORMAL_SUCCEEDED", "RessourceId": "x" * 65}, None),
        ({"EventType": "PAYIN_NORMAL_SUCCEEDED", "RessourceId": "payin\n1"}, None),
    ],
)
def test_a_notification_only_names_what_to_read_again(psp, params, expected):
    assert psp.notification(params) == (escrow.Notification(*expected) if expected else None)


def test_the_ledger_records_each_movement_once_and_sums_to_the_escrow(psp, wallet):
    lea, hugo = paid(psp, wallet, "p-lea", 2_500), paid(psp, wallet, "p-hugo", 1_350)
    refund = psp.refund(hugo)
    movements = [
        LedgerEntry("c0ffee", "paid", lea.amount_cents, lea.id, lea.executed_at, "p-lea"),
        LedgerEntry("c0ffee", "paid", hugo.amount_cents, hugo.id, hugo.executed_at, "p-hugo"),
        LedgerEntry("c0ffee", "refunded", refund.amount_cents, refund.id, refund.created_at, "p-hugo"),
    ]
    assert [storage.ledger.append(m) for m in movements] == [True, True, True]
    assert [storage.ledger.append(m) for m in movements] == [False, False, False]  # replays write nothing
    entries, cursor = storage.ledger.entries("c0ffee", limit=10, cursor=None)
    assert sorted(entries) == sorted(movements) and cursor is None
    assert storage.ledger.escrow_balance("c0ffee") == psp.escrow_balance(wallet) == 2_500
    assert storage.ledger.escrow_balance("autre-campagne") == 0
