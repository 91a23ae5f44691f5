"""The escrow port at Mangopay (chalicelib/adapters/mangopay.py), without network: the SDK's
HTTP is answered by `responses` with objects shaped as Mangopay documents them.

Each fixture names the documentation page it follows (docs.mangopay.com) and the mocked
answer of the SDK's own tests it was checked against (Mangopay/mangopay2-python-sdk,
tests/): no field is made up, values are ours. The contract with the real sandbox is
tests/system/test_mangopay_contract.py; credentials from SSM are tests/storage/test_mangopay_credentials.py.
"""

import json
import re
import subprocess
import sys
from typing import Any, NamedTuple

import pytest
import requests
import responses
from responses import matchers

from chalicelib import escrow
from chalicelib.adapters import mangopay, mangopay_client
from chalicelib.adapters.mangopay import MangopayEscrow
from chalicelib.adapters.mangopay_client import Credentials, idempotency_key, parameter_names
from chalicelib.escrow import Notification, Payer, ProviderError
from chalicelib.records import EscrowPayment, EscrowTransfer
from chalicelib.settings import ConfigurationError
from tests.conftest import ROOT

CREDENTIALS = Credentials("oze-test", "cle-api-de-test")
API = f"https://api.sandbox.mangopay.com/v2.01/{CREDENTIALS.client_id}"
PLATFORM_USER = "user_m_01PLATEFORMEOZE"  # the platform's own user (MANGOPAY_ESCROW_USER_ID)
RETURN_URL = "http://localhost:3000/campagnes/c0ffee/merci"
LEA = Payer("sub-lea", "Léa Martin", "lea@exemple.fr", "user_m_01LEA")


class Fixture(NamedTuple):
    """A Mangopay answer, and the documentation page (and SDK test) it follows."""

    page: str
    body: Any


def money(amount: int) -> dict[str, Any]:
    return {"Currency": "EUR", "Amount": amount}


