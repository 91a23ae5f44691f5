"""Owners' payout accounts at the payment provider (SPEC "Money (v2)", Owners).

An owner who wants a campaign approved opens a payout account: the provider makes their
user (a person, or a legal entity they represent) and their wallet, and verifies their
identity on its hosted page (`verification_url`). They register a bank account, which the
provider may ask them to confirm on its page too. The platform keeps the provider's ids,
the verification's state, the bank account's last 4 digits and, for the public
accountant, a legal entity's name and numbers; never documents, birthdays, addresses or
full IBANs. What the provider notifies is read again there, never trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import clock, escrow, payments, storage
from .errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed, field_error
from .identity import Identity
from .records import BankAccount, PayoutAccount, Verification

if TYPE_CHECKING:  # the models load with their route (chalicelib/models)
    from .models.owners import BankAccountCreate, PayoutAccountCreate

ACCOUNT_PAGE = "/compte/versements"  # the site's page an owner comes back to from the provider's
NOTIFIED = ("verification", "bank_account")  # the provider's notifications this module reads
VERIFICATION_STATES = {"pending": "verification_pending", "verified": "verified", "refused": "refused"}


def account_of(user: Identity) -> PayoutAccount:
    account = storage.owners.get(user.sub)
    if account is None:
        raise NotFound("you have no payout account yet: POST /me/payout-account")
    return account


def _failed(error: escrow.ProviderError, action: str) -> Exception:
    if error.retryable:
        return ServiceUnavailable(f"the payment provider cannot {action} now; try again shortly")
    return ValidationFailed(f"the payment provider refused to {action}: {error}", [])


def _owner(user: Identity, data: PayoutAccountCreate) -> escrow.Owner:
    address = data.address
    return escrow.Owner(
        owner_id=user.sub,
        kind=data.kind,
        first_name=data.first_name,
        last_name=data.last_name,
        email=user.email,
        birthday=data.birthday.isoformat(),
        nationality=data.nationality,
        country_of_residence=data.country_of_residence,
        address=escrow.Address(address.line1, address.postcode, address.city, address.country, address.line2 or ""),
        legal_name=data.legal_name or "",
        legal_form=data.legal_form or "",
        rna=data.rna or "",
        siren=data.siren or "",
    )


def _check_entity(data: PayoutAccountCreate) -> None:
    legal = ("legal_name", "legal_form", "rna", "siren")
    if data.kind == "natural":
        for name in legal:
            if getattr(data, name) is not None:
                raise field_error(name, "only for kind legal")
        return
    for name in ("legal_name", "legal_form"):
        if getattr(data, name) is None:
            raise field_error(name, "required for kind legal")
    if data.legal_form == "association" and not (data.rna or data.siren):
        raise field_error("rna", "an association gives its RNA number (W + 9 digits) and/or its SIREN")
    if data.legal_form == "business" and not data.siren:
        raise field_error("siren", "required for a business")


def open_account(user: Identity, data: PayoutAccountCreate) -> PayoutAccount:
    """The owner's account at the provider and its identity verification started; after a
    refusal, a new verification (the details the provider holds stay as first given)."""
    _check_entity(data)
    existing = storage.owners.get(user.sub)
    if existing is not None and existing.status != "refused":
        raise Conflict(f"you already have a payout account ({existing.status})")
    back = payments.return_url(data.return_url, ACCOUNT_PAGE)
    provider = escrow.provider()
    try:
        user_id, wallet_id = (
            (existing.psp_user_id, existing.wallet_id) if existing else provider.register_owner(_owner(user, data))
        )
        attempts = existing.attempts + 1 if existing else 1
        verification = provider.start_verification(user_id, back, attempts)
    except escrow.ProviderError as error:
        raise _failed(error, "open this payout account") from error
    now = clock.iso(clock.now())
    account = PayoutAccount(
        owner_id=user.sub,
        kind=data.kind,
        name=data.legal_name if data.kind == "legal" and data.legal_name else f"{data.first_name} {data.last_name}",
        psp_user_id=user_id,
        wallet_id=wallet_id,
        status=VERIFICATION_STATES[verification.status],
        verification_id=verification.id,
        verification_url=verification.url,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        legal_form=data.legal_form,
        rna=data.rna,
        siren=data.siren,
        refusal_reason=verification.reason or None,
        attempts=attempts,
        **(_bank_fields(existing) if existing else {}),
    )
    if not storage.owners.create(account, replacing=existing):
        raise Conflict("your payout account was opened by another request meanwhile")
    return account


def _bank_fields(account: PayoutAccount) -> dict[str, str | None]:
    return {
        "bank_account_id": account.bank_account_id,
        "bank_account_status": account.bank_account_status,
        "bank_account_url": account.bank_account_url,
        "iban_last4": account.iban_last4,
    }


def register_bank_account(user: Identity, data: BankAccountCreate) -> PayoutAccount:
    """The bank account the owner's payouts go to, sent to the provider (which may ask the
    owner to confirm it on its page); it replaces the previous one."""
    account = account_of(user)
    back = payments.return_url(data.return_url, ACCOUNT_PAGE)
    try:
        bank = escrow.provider().register_bank_account(account.psp_user_id, data.iban, data.holder, back)
    except escrow.ProviderError as error:
        raise _failed(error, "register this bank account") from error
    moved = storage.owners.update(account, _bank_changes(bank), read="bank_account_id")
    if moved is None:
        raise Conflict("your payout account changed meanwhile; try again")
    return moved


def _bank_changes(bank: BankAccount) -> dict[str, str | None]:
    return {
        "bank_account_id": bank.id,
        "bank_account_status": bank.status,
        "bank_account_url": bank.url or None,
        "iban_last4": bank.last4,
        "updated_at": clock.iso(clock.now()),
    }


def _verification_changes(verification: Verification) -> dict[str, str | None]:
    return {
        "status": VERIFICATION_STATES[verification.status],
        "refusal_reason": verification.reason or None,
        "updated_at": clock.iso(clock.now()),
    }


def notified(kind: str, resource_id: str) -> PayoutAccount | None:
    """A provider's notification about an owner's verification or bank account: the
    resource read again, and the account moved by what the provider says. None when it
    names nothing of ours, or nothing changed."""
    provider = escrow.provider()
    try:
        found: Verification | BankAccount | None = (
            provider.read_verification(resource_id)
            if kind == "verification"
            else provider.read_bank_account(resource_id)
        )
    except escrow.ProviderError as error:
        raise _failed(error, "be read") from error
    account = storage.owners.owner_of(found.user_id) if found else None
    if found is None or account is None:
        return None
    if isinstance(found, Verification) and found.id == account.verification_id:
        return storage.owners.update(account, _verification_changes(found), read="verification_id")
    if isinstance(found, BankAccount) and found.id == account.bank_account_id:
        return storage.owners.update(account, _bank_changes(found), read="bank_account_id")
    return None  # an earlier verification or bank account: the latest one counts
