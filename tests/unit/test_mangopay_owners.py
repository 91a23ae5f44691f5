"""The owners' side of the escrow port at Mangopay (chalicelib/adapters/mangopay_owners.py),
without network, as tests/unit/test_mangopay.py does it: the SDK's HTTP answered by
`responses` with the objects Mangopay documents. Each fixture names its documentation page
(docs.mangopay.com); no SDK test mocks these objects (they run against the sandbox), so the
documented examples are followed field for field, with our values.
"""

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from chalicelib import clock
from chalicelib.adapters.mangopay_client import idempotency_key
from chalicelib.escrow import Address, Owner, ProviderError
from chalicelib.records import BankAccount, EscrowTransfer, Verification
from tests.unit import test_mangopay as payer_side
from tests.unit.test_mangopay import API, NOT_FOUND, Fixture, body, money, sent

stage, api, psp = payer_side.stage, payer_side.api, payer_side.psp  # its fixtures: the same sandbox, here

BACK = "http://localhost:3000/compte/versements"
OWNER_ID = "sub-hugo"
USER = "user_m_01HUGO"
WALLET_ID = "wlt_m_01HUGO"
IBAN = "FR7630006000011234567890189"
HUGO = Owner(
    OWNER_ID,
    "natural",
    "Hugo",
    "Lefèvre",
    "hugo@exemple.fr",
    "1990-05-17",
    "FR",
    "FR",
    Address("12 rue des Lilas", "29200", "Brest", "FR"),
)
ASSO = HUGO._replace(kind="legal", legal_name="Les Amis du Rythme", legal_form="association", rna="W293000123")
ADDRESS = {"AddressLine1": "12 rue des Lilas", "City": "Brest", "PostalCode": "29200", "Country": "FR"}
PERSON = {
    "FirstName": "Hugo",
    "LastName": "Lefèvre",
    "Birthday": 642902400,  # 1990-05-17T00:00:00Z
    "Nationality": "FR",
    "CountryOfResidence": "FR",
    "Email": "hugo@exemple.fr",
}
SCA_PAGE = "https://sca.sandbox.mangopay.com/?token=0193ceab0948799a9af9726fb852fb98"