OAUTH_TOKEN = Fixture(
    "docs.mangopay.com/api-reference/overview/authentication — Authentication (OAuth 2.0 token); "
    "SDK tests/mocks.py mock_oauth",
    {"access_token": "67b036bd007c40378d4be5a934f197e6", "token_type": "Bearer", "expires_in": 3600},
)
PAYER_USER = Fixture(
    "docs.mangopay.com/api-reference/users/create-natural-user-sca — Create a Natural User (SCA), "
    "response for a PAYER; SDK tests/fixtures/natural_user.json",
    {
        "Address": {
            "AddressLine1": None,
            "AddressLine2": None,
            "City": None,
            "Region": None,
            "PostalCode": None,
            "Country": None,
        },
        "FirstName": "Léa",
        "LastName": "Martin",
        "Birthday": None,
        "Nationality": None,
        "CountryOfResidence": None,
        "Occupation": None,
        "IncomeRange": None,
        "ProofOfIdentity": None,
        "ProofOfAddress": None,
        "Capacity": "NORMAL",
        "PhoneNumber": None,
        "PhoneNumberCountry": None,
        "Id": "user_m_01LEA",
        "Tag": "sub-lea",
        "CreationDate": 1767225600,
        "PersonType": "NATURAL",
        "Email": "lea@exemple.fr",
        "KYCLevel": "LIGHT",
        "TermsAndConditionsAccepted": False,
        "TermsAndConditionsAcceptedDate": None,
        "UserCategory": "PAYER",
        "UserStatus": "ACTIVE",
    },
)
WALLET = Fixture(
    "docs.mangopay.com/api-reference/wallets/wallet-object — The Wallet object; "
    "SDK tests/fixtures/natural_user_wallet.json",
    {
        "Owners": [PLATFORM_USER],
        "Description": "Séquestre de « Le rythme des maux »",
        "Balance": money(0),
        "Currency": "EUR",
        "Id": "wlt_m_01ESCROW",
        "Tag": "c0ffee",
        "CreationDate": 1767225600,
    },
)
WEB_PAYIN = Fixture(
    "docs.mangopay.com/api-reference/web-card-payins/web-card-payin-object — The Web Card PayIn object; "
    "SDK tests/test_payins.py test_create_card_via_web_interface_payin",
    {
        "Id": "wt_01PAYIN",
        "Tag": "p-lea c0ffee sub-lea",  # ours (chalicelib/adapters/mangopay.py _tag): pledge, campaign, contributor
        "CreationDate": 1767225600,
        "AuthorId": "user_m_01LEA",
        "CreditedUserId": PLATFORM_USER,
        "DebitedFunds": money(2_500),
        "CreditedFunds": money(2_500),
        "Fees": money(0),
        "Status": "CREATED",
        "ResultCode": None,
        "ResultMessage": None,
        "ExecutionDate": None,
        "Type": "PAYIN",
        "Nature": "REGULAR",
        "CreditedWalletId": "wlt_m_01ESCROW",
        "DebitedWalletId": None,
        "PaymentType": "CARD",
        "ExecutionType": "WEB",
        "RedirectURL": "https://homologation-secure-p.payline.com/webpayment/?reqCode=prepareStep2&token=1b4VB",
        "ReturnURL": f"{RETURN_URL}?transactionId=wt_01PAYIN",
        "Culture": "FR",
        "CardType": "CB_VISA_MASTERCARD",
        "SecureMode": "DEFAULT",
    },
)
PAID = {**WEB_PAYIN.body, "Status": "SUCCEEDED", "ResultCode": "000000", "ResultMessage": "Success"}
PAID["ExecutionDate"] = 1767226500
WEB_PAYIN_SUCCEEDED = Fixture(WEB_PAYIN.page + " (Status SUCCEEDED, as in SDK tests/test_refunds.py)", PAID)
WEB_PAYIN_FAILED = Fixture(
    WEB_PAYIN.page + "; its failure as docs.mangopay.com/errors/codes/101101 describes it",
    {
        **WEB_PAYIN.body,
        "Status": "FAILED",
        "ResultCode": "101101",
        "ResultMessage": "Transaction refused by the bank (Do not honor)",
    },
)
DIRECT_PAYIN = Fixture(
    "docs.mangopay.com/api-reference/direct-card-payins — The Direct Card PayIn object; "
    "SDK tests/test_refunds.py test_create_payin_refund (payins/card/direct)",
    {
        "Id": "6784288",
        "Tag": None,
        "CreationDate": 1432046586,
        "AuthorId": "6784285",
        "CreditedUserId": "6784283",
        "DebitedFunds": money(10_000),
        "CreditedFunds": money(9_900),
        "Fees": money(100),
        "Status": "SUCCEEDED",
        "ResultCode": "000000",
        "ResultMessage": "Success",
        "ExecutionDate": 1432046588,
        "Type": "PAYIN",
        "Nature": "REGULAR",
        "CreditedWalletId": "6784284",
        "DebitedWalletId": None,
        "PaymentType": "CARD",
        "ExecutionType": "DIRECT",
        "SecureMode": "DEFAULT",
        "CardId": "6784287",
        "SecureModeReturnURL": None,
        "SecureModeRedirectURL": None,
        "SecureModeNeeded": False,
    },
)
PAYIN_REFUND = Fixture(
    "docs.mangopay.com/api-reference/refunds/refund-object — The Refund object (of a PayIn); "
    "SDK tests/test_refunds.py test_create_payin_refund (POST payins/{id}/refunds)",
    {
        "Id": "rf_01REFUND",
        "Tag": "p-lea",
        "CreationDate": 1767312000,
        "AuthorId": "user_m_01LEA",
        "CreditedUserId": None,
        "DebitedFunds": money(2_500),
        "CreditedFunds": money(2_500),
        "Fees": money(0),
        "Status": "SUCCEEDED",
        "ResultCode": "000000",
        "ResultMessage": "Success",
        "ExecutionDate": 1767312001,
        "Type": "PAYOUT",
        "Nature": "REFUND",
        "InitialTransactionId": "wt_01PAYIN",
        "InitialTransactionType": "PAYIN",
        "DebitedWalletId": "wlt_m_01ESCROW",
        "CreditedWalletId": None,
        "RefundReason": {"RefusedReasonMessage": None, "RefusedReasonType": "INITIALIZED_BY_CLIENT"},
    },
)
TRANSFER = Fixture(
    "docs.mangopay.com/api-reference/transfers/transfer-object — The Transfer object; "
    "SDK tests/test_transfers.py and tests/test_refunds.py (POST transfers)",
    {
        "Id": "tr_01RELEASE",
        "Tag": "c0ffee",
        "CreationDate": 1769904000,
        "AuthorId": PLATFORM_USER,
        "CreditedUserId": "user_m_01PORTEUR",
        "DebitedFunds": money(3_850),
        "CreditedFunds": money(3_850),
        "Fees": money(0),
        "Status": "SUCCEEDED",
        "ResultCode": "000000",
        "ResultMessage": "Success",
        "ExecutionDate": 1769904001,
        "Type": "TRANSFER",
        "Nature": "REGULAR",
        "DebitedWalletId": "wlt_m_01ESCROW",
        "CreditedWalletId": "wlt_m_01PORTEUR",
    },
)
TRANSFER_WITH_FEES = Fixture(
    "docs.mangopay.com/guides/fees — Fees on a transfer (CreditedFunds = DebitedFunds - Fees); "
    "SDK tests/test_transfers.py test_create_transfers (Fees 100 of 1000)",
    {**TRANSFER.body, "DebitedFunds": money(3_850), "CreditedFunds": money(3_465), "Fees": money(385)},
)
TRANSFER_FAILED = Fixture(
    "docs.mangopay.com/errors/codes/001001 — Unsufficient wallet balance, its example Transfer",
    {
        **TRANSFER.body,
        "DebitedFunds": money(10_000),
        "CreditedFunds": money(10_000),
        "Status": "FAILED",
        "ResultCode": "001001",
        "ResultMessage": "Unsufficient wallet balance",
        "ExecutionDate": None,
    },
)
WALLET_TRANSACTIONS = Fixture(
    "docs.mangopay.com/api-reference/transactions/list-transactions-wallet — List Transactions for a Wallet "
    "(The Transaction object); SDK tests/test_wallets.py test_retrieve_wallet_transactions",
    [
        {
            key: PAID[key]
            for key in ("Id", "Tag", "CreationDate", "AuthorId", "CreditedUserId", "DebitedFunds", "CreditedFunds")
            + ("Fees", "Status", "ResultCode", "ResultMessage", "ExecutionDate", "Type", "Nature")
            + ("CreditedWalletId", "DebitedWalletId")
        },
        {
            key: PAYIN_REFUND.body[key]
            for key in ("Id", "Tag", "CreationDate", "AuthorId", "CreditedUserId", "DebitedFunds", "CreditedFunds")
            + ("Fees", "Status", "ResultCode", "ResultMessage", "ExecutionDate", "Type", "Nature")
            + ("CreditedWalletId", "DebitedWalletId")
        },
        {
            key: TRANSFER.body[key]
            for key in ("Id", "Tag", "CreationDate", "AuthorId", "CreditedUserId", "DebitedFunds", "CreditedFunds")
            + ("Fees", "Status", "ResultCode", "ResultMessage", "ExecutionDate", "Type", "Nature")
            + ("CreditedWalletId", "DebitedWalletId")
        },
    ],
)
IDEMPOTENCY_CONFLICT = Fixture(
    "docs.mangopay.com/api-reference/overview/idempotency — Idempotency, its 409 response example",
    {
        "Message": "A resource has already been created with this Idempotency Key",
        "Type": "idempotent_creation_conflict",
        "Id": "bf6cce22-4c12-454f-ac05-ca20c8683735#1452723935",
        "Date": 1452723944,
        "errors": None,
    },
)
KEPT_RESPONSE = Fixture(
    "docs.mangopay.com/api-reference/api-responses/api-response-object — The API Response object "
    "(View an API Response); SDK mangopay/resources.py IdempotencyResponse",
    {
        "StatusCode": "200",
        "ContentLength": "1024",
        "ContentType": "application/json; charset=utf-8",
        "Date": "Thu, 01 Jan 2026 00:00:00 GMT",
        "RequestURL": f"{API}/payins/card/web",
        "Resource": WEB_PAYIN.body,
    },
)
PARAM_ERROR = Fixture(
    "docs.mangopay.com/errors/error-report — Error report, its 400 Bad Request example",
    {
        "Message": "One or several required parameters are missing or incorrect. "
        "An incorrect resource ID also raises this kind of error.",
        "Type": "param_error",
        "Id": "5e83fbe8-7345-4778-8437-4aa6464b3337",
        "Date": 1740581497.0,
        "errors": {},
    },
)
NOT_FOUND = Fixture(
    "docs.mangopay.com/errors/error-report — Error report (Type ressource_not_found), answered with a 404",
    {
        "Message": "The ressource does not exist",
        "Type": "ressource_not_found",
        "Id": "0b2d7e5c-5d0e-4a62-a1de-0f3c3f0c9c11",
        "Date": 1767225600.0,
        "errors": None,
    },
)
FIXTURES = [value for value in list(globals().values()) if isinstance(value, Fixture)]


