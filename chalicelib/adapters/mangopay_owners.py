"""The owners' side of the escrow port at Mangopay (chalicelib/escrow.py), which
MangopayEscrow (chalicelib/adapters/mangopay.py) inherits with its requests (`_post`,
`_get`). Facts and pages: /work/notes/mangopay_payouts.md.

What each record is at Mangopay:
- an owner: a natural user, or a legal user and its representative, of UserCategory OWNER
  (the SCA endpoints, /sca/users/…; its Tag is the owner's id), and their wallet in EUR;
- a verification: an IDV session, Mangopay's hosted identity verification (HostedUrl);
- a bank account: a Recipient (EUR, LocalBankTransfer, scope PAYOUT), which the owner
  confirms by strong customer authentication (SCA) on Mangopay's page: PENDING until then.
  Not a legacy Bank Account: those made after 2026-04-30 cannot be paid out to (121018);
- a payout: a bank wire from the owner's wallet to that Recipient.

Mangopay's SCA pages (PendingUserAction.RedirectUrl) live 10 minutes and send the browser
back to the `returnUrl` appended to them (docs.mangopay.com/guides/sca/session). An owner
enrolls in SCA on such a page when their account is made (UserStatus PENDING_USER_ACTION
until then), and confirms each Recipient on another.

"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from .. import clock
from ..escrow import Address, Owner, ProviderError
from ..records import BankAccount, EscrowTransfer, Verification
from .mangopay_client import (
    CURRENCY,
    DESCRIPTION_MAX,
    MangopayClient,
    MangopayError,
    _movement,
    _sdk,
    idempotency_key,
)

# Mangopay's LegalPersonType for each legal form (docs.mangopay.com/guides/users/verification/
# requirements/kyb-local, France): associations, foundations, unions and local authorities
# are ORGANIZATION; companies (SA, SARL, SAS, SCOP…) are BUSINESS.
LEGAL_PERSON_TYPES = {"association": "ORGANIZATION", "business": "BUSINESS", "other": "ORGANIZATION"}
# An IDV session's Status (docs.mangopay.com/api-reference/idv-sessions/idv-session-object);
# any other (REFUSED, OUT_OF_DATE…) is a refusal: a new session is needed.
VERIFICATION_STATUSES = {"PENDING": "pending", "REVIEW": "pending", "INCONCLUSIVE": "pending", "VALIDATED": "verified"}
# A Recipient's Status (docs.mangopay.com/api-reference/recipients/recipient-object).
RECIPIENT_STATUSES = {"PENDING": "pending", "ACTIVE": "active", "CANCELED": "refused", "DEACTIVATED": "refused"}
RECIPIENT_REFUSALS = {
    "CANCELED": "confirmation refusée ou abandonnée sur la page de Mangopay (CANCELED)",
    "DEACTIVATED": "compte désactivé chez Mangopay (DEACTIVATED)",
}
RETURN_URL_MAX = 500  # an IDV session's ReturnUrl (the create page; its newer .md says 50)
SCA_URL_MAX = 2_000  # a RedirectUrl with its returnUrl (docs.mangopay.com/guides/sca/session)
SCA_SESSION_SECONDS = 600  # how long an SCA page lives
DISPLAY_NAME_MAX = 50  # a Recipient's DisplayName, without &,'/
BANK_WIRE_REF_MAX = 12  # a payout's BankWireRef: up to 255, 12 recommended (banks may cut it)
IDV_NOT_ACTIVATED = (
    "the hosted identity verification (IDV sessions) is not activated for this platform at Mangopay: "
    "ask Mangopay to activate it"
)


class MangopayOwners(MangopayClient):
    """Owners' accounts, their verification, bank accounts and payouts: the port's
    owners' side, mixed into MangopayEscrow."""

    def register_owner(self, owner: Owner) -> tuple[str, str]:
        """The owner's user and their wallet. An OWNER has accepted Mangopay's terms
        (TermsAndConditionsAccepted, required): the platform's pages must have them do so
        before. Mangopay answers an SCA enrollment page with the user, unused here: a new one
        is asked for when the owner is sent to verify (`start_verification`)."""
        resources = _sdk().resources
        model, body = (
            (resources.NaturalUserSca, _natural(owner))
            if owner.kind == "natural"
            else (resources.LegalUserSca, _legal(owner))
        )
        user = self._post(model, body, idempotency_key("owner", owner.owner_id))
        user_id = str(user["Id"])
        wallet = self._post(
            resources.Wallet,
            {
                "Owners": [user_id],
                "Description": f"Porteur {owner.owner_id}"[:DESCRIPTION_MAX],
                "Currency": CURRENCY,
                "Tag": owner.owner_id,
            },
            idempotency_key("wallet", "owner", owner.owner_id),
        )
        return user_id, str(wallet["Id"])

    def start_verification(self, user_id: str, return_url: str, attempt: int) -> Verification:
        """An IDV session: `url` is its HostedUrl, which sends the browser back to
        `return_url` once the owner has submitted their documents.

        An owner who has not enrolled in SCA yet (UserStatus PENDING_USER_ACTION: the page
        Mangopay gave with their account was not completed) is sent to a new enrollment page
        first, whose returnUrl is the HostedUrl: one redirect, both pages. Mangopay asks for
        enrollment as the account is made, documents the hosted verification for owners who
        "enrolled in Mangopay's SCA" (docs.mangopay.com/guide/user-verification) and refuses
        the SCA actions that follow (a Recipient) until then; this is the platform's only
        redirect to Mangopay after the account is made. The enrollment page lives 10
        minutes: the HostedUrl (7 days) is what `read_verification` answers."""
        if len(return_url) > RETURN_URL_MAX:
            raise ProviderError(f"Mangopay: a return URL has at most {RETURN_URL_MAX} characters", retryable=False)
        try:
            session = self._post(
                _sdk().resources.IdentityVerification,
                {"ReturnUrl": return_url},
                idempotency_key("idv", user_id, str(attempt)),
                user_id=user_id,
            )
        except MangopayError as error:
            if error.code == 403 and not error.reason:  # not Mangopay's usual error: the feature is off
                raise ProviderError(f"Mangopay 403: {IDV_NOT_ACTIVATED}", retryable=False) from error
            raise
        verification = _verification(session, user_id)
        user = self._get(f"/sca/users/{user_id}") if verification.status == "pending" else None
        if not isinstance(user, Mapping) or user.get("UserStatus") != "PENDING_USER_ACTION":
            return verification
        enrollment = self._post(
            _sdk().resources.ScaEnrollment,
            {},
            idempotency_key("enrollment", user_id, _sca_window()),
            identifier="USERS_ENROLL_SCA",
            id=user_id,
        )
        return verification._replace(url=_sca_url(enrollment, verification.url))

    def read_verification(self, verification_id: str) -> Verification | None:
        session = self._get(f"/identity-verifications/{verification_id}")
        return _verification(session, "") if isinstance(session, Mapping) and session.get("Id") else None

    def register_bank_account(self, user_id: str, iban: str, holder: str, return_url: str) -> BankAccount:
        """A Recipient in the owner's name (an individual, or the legal user's business) at
        the address Mangopay holds for them, to be confirmed on Mangopay's SCA page (`url`,
        then `return_url`). Its key changes with each SCA page's life (10 minutes): a retry
        within it answers the same Recipient and page; one after (the page expired, or the
        confirmation failed: CANCELED) makes a new Recipient, as Mangopay requires."""
        user = self._get(f"/sca/users/{user_id}")
        if not isinstance(user, Mapping):
            raise ProviderError(f"Mangopay: no user {user_id}", retryable=False)
        if user.get("PersonType") == "LEGAL":
            kind, holder_field = "Business", "BusinessRecipient"
            named: dict[str, Any] = {"BusinessName": _clean(holder, "(),.:/")}
            address = user.get("HeadquartersAddress") or {}
        else:
            kind, holder_field = "Individual", "IndividualRecipient"
            first, _, last = _clean(holder, "()&,.:_/").partition(" ")
            named = {"FirstName": first, "LastName": last or first}
            address = user.get("Address") or {}
        recipient = self._post(
            _sdk().resources.Recipient,
            {
                "DisplayName": _clean(f"IBAN {iban[:2]} {iban[-4:]} {holder}", "&,'/")[:DISPLAY_NAME_MAX],
                "PayoutMethodType": "LocalBankTransfer",
                "RecipientType": kind,
                "Currency": CURRENCY,
                "Country": iban[:2],
                "RecipientScope": "PAYOUT",
                holder_field: {**named, "Address": {name: value for name, value in address.items() if value}},
                "LocalBankTransfer": {CURRENCY: {"IBAN": iban}},
            },
            idempotency_key("recipient", user_id, iban, holder, _sca_window()),
            user_id=user_id,
        )
        account = _bank_account(recipient, user_id)._replace(last4=iban[-4:])
        return account._replace(url=_sca_url(recipient, return_url)) if account.status == "pending" else account

    def read_bank_account(self, account_id: str) -> BankAccount | None:
        """The Recipient as Mangopay has it now (its SCA page, if any, is not given again)."""
        recipient = self._get(f"/recipients/{account_id}")
        return _bank_account(recipient, "") if isinstance(recipient, Mapping) and recipient.get("Id") else None

    def pay_out(
        self, user_id: str, wallet_id: str, bank_account_id: str, amount_cents: int, reference: str
    ) -> EscrowTransfer:
        """A bank wire of the owner's wallet to their Recipient (RecipientId, as Mangopay asks
        of new integrations since 2026-01-27; BankAccountId is the legacy field). A payout
        Mangopay refuses at once (400: the Recipient is not ACTIVE…) is a failed payout that
        says why; one it refuses later (KYC 002998…) is FAILED at Mangopay, and so here."""
        return self._move_out(
            _sdk().resources.BankWirePayOut,
            {
                "AuthorId": user_id,
                "DebitedWalletId": wallet_id,
                "DebitedFunds": {"Currency": CURRENCY, "Amount": amount_cents},
                "Fees": {"Currency": CURRENCY, "Amount": 0},
                "RecipientId": bank_account_id,
                "BankWireRef": _bank_wire_ref(reference),
                "Tag": reference,
            },
            idempotency_key("payout", reference),
            "payout",
            wallet_id,
            amount_cents,
        )

    def read_payout(self, payout_id: str) -> EscrowTransfer | None:
        payout = self._get(f"/payouts/{payout_id}")
        if not isinstance(payout, Mapping) or payout.get("Type") != "PAYOUT":
            return None
        return _movement(payout, "payout", str(payout.get("DebitedWalletId") or ""))

    def read_payout_return(self, return_id: str) -> EscrowTransfer | None:
        """A payout's Refund ("payout return", docs.mangopay.com/api-reference/refunds/
        view-refund): Mangopay makes it when the bank rejects a payout that had succeeded,
        crediting the owner's wallet again; its RefundReasonType says why."""
        refund = self._get(f"/refunds/{return_id}")
        if not isinstance(refund, Mapping) or refund.get("InitialTransactionType") != "PAYOUT":
            return None
        reason = refund.get("RefundReason") or {}
        back = _movement(refund, "payout_return", str(refund.get("CreditedWalletId") or ""))
        why = reason.get("RefundReasonType") if isinstance(reason, Mapping) else None
        return back._replace(payment_id=str(refund.get("InitialTransactionId") or ""), result=str(why or ""))


