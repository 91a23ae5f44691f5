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
from typing import NamedTuple, Protocol

from . import clock, storage
from .records import EscrowPayment, EscrowTransfer
from .settings import get_settings

# Mangopay's hook events (docs.mangopay.com, "Hooks": EventType), which the sandbox sends too.
EVENT_KINDS = {
    "PAYIN_NORMAL_SUCCEEDED": "payment",
    "PAYIN_NORMAL_FAILED": "payment",
    "PAYIN_REFUND_SUCCEEDED": "refund",
    "PAYIN_REFUND_FAILED": "refund",
    "TRANSFER_NORMAL_SUCCEEDED": "transfer",
    "TRANSFER_NORMAL_FAILED": "transfer",
}


class Notification(NamedTuple):
    """What a provider's notification names: the kind of resource to re-read, and its id."""

    kind: str  # payment | refund | transfer
    resource_id: str


class Payer(NamedTuple):
    """Who pays a pledge, as a provider must know them. `user_id` is their user at the
    provider (Mangopay requires one): made at their first pledge by `register_payer`, then
    kept on their profile and given with each of their payments."""

    contributor_id: str
    name: str
    email: str
    user_id: str | None = None


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

    # `payee_wallet_id`: the owner's wallet at the provider (comes with the owner's payout account).
    def release(
        self, escrow_id: str, amount_cents: int, reference: str, payee_wallet_id: str | None = None
    ) -> EscrowTransfer: ...

    def escrow_balance(self, escrow_id: str) -> int: ...

    def escrow_transactions(self, escrow_id: str) -> list[EscrowTransfer]: ...

    def notification(self, params: Mapping[str, str]) -> Notification | None: ...


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
        self, escrow_id: str, amount_cents: int, reference: str, payee_wallet_id: str | None = None
    ) -> EscrowTransfer:
        """Money out of the escrow; the sandbox has no owner side to credit."""
        transfer = EscrowTransfer(
            _reference("transfer", reference), "transfer", escrow_id, amount_cents, "succeeded", clock.iso(clock.now())
        )
        return storage.sandbox.move_out(transfer)

    def escrow_balance(self, escrow_id: str) -> int:
        return storage.sandbox.wallet_balance(escrow_id) or 0

    def escrow_transactions(self, escrow_id: str) -> list[EscrowTransfer]:
        return list(storage.every(storage.sandbox.wallet_transactions, escrow_id))

    def notification(self, params: Mapping[str, str]) -> Notification | None:
        return parse_hook(params)


def _mangopay() -> EscrowProvider:
    """Imported on first use only: the SDK (and requests under it) stays out of the cold start."""
    from .adapters.mangopay import MangopayEscrow

    return MangopayEscrow()


PROVIDERS: dict[str, Callable[[], EscrowProvider]] = {"sandbox": SandboxEscrow, "mangopay": _mangopay}


def provider() -> EscrowProvider:
    return PROVIDERS[get_settings().payment_provider]()