@pytest.fixture(autouse=True)
def stage(stage_env, monkeypatch):
    monkeypatch.setenv("MANGOPAY_ESCROW_USER_ID", PLATFORM_USER)
    mangopay_client._handler.cache_clear()  # a new handler (and OAuth token) for each test
    yield
    mangopay_client._handler.cache_clear()


@pytest.fixture
def api():
    """Mangopay's sandbox, answered in this process; any request not registered fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post("https://api.sandbox.mangopay.com/v2.01/oauth/token", json=OAUTH_TOKEN.body)
        yield mock


@pytest.fixture
def psp():
    return MangopayEscrow(CREDENTIALS)


def sent(api, method: str, path: str) -> list[requests.PreparedRequest]:
    return [call.request for call in api.calls if call.request.method == method and call.request.url == API + path]


def body(request: requests.PreparedRequest) -> dict[str, Any]:
    return json.loads(request.body)


def test_every_fixture_names_the_documentation_page_it_follows():
    assert len(FIXTURES) >= 10
    assert all(fixture.page.startswith("docs.mangopay.com/") for fixture in FIXTURES)


def test_an_escrow_is_a_wallet_in_euros_owned_by_the_platform(api, psp):
    api.post(f"{API}/wallets", json=WALLET.body)

    assert psp.open_escrow("c0ffee", "Le rythme des maux") == "wlt_m_01ESCROW"
    (request,) = sent(api, "POST", "/wallets")
    assert body(request) == {
        "Owners": [PLATFORM_USER],
        "Description": "Séquestre de « Le rythme des maux »",
        "Currency": "EUR",
        "Tag": "c0ffee",
    }
    assert request.headers["Authorization"] == "Bearer 67b036bd007c40378d4be5a934f197e6"
    assert request.headers["Idempotency-Key"] == idempotency_key("wallet", "c0ffee")


def test_an_escrow_needs_the_platforms_user_at_mangopay(api, psp, monkeypatch):
    monkeypatch.setenv("MANGOPAY_ESCROW_USER_ID", "")
    with pytest.raises(ConfigurationError, match="MANGOPAY_ESCROW_USER_ID"):
        psp.open_escrow("c0ffee", "Le rythme des maux")
    assert not sent(api, "POST", "/wallets")


def test_a_contributor_becomes_a_natural_payer_once(api, psp):
    api.post(f"{API}/sca/users/natural", json=PAYER_USER.body)

    assert psp.register_payer(LEA._replace(user_id=None)) == "user_m_01LEA"
    assert psp.register_payer(LEA) == "user_m_01LEA"  # known: kept on the profile, no request
    (request,) = sent(api, "POST", "/sca/users/natural")
    assert body(request) == {
        "FirstName": "Léa",
        "LastName": "Martin",
        "Email": "lea@exemple.fr",
        "UserCategory": "PAYER",
        "TermsAndConditionsAccepted": False,
        "Tag": "sub-lea",
    }
    assert request.headers["Idempotency-Key"] == idempotency_key("user", "sub-lea")


@pytest.mark.parametrize(
    ("name", "first", "last"),
    [
        ("Jean de La Fontaine", "Jean", "de La Fontaine"),
        ("  Madonna ", "Madonna", "Madonna"),
        ("", "Contributeur", "Contributeur"),
    ],
)
def test_a_payers_one_name_gives_mangopay_a_first_and_a_last_name(api, psp, name, first, last):
    api.post(f"{API}/sca/users/natural", json=PAYER_USER.body)
    psp.register_payer(Payer("sub-x", name, "x@exemple.fr"))
    (request,) = sent(api, "POST", "/sca/users/natural")
    assert (body(request)["FirstName"], body(request)["LastName"]) == (first, last)


def test_a_web_card_payin_sends_the_payer_to_mangopays_page(api, psp):
    api.post(f"{API}/payins/card/web", json=WEB_PAYIN.body)

    payment = psp.start_payment("p-lea", "wlt_m_01ESCROW", 2_500, RETURN_URL, payer=LEA, campaign_id="c0ffee")

    assert payment == EscrowPayment(
        id="wt_01PAYIN",
        pledge_id="p-lea",
        campaign_id="c0ffee",
        contributor_id="sub-lea",
        escrow_id="wlt_m_01ESCROW",
        amount_cents=2_500,
        status="created",
        redirect_url=WEB_PAYIN.body["RedirectURL"],
        created_at="2026-01-01T00:00:00Z",
        payer_id="user_m_01LEA",
    )
    assert not payment.settled
    (request,) = sent(api, "POST", "/payins/card/web")
    assert body(request) == {
        "AuthorId": "user_m_01LEA",
        "CreditedWalletId": "wlt_m_01ESCROW",
        "DebitedFunds": {"Currency": "EUR", "Amount": 2_500},
        "Fees": {"Currency": "EUR", "Amount": 0},
        "ReturnURL": RETURN_URL,
        "CardType": "CB_VISA_MASTERCARD",
        "SecureMode": "DEFAULT",
        "Culture": "FR",
        "Tag": "p-lea c0ffee sub-lea",
    }


def test_a_payment_too_long_to_name_its_campaign_and_contributor_names_its_pledge():
    """A Tag holds 255 characters: a payment whose names would not fit carries its
    pledge's id only (its confirmation then reads the pledge first)."""
    from chalicelib.adapters.mangopay import _payment, _tag

    assert _tag("p-lea", "c0ffee", LEA._replace(contributor_id="x" * 250)) == "p-lea"
    assert _tag("p-lea", "", LEA) == "p-lea"
    named = _payment({**WEB_PAYIN.body, "Tag": "p-lea"})
    assert (named.pledge_id, named.campaign_id, named.contributor_id) == ("p-lea", "", "")