# --- what is sent --------------------------------------------------------------------------


def _birthday(day: str) -> int:
    """A YYYY-MM-DD birthday as Mangopay takes it: the Unix time of its midnight, UTC."""
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp())


def _address(address: Address) -> dict[str, str]:
    fields = {
        "AddressLine1": address.line1,
        "AddressLine2": address.line2,
        "City": address.city,
        "PostalCode": address.postcode,
        "Country": address.country,
    }
    return {name: value for name, value in fields.items() if value}


def _person(owner: Owner) -> dict[str, Any]:
    """What an OWNER person must give (docs.mangopay.com/api-reference/users/create-natural-user-sca)."""
    return {
        "FirstName": owner.first_name,
        "LastName": owner.last_name,
        "Birthday": _birthday(owner.birthday),
        "Nationality": owner.nationality,
        "CountryOfResidence": owner.country_of_residence,
        "Email": owner.email,
    }


def _natural(owner: Owner) -> dict[str, Any]:
    return {
        **_person(owner),
        "Address": _address(owner.address),
        "UserCategory": "OWNER",
        "TermsAndConditionsAccepted": True,
        "Tag": owner.owner_id,
    }


def _legal(owner: Owner) -> dict[str, Any]:
    """A legal OWNER (docs.mangopay.com/api-reference/users/create-legal-user-sca): the owner's
    address is the entity's (HeadquartersAddress, required); the person represents it.
    CompanyNumber is the SIREN: Mangopay checks French numbers as a SIREN (9 digits) or a
    SIRET (14), required of a BUSINESS, "recommended if it exists" for an ORGANIZATION
    (docs.mangopay.com/guides/users/verification/company-number). An association's RNA
    (W + 9 digits) is no such number: never sent, it is on the registration proof."""
    legal_type = LEGAL_PERSON_TYPES.get(owner.legal_form)
    if legal_type is None:
        raise ValueError(f"a legal owner's form is one of {sorted(LEGAL_PERSON_TYPES)}, not {owner.legal_form!r}")
    body: dict[str, Any] = {
        "Name": owner.legal_name,
        "LegalPersonType": legal_type,
        "LegalRepresentative": _person(owner),
        "HeadquartersAddress": _address(owner.address),
        "Email": owner.email,
        "UserCategory": "OWNER",
        "TermsAndConditionsAccepted": True,
        "Tag": owner.owner_id,
    }
    return {**body, "CompanyNumber": owner.siren} if owner.siren else body