NATURAL_OWNER = Fixture(
    'docs.mangopay.com/api-reference/users/create-natural-user-sca — Create a Natural User (SCA), its "REST - Owner" '
    "response",
    {
        **PERSON,
        "Occupation": None,
        "IncomeRange": None,
        "ProofOfIdentity": None,
        "ProofOfAddress": None,
        "Capacity": "NORMAL",
        "PhoneNumber": None,
        "PhoneNumberCountry": None,
        "Address": {**ADDRESS, "AddressLine2": None, "Region": None},
        "PendingUserAction": {"RedirectUrl": SCA_PAGE},
        "Id": USER,
        "Tag": OWNER_ID,
        "CreationDate": 1767225600,
        "PersonType": "NATURAL",
        "KYCLevel": "LIGHT",
        "TermsAndConditionsAccepted": True,
        "TermsAndConditionsAcceptedDate": None,
        "UserCategory": "OWNER",
        "UserStatus": "PENDING_USER_ACTION",
    },
)
PENDING_OWNER = Fixture(
    'docs.mangopay.com/api-reference/users/view-user-sca — View a User (SCA), "Natural Owner pending SCA"',
    {**NATURAL_OWNER.body, "PendingUserAction": None},
)
ENROLLED_OWNER = Fixture(
    PENDING_OWNER.page + ", ACTIVE once enrolled (docs.mangopay.com/guides/sca/users, User status)",
    {**PENDING_OWNER.body, "UserStatus": "ACTIVE"},
)
LEGAL_OWNER = Fixture(
    'docs.mangopay.com/api-reference/users/create-legal-user-sca — Create a Legal User (SCA), its "REST - Owner" '
    "response (here an ORGANIZATION, as View a User (SCA) gives it)",
    {
        "Name": "Les Amis du Rythme",
        "LegalPersonType": "ORGANIZATION",
        "LegalRepresentative": {**PERSON, "ProofOfIdentity": None, "PhoneNumber": None, "PhoneNumberCountry": None},
        "ProofOfRegistration": None,
        "ShareholderDeclaration": None,
        "Statute": None,
        "CompanyNumber": None,
        "PendingUserAction": None,
        "HeadquartersAddress": {**ADDRESS, "AddressLine2": None, "Region": None},
        "LegalRepresentativeAddress": None,
        "Id": "user_m_01ASSO",
        "Tag": OWNER_ID,
        "CreationDate": 1767225600,
        "PersonType": "LEGAL",
        "Email": "hugo@exemple.fr",
        "KYCLevel": "LIGHT",
        "TermsAndConditionsAccepted": True,
        "TermsAndConditionsAcceptedDate": 1767225600,
        "UserCategory": "OWNER",
        "UserStatus": "ACTIVE",
    },
)
OWNER_WALLET = Fixture(
    "docs.mangopay.com/api-reference/wallets/create-wallet — Create a Wallet, its response",
    {
        "Description": f"Porteur {OWNER_ID}",
        "Owners": [USER],
        "Id": WALLET_ID,
        "Balance": money(0),
        "Currency": "EUR",
        "FundsType": "DEFAULT",
        "Tag": OWNER_ID,
        "CreationDate": 1767225600,
    },
)
SCA_ENROLLMENT = Fixture(
    "docs.mangopay.com/api-reference/users/enroll-user — Enroll a User in SCA, its 200 response",
    {"PendingUserAction": {"RedirectUrl": "https://sca.sandbox.mangopay.com/?token=0193cf51ed367151a0cb1c59def21e13"}},
)
HOSTED = (
    "https://user-verification.sandbox.mangopay.com/66ebfacebd780d434e8e6a9d?sessionId=677e75212400002f00a6edd0"
    f"&redirectURL={quote(BACK, safe='')}"
)
IDV_SESSION = Fixture(
    "docs.mangopay.com/api-reference/idv-sessions/create-idv-session — Create an IDV Session, its 200 response",
    {
        "Id": "idnver_01HUGO",
        "Tag": None,
        "CreationDate": 1767225600,
        "HostedUrl": HOSTED,
        "Status": "PENDING",
        "ReturnUrl": BACK,
    },
)
IDV_VALIDATED = Fixture(
    'docs.mangopay.com/api-reference/idv-sessions/view-idv-session — View an IDV Session, "Natural VALIDATED"',
    {
        **IDV_SESSION.body,
        "Status": "VALIDATED",
        "UserId": USER,
        "LastUpdate": 1767226000,
        "Checks": [
            {
                "CheckId": f"idnchc_01HUGO{n}",
                "Type": check,
                "CheckStatus": "VALIDATED",
                "Reasons": [],
                "CreationDate": 1767226000,
                "LastUpdate": 1767226000,
                "Data": [],
            }
            for n, check in enumerate(("IDENTITY_DOCUMENT_VERIFICATION", "IDV_NAME_MATCH_CHECK", "IDV_AGE_CHECK"))
        ],
    },
)
IDV_REFUSED = Fixture(
    'docs.mangopay.com/api-reference/idv-sessions/view-idv-session — View an IDV Session, "Natural REFUSED - Name '
    'mismatch"',
    {
        **IDV_VALIDATED.body,
        "Status": "REFUSED",
        "Checks": [
            IDV_VALIDATED.body["Checks"][0],
            {
                **IDV_VALIDATED.body["Checks"][1],
                "CheckStatus": "REFUSED",
                "Reasons": [{"Type": "DOCUMENT_NOT_ACCEPTED", "Value": "ID name mismatch with declared user data"}],
            },
            IDV_VALIDATED.body["Checks"][2],
        ],
    },
)
IDV_NOT_ACTIVATED = Fixture(
    "docs.mangopay.com/api-reference/idv-sessions/create-idv-session — its 403, the feature not activated",
    {
        "type": "https://tools.ietf.org/html/rfc7231#section-6.5.3",
        "title": "Forbidden",
        "status": 403,
        "traceId": "00-7e1c0c5e0e6f4b6c9d1f1a2b3c4d5e6f-0a1b2c3d4e5f6a7b-00",
    },
)
RECIPIENT = Fixture(
    'docs.mangopay.com/api-reference/recipients/create-recipient — Create a Recipient, "VOP: EUR, local, '
    'individual, PAYOUT"',
    {
        "Id": "rec_01HUGO",
        "Status": "PENDING",
        "CreationDate": 1767225600,
        "DisplayName": "IBAN FR 0189 Hugo Lefèvre",
        "PayoutMethodType": "LocalBankTransfer",
        "RecipientType": "Individual",
        "Currency": "EUR",
        "Country": "FR",
        "UserId": USER,
        "RecipientScope": "PAYOUT",
        "Tag": None,
        "IndividualRecipient": {"FirstName": "Hugo", "LastName": "Lefèvre", "Address": ADDRESS},
        "LocalBankTransfer": {"EUR": {"IBAN": IBAN, "BIC": "CEPAFRPP000"}},
        "PendingUserAction": {"RedirectUrl": "https://sca.sandbox.mangopay.com/?token=sca_01999a290f06700b992580d3"},
        "RecipientVerificationOfPayee": {
            "RecipientVerificationId": "46fa0ccc-6cb0-4874-95ba-9edbc6cf7904",
            "RecipientVerificationCheck": "MATCH",
            "RecipientVerificationMessage": "Account name fully matches account identifier.",
        },
    },
)
RECIPIENT_ACTIVE = Fixture(
    'docs.mangopay.com/api-reference/recipients/view-recipient — View a Recipient, "VOP: ACTIVE, EUR, local, '
    'PAYOUT" (no PendingUserAction)',
    {key: value for key, value in RECIPIENT.body.items() if key != "PendingUserAction"} | {"Status": "ACTIVE"},
)
RECIPIENT_REFUSED = Fixture(
    "docs.mangopay.com/api-reference/recipients/create-recipient — its 400 Parameter errors (Errors, INVALID_IBAN)",
    {
        "Id": "a1f3db88-9df5-49a8-b73c-d578ffff6e89",
        "Message": "One or several required parameters are missing or incorrect. "
        "An incorrect resource ID also raises this kind of error.",
        "Type": "param_error",
        "Date": 1739182373,
        "Errors": {"LocalBankTransfer.EUR.IBAN": "INVALID_IBAN"},
    },
)
PAYOUT = Fixture(
    "docs.mangopay.com/api-reference/payouts/create-payout — Create a Payout, its response (RecipientId: "
    "docs.mangopay.com/release-notes/api/2026-01-27)",
    {
        "Id": "po_m_01HUGO",
        "Tag": "c0ffee",
        "CreationDate": 1769904000,
        "AuthorId": USER,
        "CreditedUserId": None,
        "DebitedFunds": money(3_500),
        "CreditedFunds": money(3_500),
        "Fees": money(0),
        "Status": "CREATED",
        "ResultCode": None,
        "ResultMessage": None,
        "ExecutionDate": None,
        "Type": "PAYOUT",
        "Nature": "REGULAR",
        "CreditedWalletId": None,
        "DebitedWalletId": WALLET_ID,
        "PaymentType": "BANK_WIRE",
        "BankAccountId": None,
        "BankWireRef": "OZEC0FFEE",
        "ModeRequested": None,
        "ModeApplied": "PENDING_RESPONSE",
        "FallbackReason": None,
        "EndToEndId": "2c2184396eef4e5da90ab48a2feeb51d",
        "PaymentRef": None,
        "RecipientVerificationOfPayee": None,
        "RecipientId": "rec_01HUGO",
    },
)
PAYOUT_SUCCEEDED = Fixture(
    "docs.mangopay.com/api-reference/payouts/view-payout — View a Payout, SUCCEEDED",
    {**PAYOUT.body, "Status": "SUCCEEDED", "ResultCode": "000000", "ResultMessage": "Success"}
    | {"ExecutionDate": 1769990400},
)
PAYOUT_FAILED = Fixture(
    "docs.mangopay.com/errors/codes/002998 — its example FAILED payout (the owner is not verified)",
    {
        **PAYOUT.body,
        "Status": "FAILED",
        "ResultCode": "002998",
        "ResultMessage": "Blocked due to the Bank Account User's KYC limitations "
        "(maximum debited or credited amount reached)",
    },
)
RECIPIENT_NOT_ACTIVE = Fixture(
    "docs.mangopay.com/guides/sca/recipients — How to initiate a payout: the 400 for a PENDING or CANCELED recipient",
    {
        "Id": "0602decd-c7e4-4870-a103-1ac242b23467#1739868259",
        "Message": "One or several required parameters are missing or incorrect. "
        "An incorrect resource ID also raises this kind of error.",
        "Type": "param_error",
        "Date": 1739868260,
        "errors": {"BankAccountId": "The value rec_01HUGO is not valid"},
    },
)
FIXTURES = [value for value in list(globals().values()) if isinstance(value, Fixture)]