def test_a_payment_needs_its_payers_user_at_mangopay(api, psp):
    with pytest.raises(ValueError, match="register_payer"):
        psp.start_payment("p-lea", "wlt_m_01ESCROW", 2_500, RETURN_URL)
    with pytest.raises(ValueError, match="register_payer"):
        psp.start_payment("p-lea", "wlt_m_01ESCROW", 2_500, RETURN_URL, payer=LEA._replace(user_id=None))
    assert not api.calls


@pytest.mark.parametrize(
    ("fixture", "status", "executed_at", "result"),
    [
        (WEB_PAYIN, "created", None, ""),
        (WEB_PAYIN_SUCCEEDED, "succeeded", "2026-01-01T00:15:00Z", ""),
        (WEB_PAYIN_FAILED, "failed", None, "Transaction refused by the bank (Do not honor) (101101)"),
    ],
)
def test_a_payment_read_again_says_what_mangopay_says(api, psp, fixture, status, executed_at, result):
    api.get(f"{API}/payins/wt_01PAYIN", json=fixture.body)

    payment = psp.read_payment("wt_01PAYIN")

    assert (payment.status, payment.executed_at, payment.result) == (status, executed_at, result)
    assert (payment.id, payment.pledge_id, payment.amount_cents) == ("wt_01PAYIN", "p-lea", 2_500)
    assert payment.settled is (status != "created")