def _clean(text: str, forbidden: str) -> str:
    """`text` without the characters Mangopay refuses in a field, spaces made single."""
    return " ".join(text.translate({ord(c): " " for c in forbidden}).split())


def _bank_wire_ref(reference: str) -> str:
    """What the owner's bank statement shows: OZE and the reference's first letters and digits."""
    return ("OZE" + "".join(c for c in reference if c.isascii() and c.isalnum()).upper())[:BANK_WIRE_REF_MAX]


def _sca_window() -> str:
    """The SCA pages' life the present moment is in: a request's key within it."""
    return str(int(clock.now().timestamp()) // SCA_SESSION_SECONDS)


def _sca_url(answer: Mapping[str, Any], return_url: str) -> str:
    """An answer's SCA page with the `returnUrl` Mangopay sends the browser back to; "" when
    the answer gives none (no SCA asked, or a GET, which never gives one)."""
    page = (answer.get("PendingUserAction") or {}).get("RedirectUrl") or ""
    if not page:
        return ""
    url = f"{page}{'&' if '?' in page else '?'}returnUrl={quote(return_url, safe='')}"
    if len(url) >= SCA_URL_MAX:
        raise ProviderError(f"Mangopay: an SCA page's URL has fewer than {SCA_URL_MAX} characters", retryable=False)
    return url


# --- what is answered ----------------------------------------------------------------------


def _verification(session: Mapping[str, Any], user_id: str) -> Verification:
    """An IDV session (its create answer names no UserId: `user_id` is the one asked for)."""
    status = VERIFICATION_STATUSES.get(str(session.get("Status")), "refused")
    return Verification(
        id=str(session["Id"]),
        user_id=str(session.get("UserId") or user_id),
        status=status,
        url=str(session.get("HostedUrl") or ""),
        reason=_verification_refusal(session) if status == "refused" else "",
    )


def _verification_refusal(session: Mapping[str, Any]) -> str:
    """Why a session was refused: each refused check's reasons (Checks[].Reasons[])."""
    reasons = [
        f"{reason.get('Value') or reason.get('Type')} ({check.get('Type')}, {reason.get('Type')})"
        for check in session.get("Checks") or []
        if check.get("CheckStatus") == "REFUSED"
        for reason in check.get("Reasons") or []
    ]
    return "; ".join(reasons) or f"vérification refusée par Mangopay ({session.get('Status')})"


def _bank_account(recipient: Mapping[str, Any], user_id: str) -> BankAccount:
    """A Recipient; its reason says why it is refused, or that the holder's name does not
    match the account's (Verification of Payee: docs.mangopay.com/guides/vop/recipients-payouts)."""
    status = RECIPIENT_STATUSES.get(str(recipient.get("Status")))
    if status is None:
        raise ProviderError(f"Mangopay: unknown recipient status {recipient.get('Status')!r}", retryable=False)
    payee = recipient.get("RecipientVerificationOfPayee") or {}
    reason = RECIPIENT_REFUSALS.get(str(recipient.get("Status")), "")
    if not reason and payee.get("RecipientVerificationCheck") not in (None, "MATCH"):
        reason = str(payee.get("RecipientVerificationMessage") or payee["RecipientVerificationCheck"])
    return BankAccount(
        id=str(recipient["Id"]),
        user_id=str(recipient.get("UserId") or user_id),
        status=status,
        last4=_account_number(recipient)[-4:],
        reason=reason,
    )


def _account_number(recipient: Mapping[str, Any]) -> str:
    """A Recipient's IBAN: LocalBankTransfer.EUR.IBAN, or the AccountNumber of an international
    one (bank accounts made before Recipients were migrated to them)."""
    local = (recipient.get("LocalBankTransfer") or {}).get("EUR") or {}
    return str(local.get("IBAN") or (recipient.get("InternationalBankTransfer") or {}).get("AccountNumber") or "")