@pytest.fixture
def now(monkeypatch):
    """The platform's clock, set: a key that depends on the time is known."""
    moment = [datetime(2026, 2, 1, 10, 0, 30, tzinfo=UTC)]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    return moment


def window(moment: datetime) -> str:
    return str(int(moment.timestamp()) // 600)


def test_every_fixture_names_the_documentation_page_it_follows():
    assert len(FIXTURES) >= 15
    assert all(fixture.page.startswith("docs.mangopay.com/") for fixture in FIXTURES)


# --- owners ---------------------------------------------------------------------------


def test_a_natural_owner_is_an_sca_owner_with_a_wallet_in_euros(api, psp):
    api.post(f"{API}/sca/users/natural", json=NATURAL_OWNER.body)
    api.post(f"{API}/wallets", json=OWNER_WALLET.body)

    assert psp.register_owner(HUGO) == (USER, WALLET_ID)

    (user,) = sent(api, "POST", "/sca/users/natural")
    assert body(user) == {
        **PERSON,
        "Address": ADDRESS,  # no empty AddressLine2
        "UserCategory": "OWNER",
        "TermsAndConditionsAccepted": True,
        "Tag": OWNER_ID,
    }
    (wallet,) = sent(api, "POST", "/wallets")
    assert body(wallet) == {"Owners": [USER], "Description": f"Porteur {OWNER_ID}", "Currency": "EUR", "Tag": OWNER_ID}
    assert [user.headers["Idempotency-Key"], wallet.headers["Idempotency-Key"]] == [
        idempotency_key("owner", OWNER_ID),
        idempotency_key("wallet", "owner", OWNER_ID),
    ]


@pytest.mark.parametrize(
    ("form", "siren", "legal_type", "company_number"),
    [
        ("association", "", "ORGANIZATION", None),  # its RNA is no company number at Mangopay
        ("association", "775671356", "ORGANIZATION", "775671356"),
        ("business", "552100554", "BUSINESS", "552100554"),
        ("other", "", "ORGANIZATION", None),
    ],
)
def test_a_legal_owner_is_an_entity_its_person_represents(api, psp, form, siren, legal_type, company_number):
    api.post(f"{API}/sca/users/legal", json=LEGAL_OWNER.body)
    api.post(f"{API}/wallets", json={**OWNER_WALLET.body, "Owners": ["user_m_01ASSO"]})

    assert psp.register_owner(ASSO._replace(legal_form=form, siren=siren)) == ("user_m_01ASSO", WALLET_ID)

    (request,) = sent(api, "POST", "/sca/users/legal")
    assert body(request) == {
        "Name": "Les Amis du Rythme",
        "LegalPersonType": legal_type,
        "LegalRepresentative": PERSON,
        "HeadquartersAddress": ADDRESS,
        "Email": "hugo@exemple.fr",
        "UserCategory": "OWNER",
        "TermsAndConditionsAccepted": True,
        "Tag": OWNER_ID,
    } | ({"CompanyNumber": company_number} if company_number else {})


def test_a_legal_owner_of_no_known_form_is_not_sent(api, psp):
    with pytest.raises(ValueError, match="legal owner's form"):
        psp.register_owner(ASSO._replace(legal_form="syndicat"))
    assert not api.calls


# --- identity verification ------------------------------------------------------------


def test_a_verification_is_mangopays_hosted_page(api, psp):
    api.post(f"{API}/users/{USER}/identity-verifications", json=IDV_SESSION.body)
    api.get(f"{API}/sca/users/{USER}", json=ENROLLED_OWNER.body)

    verification = psp.start_verification(USER, BACK, 2)

    assert verification == Verification("idnver_01HUGO", USER, "pending", HOSTED)
    (request,) = sent(api, "POST", f"/users/{USER}/identity-verifications")
    assert body(request) == {"ReturnUrl": BACK}
    assert request.headers["Idempotency-Key"] == idempotency_key("idv", USER, "2")
    assert not sent(api, "POST", f"/sca/users/{USER}/enrollment")


def test_an_owner_not_enrolled_in_sca_enrolls_on_the_way_to_the_hosted_page(api, psp, now):
    """Enrollment first (a new SCA page: the one given with the account may have expired),
    whose returnUrl is the verification's page, whose own is the platform's."""
    api.post(f"{API}/users/{USER}/identity-verifications", json=IDV_SESSION.body)
    api.get(f"{API}/sca/users/{USER}", json=PENDING_OWNER.body)
    api.post(f"{API}/sca/users/{USER}/enrollment", json=SCA_ENROLLMENT.body)

    verification = psp.start_verification(USER, BACK, 1)

    page = SCA_ENROLLMENT.body["PendingUserAction"]["RedirectUrl"]
    assert verification.url == f"{page}&returnUrl={quote(HOSTED, safe='')}"
    assert (verification.id, verification.status) == ("idnver_01HUGO", "pending")
    (request,) = sent(api, "POST", f"/sca/users/{USER}/enrollment")
    assert request.headers["Idempotency-Key"] == idempotency_key("enrollment", USER, window(now[0]))


def test_a_platform_without_hosted_verification_is_told_so(api, psp):
    api.post(f"{API}/users/{USER}/identity-verifications", json=IDV_NOT_ACTIVATED.body, status=403)

    with pytest.raises(ProviderError, match="not activated for this platform") as raised:
        psp.start_verification(USER, BACK, 1)
    assert not raised.value.retryable


def test_a_return_url_longer_than_mangopay_takes_is_not_sent(api, psp):
    with pytest.raises(ProviderError, match="500 characters") as raised:
        psp.start_verification(USER, BACK + "?" + "x" * 500, 1)
    assert not raised.value.retryable and not api.calls


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        (IDV_VALIDATED.body, "verified", ""),
        (
            IDV_REFUSED.body,
            "refused",
            "ID name mismatch with declared user data (IDV_NAME_MATCH_CHECK, DOCUMENT_NOT_ACCEPTED)",
        ),
        ({**IDV_VALIDATED.body, "Status": "OUT_OF_DATE"}, "refused", "vérification refusée par Mangopay (OUT_OF_DATE)"),
        ({**IDV_SESSION.body, "Status": "REVIEW", "UserId": USER}, "pending", ""),
    ],
)
def test_a_verification_read_again_says_what_mangopay_says(api, psp, answer, status, reason):
    api.get(f"{API}/identity-verifications/idnver_01HUGO", json=answer)
    api.get(f"{API}/identity-verifications/inconnue", json=NOT_FOUND.body, status=404)

    assert psp.read_verification("idnver_01HUGO") == Verification("idnver_01HUGO", USER, status, HOSTED, reason)
    assert psp.read_verification("inconnue") is None