def test_a_payment_mangopay_does_not_have_or_that_is_no_web_card_payin_reads_as_none(api, psp):
    api.get(f"{API}/payins/inconnu", json=NOT_FOUND.body, status=404)
    api.get(f"{API}/payins/6784288", json=DIRECT_PAYIN.body)

    assert psp.read_payment("inconnu") is None
    assert psp.read_payment("6784288") is None


def test_each_post_carries_its_own_idempotency_key_from_the_platforms_reference(api, psp):
    api.post(f"{API}/wallets", json=WALLET.body)
    api.post(f"{API}/sca/users/natural", json=PAYER_USER.body)
    api.post(f"{API}/payins/card/web", json=WEB_PAYIN.body)
    api.get(f"{API}/payins/wt_01PAYIN", json=WEB_PAYIN_SUCCEEDED.body)
    api.post(f"{API}/payins/wt_01PAYIN/refunds", json=PAYIN_REFUND.body)
    api.post(f"{API}/transfers", json=TRANSFER.body)

    escrow_id = psp.open_escrow("c0ffee", "Le rythme des maux")
    user_id = psp.register_payer(LEA._replace(user_id=None))
    payment = psp.start_payment("p-lea", escrow_id, 2_500, RETURN_URL, payer=LEA._replace(user_id=user_id))
    psp.refund(payment)
    psp.release(escrow_id, 3_850, "c0ffee", payee_wallet_id="wlt_m_01PORTEUR")

    posts = [call.request for call in api.calls if call.request.method == "POST" and "/oauth/" not in call.request.url]
    keys = [request.headers["Idempotency-Key"] for request in posts]
    assert len(posts) == 5 and len(set(keys)) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9-]{16,36}", key) for key in keys)  # Mangopay's rule
    assert keys == [
        idempotency_key("wallet", "c0ffee"),
        idempotency_key("user", "sub-lea"),
        idempotency_key("payin", "p-lea"),
        idempotency_key("refund", "wt_01PAYIN"),
        idempotency_key("transfer", "c0ffee"),
    ]
    # The token request is the SDK's own, and no resource: it takes no key.
    assert [call.request.headers.get("Idempotency-Key") for call in api.calls if "/oauth/" in call.request.url] == [
        None
    ]


