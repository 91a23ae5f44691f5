"""The payment provider port for escrow (SPEC "Money (v2)"), and its sandbox.

Each live campaign has an escrow at the provider; a pledge is paid into it by card on the
provider's hosted page (3-D Secure), refunded from it, and a succeeded campaign's escrow
is transferred to its owner's side. Every call is idempotent on the platform's own
reference (a pledge id, a campaign id), as the provider's Idempotency-Key makes it: asked
twice, the provider answers the same payment, refund or transfer. A notification is only
a prompt: `notification` says which resource to re-read, never what happened to it.
Providers: `sandbox` (below) and `mangopay` (chalicelib/adapters/mangopay.py, loaded on first use).
Pledges move by what the provider says in chalicelib/payments.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from . import clock, storage
from .records import BankAccount, EscrowPayment, EscrowTransfer, Verification
from .settings import get_settings

# Mangopay's hook events (docs.mangopay.com, "Hooks": EventType), which the sandbox sends too.
EVENT_KINDS = {
    "PAYIN_NORMAL_SUCCEEDED": "payment",
    "PAYIN_NORMAL_FAILED": "payment",
    "PAYIN_REFUND_SUCCEEDED": "refund",
    "PAYIN_REFUND_FAILED": "refund",
    "TRANSFER_NORMAL_SUCCEEDED": "transfer",
    "TRANSFER_NORMAL_FAILED": "transfer",
    # The owners' side: the hosted identity verification (its session), the confirmed
    # bank account (a "recipient"), payouts to the bank.
    "IDENTITY_VERIFICATION_VALIDATED": "verification",
    "IDENTITY_VERIFICATION_FAILED": "verification",
    "IDENTITY_VERIFICATION_INCONCLUSIVE": "verification",
    "IDENTITY_VERIFICATION_OUTDATED": "verification",
    "RECIPIENT_ACTIVE": "bank_account",
    "RECIPIENT_CANCELED": "bank_account",
    "RECIPIENT_DEACTIVATED": "bank_account",
    "PAYOUT_NORMAL_SUCCEEDED": "payout",
    "PAYOUT_NORMAL_FAILED": "payout",
    "PAYOUT_REFUND_SUCCEEDED": "payout_return",  # the bank sent a paid-out payout back
}


# The sandbox's bank refuses payouts to this account (a valid IBAN: tests and local runs).
SANDBOX_REFUSED_IBAN = "FR1930006000019999999999999"


class Notification(NamedTuple):
    """What a provider's notification names: the kind of resource to re-read, and its id."""

    kind: str  # payment | refund | transfer | verification | bank_account | payout | payout_return
    resource_id: str


class Payer(NamedTuple):
    """Who pays a pledge, as a provider must know them. `user_id` is their user at the
    provider (Mangopay requires one): made at their first pledge by `register_payer`, then
    kept on their profile and given with each of their payments."""

    contributor_id: str
    name: str
    email: str
    user_id: str | None = None


class Address(NamedTuple):
    line1: str
    postcode: str
    city: str
    country: str  # ISO 3166 alpha-2
    line2: str = ""


class Owner(NamedTuple):
    """Who receives a succeeded campaign's money, as the provider must know them: a person,
    or a legal entity (`legal_name`…) that the person represents. Sent to the provider,
    never kept whole by the platform (chalicelib/records/money.py PayoutAccount)."""

    owner_id: str
    kind: str  # natural | legal
    first_name: str
    last_name: str
    email: str
    birthday: str  # YYYY-MM-DD
    nationality: str
    country_of_residence: str
    address: Address
    legal_name: str = ""
    legal_form: str = ""  # association | business | other
    rna: str = ""
    siren: str = ""


class ProviderError(RuntimeError):
    """The provider did not do what was asked: it refused the request, or (`retryable`) it
    could not be reached or failed on its side, and the same call may be made again: the
    same reference makes it the same request."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class EscrowProvider(Protocol):
    def open_escrow(self, campaign_id: str, title: str) -> str: ...

    def register_payer(self, payer: Payer) -> str: ...

    # `campaign_id` and the payer's contributor come back with the payment (EscrowPayment).
    def start_payment(
        self,
        pledge_id: str,
        escrow_id: str,
        amount_cents: int,
        return_url: str,
        payer: Payer | None = None,
        *,
        campaign_id: str = "",
    ) -> EscrowPayment: ...

    def read_payment(self, payment_id: str) -> EscrowPayment | None: ...

    def refund(self, payment: EscrowPayment) -> EscrowTransfer: ...

    # `payee_wallet_id`: the owner's wallet at the provider (comes with the owner's payout
    # account); the platform's `commission_cents` stays at the provider as its fees.
    def release(
        self,
        escrow_id: str,
        amount_cents: int,
        reference: str,
        payee_wallet_id: str | None = None,
        commission_cents: int = 0,
    ) -> EscrowTransfer: ...

    def escrow_balance(self, escrow_id: str) -> int: ...

    def escrow_transactions(self, escrow_id: str) -> list[EscrowTransfer]: ...

    def notification(self, params: Mapping[str, str]) -> Notification | None: ...

    # --- the owners' side: accounts, identity verification, bank accounts, payouts -------

    def register_owner(self, owner: Owner) -> tuple[str, str]:
        """The owner's user at the provider and their wallet (idempotent on the owner)."""
        ...

    def start_verification(self, user_id: str, return_url: str, attempt: int) -> Verification:
        """A verification of the owner's identity on the provider's hosted page (`url`)."""
        ...

    def read_verification(self, verification_id: str) -> Verification | None: ...

    def register_bank_account(self, user_id: str, iban: str, holder: str, return_url: str) -> BankAccount:
        """The owner's bank account, to be confirmed by them on the provider's page
        (`url`, then back to `return_url`) unless the provider needs no confirmation."""
        ...

    def read_bank_account(self, account_id: str) -> BankAccount | None: ...

    def pay_out(
        self, user_id: str, wallet_id: str, bank_account_id: str, amount_cents: int, reference: str
    ) -> EscrowTransfer:
        """Money from the owner's wallet to their bank account: `created` until the bank
        takes it (`succeeded`) or refuses it (`failed`, with the reason)."""
        ...

    def read_payout(self, payout_id: str) -> EscrowTransfer | None: ...

    def read_payout_return(self, return_id: str) -> EscrowTransfer | None:
        """A payout the bank sent back to the owner's wallet after it succeeded (its
        `payment_id` is the payout's, `result` the bank's reason); None if it is not one."""
        ...