# --- bank accounts --------------------------------------------------------------------


def test_a_bank_account_is_a_recipient_the_owner_confirms_on_mangopays_page(api, psp, now):
    api.get(f"{API}/sca/users/{USER}", json=ENROLLED_OWNER.body)
    api.post(f"{API}/users/{USER}/recipients", json=RECIPIENT.body)

    account = psp.register_bank_account(USER, IBAN, "Hugo Lefèvre", BACK)

    page = RECIPIENT.body["PendingUserAction"]["RedirectUrl"]
    assert account == BankAccount("rec_01HUGO", USER, "pending", "0189", f"{page}&returnUrl={quote(BACK, safe='')}")
    (request,) = sent(api, "POST", f"/users/{USER}/recipients")
    assert body(request) == {
        "DisplayName": "IBAN FR 0189 Hugo Lefèvre",
        "PayoutMethodType": "LocalBankTransfer",
        "RecipientType": "Individual",
        "Currency": "EUR",
        "Country": "FR",
        "RecipientScope": "PAYOUT",
        "IndividualRecipient": {"FirstName": "Hugo", "LastName": "Lefèvre", "Address": ADDRESS},
        "LocalBankTransfer": {"EUR": {"IBAN": IBAN}},
    }
    assert request.headers["Idempotency-Key"] == idempotency_key(
        "recipient", USER, IBAN, "Hugo Lefèvre", window(now[0])
    )