def test_the_credentials_are_named_after_the_stages_resources():
    """The names .chalice/policy-X.json lets the functions read (ssm:GetParameter)."""
    assert parameter_names("prod") == ("/oze-prod/mangopay/client-id", "/oze-prod/mangopay/api-key")


def test_the_same_reference_is_the_same_key_and_another_stage_another(monkeypatch):
    assert idempotency_key("payin", "p-lea") == idempotency_key("payin", "p-lea")
    assert idempotency_key("payin", "p-lea") != idempotency_key("payin", "p-hugo")
    assert idempotency_key("payin", "p-lea") != idempotency_key("refund", "p-lea")
    local = idempotency_key("payin", "p-lea")
    monkeypatch.setenv("STAGE", "dev")
    monkeypatch.delenv("DEV_JWT_SECRET")
    assert idempotency_key("payin", "p-lea") != local


def test_asked_again_mangopay_blocks_the_key_and_the_first_answer_is_read_back(api, psp):
    """Mangopay answers 409 to a key already used within 24 hours, and keeps the first
    response at /responses/{key}: the retry gets the same payment, and the same page."""
    key = idempotency_key("payin", "p-lea")
    api.post(f"{API}/payins/card/web", json=WEB_PAYIN.body)
    api.post(f"{API}/payins/card/web", json=IDEMPOTENCY_CONFLICT.body, status=409)
    api.get(f"{API}/responses/{key}", json=KEPT_RESPONSE.body)

    first = psp.start_payment("p-lea", "wlt_m_01ESCROW", 2_500, RETURN_URL, payer=LEA)
    again = psp.start_payment("p-lea", "wlt_m_01ESCROW", 2_500, RETURN_URL, payer=LEA)

    assert again == first
    assert [r.headers["Idempotency-Key"] for r in sent(api, "POST", "/payins/card/web")] == [key, key]


def test_a_first_answer_not_yet_kept_is_worth_a_retry(api, psp):
    key = idempotency_key("payin", "p-lea")
    api.post(f"{API}/payins/card/web", json=IDEMPOTENCY_CONFLICT.body, status=409)
    api.get(f"{API}/responses/{key}", json=PARAM_ERROR.body, status=400)

    with pytest.raises(ProviderError) as raised:
        psp.start_payment("p-lea", "wlt_m_01ESCROW", 2_500, RETURN_URL, payer=LEA)
    assert raised.value.retryable


def test_a_refund_gives_the_whole_payment_back_to_its_card(api, psp):
    api.get(f"{API}/payins/wt_01PAYIN", json=WEB_PAYIN_SUCCEEDED.body)
    api.post(f"{API}/payins/wt_01PAYIN/refunds", json=PAYIN_REFUND.body)
    payment = EscrowPayment("wt_01PAYIN", "p-lea", "wlt_m_01ESCROW", 2_500, "succeeded", "", "2026-01-01T00:00:00Z")

    refund = psp.refund(payment)

    assert refund == EscrowTransfer(
        "rf_01REFUND", "refund", "wlt_m_01ESCROW", 2_500, "succeeded", "2026-01-02T00:00:00Z", "wt_01PAYIN"
    )
    (request,) = sent(api, "POST", "/payins/wt_01PAYIN/refunds")
    assert body(request) == {"AuthorId": "user_m_01LEA", "Tag": "p-lea"}  # no amount: the whole payin


def test_a_payment_that_names_its_payer_is_refunded_in_one_call(api, psp):
    """Settlement refunds a paid pledge as recorded (payer and escrow kept when it was
    paid): one POST, no read, which counts at Mangopay's rate limits."""
    api.post(f"{API}/payins/wt_01PAYIN/refunds", json=PAYIN_REFUND.body)
    payment = EscrowPayment(
        "wt_01PAYIN", "p-lea", "wlt_m_01ESCROW", 2_500, "succeeded", "", "2026-01-01T00:00:00Z", payer_id="user_m_01LEA"
    )

    refund = psp.refund(payment)

    assert (refund.id, refund.status) == ("rf_01REFUND", "succeeded")
    assert [(c.request.method, c.request.url) for c in api.calls if "/payins/" in c.request.url] == [
        ("POST", f"{API}/payins/wt_01PAYIN/refunds")
    ]
    assert body(api.calls[-1].request) == {"AuthorId": "user_m_01LEA", "Tag": "p-lea"}