def parse_hook(params: Mapping[str, str]) -> Notification | None:
    """Mangopay's hook query (EventType, RessourceId — sic — and Date); None when it names
    no event of ours. Nothing in it is trusted: the resource is read again at the provider."""
    kind = EVENT_KINDS.get(params.get("EventType", ""))
    resource_id = params.get("RessourceId", "")
    if kind is None or not resource_id or len(resource_id) > 64 or not resource_id.isprintable():
        return None
    return Notification(kind, resource_id)


def _reference(prefix: str, *parts: str) -> str:
    """A provider id derived from the platform's reference: the same request, the same id."""
    return f"{prefix}-{hashlib.sha256('/'.join(parts).encode()).hexdigest()[:24]}"


class SandboxEscrow:
    """The provider played in the table (chalicelib/storage/sandbox.py) for local runs and
    tests: its hosted page is served by the local stack at `redirect_url`."""

    def open_escrow(self, campaign_id: str, title: str) -> str:
        wallet_id = _reference("wallet", campaign_id)
        storage.sandbox.open_wallet(wallet_id, f"Séquestre de « {title} »", clock.iso(clock.now()))
        return wallet_id

    def register_payer(self, payer: Payer) -> str:
        """The sandbox keeps no users: the same contributor, the same id."""
        return payer.user_id or _reference("user", payer.contributor_id)

    def start_payment(
        self,
        pledge_id: str,
        escrow_id: str,
        amount_cents: int,
        return_url: str,
        payer: Payer | None = None,
        *,
        campaign_id: str = "",
    ) -> EscrowPayment:
        payment_id = _reference("payin", pledge_id)
        page = f"{get_settings().api_url}/sandbox/payments/{payment_id}"
        waiting = EscrowPayment(
            payment_id, pledge_id, escrow_id, amount_cents, "created", page, clock.iso(clock.now()),
            payer_id=(payer.user_id or "") if payer else "",
            campaign_id=campaign_id,
            contributor_id=payer.contributor_id if payer else "",
        )  # fmt: skip
        return storage.sandbox.create_payment(waiting)

    def read_payment(self, payment_id: str) -> EscrowPayment | None:
        return storage.sandbox.get_payment(payment_id)

    def complete(self, payment_id: str, outcome: str) -> Notification | None:
        """The hosted page's buttons: the payer pays (`succeeded`) or the card is refused
        (`failed`). Answers the notification the provider then sends, None if nothing moved."""
        payment = storage.sandbox.get_payment(payment_id)
        if payment is None or outcome not in ("succeeded", "failed"):
            return None
        result = "" if outcome == "succeeded" else "carte refusée"
        if not storage.sandbox.complete_payment(payment, outcome, result, clock.iso(clock.now())):
            return None
        return Notification("payment", payment_id)

    def refund(self, payment: EscrowPayment) -> EscrowTransfer:
        refund = EscrowTransfer(
            _reference("refund", payment.id),
            "refund",
            payment.escrow_id,
            payment.amount_cents,
            "succeeded",
            clock.iso(clock.now()),
            payment.id,
        )
        return storage.sandbox.move_out(refund, refunded_payment=payment.id)

    def release(
        self,
        escrow_id: str,
        amount_cents: int,
        reference: str,
        payee_wallet_id: str | None = None,
        commission_cents: int = 0,
    ) -> EscrowTransfer:
        """Money out of the escrow, to the owner's wallet less the commission."""
        transfer = EscrowTransfer(
            _reference("transfer", reference), "transfer", escrow_id, amount_cents, "succeeded", clock.iso(clock.now())
        )
        return storage.sandbox.move_out(transfer, to_wallet=payee_wallet_id, fees=commission_cents)

    def escrow_balance(self, escrow_id: str) -> int:
        return storage.sandbox.wallet_balance(escrow_id) or 0

    def escrow_transactions(self, escrow_id: str) -> list[EscrowTransfer]:
        return list(storage.every(storage.sandbox.wallet_transactions, escrow_id))

    def notification(self, params: Mapping[str, str]) -> Notification | None:
        return parse_hook(params)

    # --- the owners' side ---------------------------------------------------------------

    def register_owner(self, owner: Owner) -> tuple[str, str]:
        user_id, wallet_id = _reference("owner", owner.owner_id), _reference("wallet", "owner", owner.owner_id)
        storage.sandbox.create_object(storage.sandbox.OWNER, user_id, {"id": user_id, "kind": owner.kind})
        storage.sandbox.open_wallet(wallet_id, f"Porteur {owner.owner_id}", clock.iso(clock.now()))
        return user_id, wallet_id

    def start_verification(self, user_id: str, return_url: str, attempt: int) -> Verification:
        verification_id = _reference("idv", user_id, str(attempt))
        page = f"{get_settings().api_url}/sandbox/verifications/{verification_id}"
        fields = {"id": verification_id, "user_id": user_id, "status": "pending", "url": page, "return_url": return_url}
        return _verification(storage.sandbox.create_object(storage.sandbox.VERIFICATION, verification_id, fields))

    def read_verification(self, verification_id: str) -> Verification | None:
        found = storage.sandbox.get_object(storage.sandbox.VERIFICATION, verification_id)
        return _verification(found) if found else None

    def complete_verification(self, verification_id: str, outcome: str) -> Notification | None:
        """The hosted page's buttons: the owner's identity verified or refused. Answers the
        notification the provider then sends, None if nothing moved."""
        reason = "" if outcome == "verified" else "pièce d'identité illisible"
        if outcome not in ("verified", "refused") or not storage.sandbox.complete_verification(
            verification_id, outcome, reason
        ):
            return None
        return Notification("verification", verification_id)

    def register_bank_account(self, user_id: str, iban: str, holder: str, return_url: str) -> BankAccount:
        """The sandbox's bank accounts are active at once (no confirmation page)."""
        account_id = _reference("bank", user_id, iban)
        fields = {"id": account_id, "user_id": user_id, "iban": iban, "holder": holder}
        return _bank_account(storage.sandbox.create_object(storage.sandbox.BANK_ACCOUNT, account_id, fields))

    def read_bank_account(self, account_id: str) -> BankAccount | None:
        found = storage.sandbox.get_object(storage.sandbox.BANK_ACCOUNT, account_id)
        return _bank_account(found) if found else None

    def pay_out(
        self, user_id: str, wallet_id: str, bank_account_id: str, amount_cents: int, reference: str
    ) -> EscrowTransfer:
        """The bank answers at once here: it refuses SANDBOX_REFUSED_IBAN's payouts."""
        payout = EscrowTransfer(
            _reference("payout", reference), "payout", wallet_id, amount_cents, "succeeded", clock.iso(clock.now())
        )
        account = storage.sandbox.get_object(storage.sandbox.BANK_ACCOUNT, bank_account_id)
        if account is None or account["iban"] == SANDBOX_REFUSED_IBAN:
            refused = payout._replace(status="failed", result="compte bancaire clôturé")
            return storage.sandbox.record_failure(refused)
        return storage.sandbox.move_out(payout)

    def read_payout(self, payout_id: str) -> EscrowTransfer | None:
        return storage.sandbox.get_transfer(payout_id)

    def read_payout_return(self, return_id: str) -> EscrowTransfer | None:
        found = storage.sandbox.get_transfer(return_id)
        return found if found and found.kind == "payout_return" else None

    def return_payout(self, payout_id: str, reason: str) -> Notification | None:
        """The bank sends a succeeded payout back (tests, local runs): the money is in the
        owner's wallet again. Answers the notification the provider then sends."""
        payout = storage.sandbox.get_transfer(payout_id)
        if payout is None or payout.kind != "payout" or payout.status != "succeeded":
            return None
        back = EscrowTransfer(
            _reference("return", payout_id), "payout_return", payout.escrow_id, payout.amount_cents, "succeeded",
            clock.iso(clock.now()), payment_id=payout_id, result=reason,
        )  # fmt: skip
        storage.sandbox.move_in(back)
        return Notification("payout_return", back.id)


def _bank_account(fields: Mapping[str, Any]) -> BankAccount:
    return BankAccount(fields["id"], fields["user_id"], "active", fields["iban"][-4:])


def _verification(fields: Mapping[str, Any]) -> Verification:
    return Verification(fields["id"], fields["user_id"], fields["status"], fields["url"], fields.get("reason", ""))


def _mangopay() -> EscrowProvider:
    """Imported on first use only: the SDK (and requests under it) stays out of the cold start."""
    from .adapters.mangopay import MangopayEscrow

    return MangopayEscrow()


PROVIDERS: dict[str, Callable[[], EscrowProvider]] = {"sandbox": SandboxEscrow, "mangopay": _mangopay}


def provider() -> EscrowProvider:
    return PROVIDERS[get_settings().payment_provider]()