def test_a_legal_owners_bank_account_is_its_business_at_its_headquarters(api, psp):
    api.get(f"{API}/sca/users/user_m_01ASSO", json=LEGAL_OWNER.body)
    api.post(f"{API}/users/user_m_01ASSO/recipients", json={**RECIPIENT_ACTIVE.body, "RecipientType": "Business"})

    account = psp.register_bank_account("user_m_01ASSO", IBAN, "Les Amis du Rythme (Brest)", BACK)

    assert (account.status, account.url, account.last4) == ("active", "", "0189")  # no SCA page asked
    (request,) = sent(api, "POST", "/users/user_m_01ASSO/recipients")
    assert body(request)["RecipientType"] == "Business"
    assert body(request)["BusinessRecipient"] == {"BusinessName": "Les Amis du Rythme Brest", "Address": ADDRESS}


def test_an_iban_mangopay_refuses_says_why(api, psp):
    api.get(f"{API}/sca/users/{USER}", json=ENROLLED_OWNER.body)
    api.post(f"{API}/users/{USER}/recipients", json=RECIPIENT_REFUSED.body, status=400)

    with pytest.raises(ProviderError, match="LocalBankTransfer.EUR.IBAN: INVALID_IBAN") as raised:
        psp.register_bank_account(USER, IBAN, "Hugo Lefèvre", BACK)
    assert not raised.value.retryable