@pytest.mark.parametrize(("fixture", "status"), [(WEB_PAYIN, "CREATED"), (WEB_PAYIN_FAILED, "FAILED")])
def test_a_payment_that_did_not_succeed_is_never_refunded(api, psp, fixture, status):
    api.get(f"{API}/payins/wt_01PAYIN", json=fixture.body)
    payment = psp.read_payment("wt_01PAYIN")

    refund = psp.refund(payment)

    assert (refund.kind, refund.status, refund.payment_id) == ("refund", "failed", "wt_01PAYIN")
    assert refund.result == f"paiement non remboursable ({status})"
    assert not sent(api, "POST", "/payins/wt_01PAYIN/refunds")


def test_a_refused_refund_says_why_and_an_outage_is_worth_a_retry(api, psp):
    payment = EscrowPayment("wt_01PAYIN", "p-lea", "wlt_m_01ESCROW", 2_500, "succeeded", "", "2026-01-01T00:00:00Z")
    api.get(f"{API}/payins/wt_01PAYIN", json=WEB_PAYIN_SUCCEEDED.body)
    api.post(f"{API}/payins/wt_01PAYIN/refunds", json=PARAM_ERROR.body, status=400)
    api.post(f"{API}/payins/wt_01PAYIN/refunds", body="Service Unavailable", status=503)
    api.post(f"{API}/payins/wt_01PAYIN/refunds", body=requests.ConnectionError("connection reset"))

    refused = psp.refund(payment)
    assert (refused.status, refused.id) == ("failed", idempotency_key("refund", "wt_01PAYIN"))
    assert refused.result.startswith("Mangopay 400: One or several required parameters are missing")
    for _ in ("503", "unreachable"):
        with pytest.raises(ProviderError) as raised:
            psp.refund(payment)
        assert raised.value.retryable


def test_a_release_is_a_transfer_from_the_escrow_to_the_owners_wallet(api, psp):
    api.post(f"{API}/transfers", json=TRANSFER.body)

    released = psp.release("wlt_m_01ESCROW", 3_850, "c0ffee", payee_wallet_id="wlt_m_01PORTEUR")

    assert released == EscrowTransfer(
        "tr_01RELEASE", "transfer", "wlt_m_01ESCROW", 3_850, "succeeded", "2026-02-01T00:00:00Z"
    )
    (request,) = sent(api, "POST", "/transfers")
    assert body(request) == {
        "AuthorId": PLATFORM_USER,
        "DebitedWalletId": "wlt_m_01ESCROW",
        "CreditedWalletId": "wlt_m_01PORTEUR",
        "DebitedFunds": {"Currency": "EUR", "Amount": 3_850},
        "Fees": {"Currency": "EUR", "Amount": 0},
        "Tag": "c0ffee",
    }


def test_a_release_keeps_the_platforms_commission_as_the_transfers_fees(api, psp):
    """The owner's wallet is credited the rest; the Fees go to the platform's Fees Wallet."""
    api.post(f"{API}/transfers", json=TRANSFER_WITH_FEES.body)

    released = psp.release("wlt_m_01ESCROW", 3_850, "c0ffee", payee_wallet_id="wlt_m_01PORTEUR", commission_cents=385)

    assert (released.id, released.status, released.amount_cents) == ("tr_01RELEASE", "succeeded", 3_850)
    (request,) = sent(api, "POST", "/transfers")
    assert body(request)["DebitedFunds"] == {"Currency": "EUR", "Amount": 3_850}
    assert body(request)["Fees"] == {"Currency": "EUR", "Amount": 385}
    assert "ScaContext" not in body(request)  # the escrow's owner is the platform's user, no OWNER
    with pytest.raises(ValueError, match="commission"):
        psp.release("wlt_m_01ESCROW", 3_850, "c0ffee", payee_wallet_id="wlt_m_01PORTEUR", commission_cents=3_851)


def test_a_release_the_escrow_cannot_cover_fails_as_mangopay_says(api, psp):
    api.post(f"{API}/transfers", json=TRANSFER_FAILED.body)

    too_much = psp.release("wlt_m_01ESCROW", 10_000, "campagne-trop", payee_wallet_id="wlt_m_01PORTEUR")

    assert (too_much.status, too_much.amount_cents) == ("failed", 10_000)
    assert too_much.result == "Unsufficient wallet balance (001001)"


def test_a_release_needs_the_owners_wallet(api, psp):
    with pytest.raises(ValueError, match="payee_wallet_id"):
        psp.release("wlt_m_01ESCROW", 3_850, "c0ffee")
    assert not api.calls


def test_the_escrow_balance_is_the_wallets(api, psp):
    api.get(f"{API}/wallets/wlt_m_01ESCROW", json={**WALLET.body, "Balance": money(3_850)})
    api.get(f"{API}/wallets/wlt_m_inconnu", json=NOT_FOUND.body, status=404)

    assert psp.escrow_balance("wlt_m_01ESCROW") == 3_850
    assert psp.escrow_balance("wlt_m_inconnu") == 0


def test_the_escrows_transactions_are_what_moved_oldest_first_every_page(api, psp, monkeypatch):
    monkeypatch.setattr(mangopay, "PAGE_SIZE", 2)
    path = f"{API}/wallets/wlt_m_01ESCROW/transactions"
    query = {"Status": "SUCCEEDED", "Sort": "CreationDate:ASC", "per_page": "2"}
    payin, refund, transfer = WALLET_TRANSACTIONS.body
    api.get(path, json=[payin, refund], match=[matchers.query_param_matcher({**query, "page": "1"})])
    api.get(path, json=[transfer], match=[matchers.query_param_matcher({**query, "page": "2"})])

    assert psp.escrow_transactions("wlt_m_01ESCROW") == [
        EscrowTransfer(
            "wt_01PAYIN", "payin", "wlt_m_01ESCROW", 2_500, "succeeded", "2026-01-01T00:00:00Z", "wt_01PAYIN"
        ),
        EscrowTransfer("rf_01REFUND", "refund", "wlt_m_01ESCROW", 2_500, "succeeded", "2026-01-02T00:00:00Z"),
        EscrowTransfer("tr_01RELEASE", "transfer", "wlt_m_01ESCROW", 3_850, "succeeded", "2026-02-01T00:00:00Z"),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"EventType": "PAYIN_NORMAL_SUCCEEDED", "RessourceId": "wt_01PAYIN", "Date": "1767226500"},
            ("payment", "wt_01PAYIN"),
        ),
        (
            {"EventType": "PAYIN_NORMAL_FAILED", "RessourceId": "wt_01PAYIN", "Date": "1767226500"},
            ("payment", "wt_01PAYIN"),
        ),
        ({"EventType": "PAYIN_REFUND_SUCCEEDED", "RessourceId": "rf_01REFUND"}, ("refund", "rf_01REFUND")),
        ({"EventType": "TRANSFER_NORMAL_FAILED", "RessourceId": "tr_01RELEASE"}, ("transfer", "tr_01RELEASE")),
        ({"EventType": "IDENTITY_VERIFICATION_FAILED", "RessourceId": "idnver_01"}, ("verification", "idnver_01")),
        ({"EventType": "RECIPIENT_ACTIVE", "RessourceId": "rec_01"}, ("bank_account", "rec_01")),
        ({"EventType": "PAYOUT_NORMAL_FAILED", "RessourceId": "po_m_01"}, ("payout", "po_m_01")),
        ({"EventType": "KYC_SUCCEEDED", "RessourceId": "kyc-1"}, None),  # not an event of this port
        ({"EventType": "PAYIN_NORMAL_SUCCEEDED", "RessourceId": "wt_01PAYIN\r\nSet-Cookie: x"}, None),
        ({"RessourceId": "wt_01PAYIN"}, None),
    ],
)
def test_a_notification_is_unsigned_and_only_names_what_to_read_again(api, psp, params, expected):
    assert psp.notification(params) == (Notification(*expected) if expected else None)
    assert not api.calls  # reading the resource again is the caller's next step


def test_mangopay_is_the_ports_mangopay_provider(monkeypatch):
    monkeypatch.setenv("PAYMENT_PROVIDER", "mangopay")
    assert isinstance(escrow.provider(), MangopayEscrow)


def test_the_app_starts_without_the_sdk():
    """Cold start: neither the SDK, nor requests, nor Powertools' parameters load with the
    app or the port; they load with the first Mangopay call."""
    code = (
        "import sys, app, chalicelib.escrow; "
        "heavy = ('mangopay', 'requests', 'simplejson', 'pytz', 'aws_lambda_powertools.utilities.parameters'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    answer = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"