def test_a_recipients_key_lasts_as_long_as_an_sca_page(api, psp, now):
    """A retry within an SCA page's 10 minutes is the same Recipient; one later (the page
    expired, or was failed: CANCELED) must be a new one, which Mangopay asks for."""
    api.get(f"{API}/sca/users/{USER}", json=ENROLLED_OWNER.body)
    api.post(f"{API}/users/{USER}/recipients", json=RECIPIENT.body)

    psp.register_bank_account(USER, IBAN, "Hugo Lefèvre", BACK)
    now[0] = now[0].replace(minute=9, second=59)
    psp.register_bank_account(USER, IBAN, "Hugo Lefèvre", BACK)
    now[0] = now[0].replace(minute=10, second=0)
    psp.register_bank_account(USER, IBAN, "Hugo Lefèvre", BACK)

    first, again, later = (r.headers["Idempotency-Key"] for r in sent(api, "POST", f"/users/{USER}/recipients"))
    assert first == again != later


@pytest.mark.parametrize(
    ("answer", "status", "reason"),
    [
        (RECIPIENT_ACTIVE.body, "active", ""),
        ({**RECIPIENT_ACTIVE.body, "Status": "CANCELED"}, "refused", "(CANCELED)"),
        ({**RECIPIENT_ACTIVE.body, "Status": "DEACTIVATED"}, "refused", "(DEACTIVATED)"),
        (
            RECIPIENT_ACTIVE.body
            | {
                "RecipientVerificationOfPayee": {
                    "RecipientVerificationCheck": "NO_MATCH",
                    "RecipientVerificationMessage": "Account name does not match account identifier.",
                }
            },
            "active",
            "Account name does not match",
        ),
    ],
)
def test_a_bank_account_read_again_says_what_mangopay_says(api, psp, answer, status, reason):
    api.get(f"{API}/recipients/rec_01HUGO", json=answer)
    api.get(f"{API}/recipients/inconnu", json=NOT_FOUND.body, status=404)

    account = psp.read_bank_account("rec_01HUGO")

    assert (account.id, account.user_id, account.status, account.last4, account.url) == (
        "rec_01HUGO",
        USER,
        status,
        "0189",
        "",
    )
    assert reason in account.reason and bool(account.reason) is bool(reason)
    assert psp.read_bank_account("inconnu") is None


# --- payouts --------------------------------------------------------------------------


def test_a_payout_is_a_bank_wire_from_the_owners_wallet_to_their_recipient(api, psp):
    api.post(f"{API}/payouts/bankwire", json=PAYOUT.body)

    payout = psp.pay_out(USER, WALLET_ID, "rec_01HUGO", 3_500, "c0ffee-versement")

    assert payout == EscrowTransfer("po_m_01HUGO", "payout", WALLET_ID, 3_500, "created", "2026-02-01T00:00:00Z")
    (request,) = sent(api, "POST", "/payouts/bankwire")
    assert body(request) == {
        "AuthorId": USER,
        "DebitedWalletId": WALLET_ID,
        "DebitedFunds": {"Currency": "EUR", "Amount": 3_500},
        "Fees": {"Currency": "EUR", "Amount": 0},
        "RecipientId": "rec_01HUGO",
        "BankWireRef": "OZEC0FFEEVER",  # 12 characters at most, as Mangopay recommends
        "Tag": "c0ffee-versement",
    }
    assert request.headers["Idempotency-Key"] == idempotency_key("payout", "c0ffee-versement")


def test_a_payout_mangopay_refuses_says_why_and_an_outage_is_worth_a_retry(api, psp):
    api.post(f"{API}/payouts/bankwire", json=RECIPIENT_NOT_ACTIVE.body, status=400)
    api.post(f"{API}/payouts/bankwire", json=PAYOUT_FAILED.body)
    api.post(f"{API}/payouts/bankwire", body="Service Unavailable", status=503)

    at_once = psp.pay_out(USER, WALLET_ID, "rec_01HUGO", 3_500, "c0ffee")
    assert (at_once.id, at_once.status) == (idempotency_key("payout", "c0ffee"), "failed")
    assert at_once.result.endswith("BankAccountId: The value rec_01HUGO is not valid")
    later = psp.pay_out(USER, WALLET_ID, "rec_01HUGO", 3_500, "c0ffee")
    assert (later.id, later.status) == ("po_m_01HUGO", "failed")
    assert later.result == f"{PAYOUT_FAILED.body['ResultMessage']} (002998)"
    with pytest.raises(ProviderError) as raised:
        psp.pay_out(USER, WALLET_ID, "rec_01HUGO", 3_500, "c0ffee")
    assert raised.value.retryable


def test_a_payout_read_again_says_what_mangopay_says(api, psp):
    api.get(f"{API}/payouts/po_m_01HUGO", json=PAYOUT_SUCCEEDED.body)
    api.get(f"{API}/payouts/inconnu", json=NOT_FOUND.body, status=404)

    assert psp.read_payout("po_m_01HUGO") == EscrowTransfer(
        "po_m_01HUGO", "payout", WALLET_ID, 3_500, "succeeded", "2026-02-01T00:00:00Z"
    )
    assert psp.read_payout("inconnu") is None


PAYOUT_RETURN = Fixture(
    'docs.mangopay.com/api-reference/refunds/view-refund — the documented "Payout return" Refund',
    {
        "Id": "refund_m_01HUGO",
        "Tag": None,
        "CreationDate": 1770076800,  # 2026-02-03
        "AuthorId": USER,
        "CreditedUserId": None,
        "DebitedFunds": money(3_500),
        "CreditedFunds": money(3_500),
        "Fees": money(0),
        "Status": "SUCCEEDED",
        "ResultCode": "000000",
        "ResultMessage": "Success",
        "ExecutionDate": 1770076800,
        "Type": "PAYIN",
        "Nature": "REFUND",
        "InitialTransactionId": "po_m_01HUGO",
        "InitialTransactionType": "PAYOUT",
        "InitialTransactionNature": "REGULAR",
        "DebitedWalletId": None,
        "CreditedWalletId": WALLET_ID,
        "RefundReason": {"RefundReasonMessage": "AC04", "RefundReasonType": "BANKACCOUNT_HAS_BEEN_CLOSED"},
        "StatementDescriptor": None,
    },
)


def test_a_payout_the_bank_sent_back_names_its_payout_and_why(api, psp):
    api.get(f"{API}/refunds/refund_m_01HUGO", json=PAYOUT_RETURN.body)
    a_payin_refund = {**PAYOUT_RETURN.body, "InitialTransactionType": "PAYIN", "InitialTransactionId": "wt_01"}
    api.get(f"{API}/refunds/refund_m_01LEA", json=a_payin_refund)

    back = psp.read_payout_return("refund_m_01HUGO")

    assert back == EscrowTransfer(
        "refund_m_01HUGO", "payout_return", WALLET_ID, 3_500, "succeeded", "2026-02-03T00:00:00Z",
        payment_id="po_m_01HUGO", result="BANKACCOUNT_HAS_BEEN_CLOSED",
    )  # fmt: skip
    assert psp.read_payout_return("refund_m_01LEA") is None  # a contributor's refund, not a payout's
