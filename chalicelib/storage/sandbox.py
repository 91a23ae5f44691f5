"""The sandbox payment provider's own state (chalicelib/escrow.py), kept in the table as a
real provider keeps its own: wallets with their balance and movements, card payments,
refunds, transfers.

Every money movement changes a wallet's balance and appends the wallet's transaction in
one transaction, conditioned as a provider would refuse it: a payment completes once, a
payment is refunded once, a wallet never goes below zero.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from ..records import EscrowPayment, EscrowTransfer
from . import dynamo, keys

WALLET, PAYIN, TRANSFER = "WALLET", "PAYIN", "TRANSFER"
OWNER, VERIFICATION, BANK_ACCOUNT = "OWNER", "IDV", "BANK"


# --- escrow wallets --------------------------------------------------------------------


def open_wallet(wallet_id: str, description: str, now: str) -> None:
    """A wallet with nothing in it; opening it again changes nothing."""
    item = {**keys.psp_object(WALLET, wallet_id), "id": wallet_id, "description": description, "created_at": now}
    request = dynamo.put({**item, "balance_cents": 0})["Put"]
    dynamo.conditional_put(request)


def wallet_balance(wallet_id: str) -> int | None:
    item = dynamo.get(keys.psp_object(WALLET, wallet_id))
    return int(item["balance_cents"]) if item else None


def wallet_transactions(wallet_id: str, *, limit: int, cursor: str | None) -> tuple[list[EscrowTransfer], str | None]:
    """A wallet's movements, oldest first: payments in (kind "payin"), refunds and transfers out."""
    q = dynamo.Query(
        None,
        "pk = :pk AND begins_with(sk, :tx)",
        {":pk": keys.psp_object(WALLET, wallet_id)["pk"], ":tx": keys.psp_wallet_transactions_prefix()},
    )
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [dynamo.record(EscrowTransfer, item) for item in items], next_cursor


def _movement(wallet_id: str, delta: int, movement: EscrowTransfer) -> list[dynamo.TransactionItem]:
    """A wallet's balance moved by `delta` (never below zero) and its transaction appended."""
    condition = "attribute_exists(pk)" + (" AND balance_cents >= :out" if delta < 0 else "")
    values: dict[str, Any] = {":delta": delta, **({":out": -delta} if delta < 0 else {})}
    balance = dynamo.update(
        keys.psp_object(WALLET, wallet_id), "ADD balance_cents :delta", condition=condition, values=values
    )
    line = {**dynamo.attributes(movement), **keys.psp_wallet_transaction(wallet_id, movement.created_at, movement.id)}
    return [({"Update": balance}, "wallet"), (dynamo.put(line), "wallet transaction")]


# --- card payments into a wallet ---------------------------------------------------------


def create_payment(payment: EscrowPayment) -> EscrowPayment:
    """Record a payment waiting for its payer; the one already made under this id if any
    (the provider's idempotency: the same request answers the same payment)."""
    item = {**dynamo.attributes(payment), **keys.psp_object(PAYIN, payment.id)}
    if dynamo.conditional_put(dynamo.put(item)["Put"]):
        return payment
    existing = get_payment(payment.id)
    assert existing is not None  # it refused the put because it exists
    return existing


def get_payment(payment_id: str) -> EscrowPayment | None:
    item = dynamo.get(keys.psp_object(PAYIN, payment_id))
    return dynamo.record(EscrowPayment, item) if item else None


def complete_payment(payment: EscrowPayment, status: str, result: str, now: str) -> bool:
    """A waiting payment succeeds (its money lands in the wallet) or fails, once: True for
    the one call that completed it."""
    update = dynamo.update(
        keys.psp_object(PAYIN, payment.id),
        "SET #status = :status, executed_at = :now, #result = :result",
        condition="#status = :created",
        names={"#status": "status", "#result": "result"},
        values={":status": status, ":now": now, ":result": result, ":created": "created"},
    )
    items: list[dynamo.TransactionItem] = [({"Update": update}, "payment")]
    if status == "succeeded":
        payin = EscrowTransfer(payment.id, "payin", payment.escrow_id, payment.amount_cents, status, now, payment.id)
        items += _movement(payment.escrow_id, payment.amount_cents, payin)
    try:
        dynamo.transact(items, "the payment is already completed")
        return True
    except dynamo.ConditionFailed:
        return False


# --- money out of a wallet ---------------------------------------------------------------


def get_transfer(transfer_id: str) -> EscrowTransfer | None:
    item = dynamo.get(keys.psp_object(TRANSFER, transfer_id))
    return dynamo.record(EscrowTransfer, item) if item else None


def move_out(
    movement: EscrowTransfer, *, refunded_payment: str | None = None, to_wallet: str | None = None, fees: int = 0
) -> EscrowTransfer:
    """Money out of a wallet (a refund of `refunded_payment`, a transfer `to_wallet` less
    its `fees`, or a payout), once per id; a movement the wallet cannot cover, or a second
    refund of one payment, is recorded as failed. Answers the movement as the provider now
    has it."""
    existing = get_transfer(movement.id)
    if existing:
        return existing
    item = {**dynamo.attributes(movement), **keys.psp_object(TRANSFER, movement.id)}
    items: list[dynamo.TransactionItem] = [(dynamo.put(item), "movement")]
    if refunded_payment:  # before the wallet: a refund the payment cannot take says so first
        refunded = dynamo.update(
            keys.psp_object(PAYIN, refunded_payment),
            "SET refunded_by = :id",
            condition="#status = :succeeded AND attribute_not_exists(refunded_by)",
            names={"#status": "status"},
            values={":id": movement.id, ":succeeded": "succeeded"},
        )
        items.append(({"Update": refunded}, "payment"))
    items += _movement(movement.escrow_id, -movement.amount_cents, movement)
    if to_wallet:
        items += _movement(to_wallet, movement.amount_cents - fees, movement)
    try:
        dynamo.transact(items, "the provider refused the movement")
        return movement
    except dynamo.ConditionFailed as refused:
        if refused.item == "movement":
            return get_transfer(movement.id) or movement  # made meanwhile by the same request
        return record_failure(movement._replace(status="failed", result=_refusal(refused.item)))


def move_in(movement: EscrowTransfer) -> None:
    """Money back into a wallet (a payout the bank returned), once per id."""
    item = {**dynamo.attributes(movement), **keys.psp_object(TRANSFER, movement.id)}
    items = [(dynamo.put(item), "movement"), *_movement(movement.escrow_id, movement.amount_cents, movement)]
    with contextlib.suppress(dynamo.ConditionFailed):  # made by the same request
        dynamo.transact(items, "the movement is recorded already")


def record_failure(failed: EscrowTransfer) -> EscrowTransfer:
    """A movement the provider refused, kept under its id (asked again, the same answer)."""
    dynamo.conditional_put(dynamo.put({**dynamo.attributes(failed), **keys.psp_object(TRANSFER, failed.id)})["Put"])
    return get_transfer(failed.id) or failed


def _refusal(item: str) -> str:
    reasons: Mapping[str, str] = {
        "wallet": "solde insuffisant",
        "payment": "paiement non remboursable (non abouti ou déjà remboursé)",
    }
    return reasons.get(item, "mouvement refusé")


# --- the owners' side: users, verifications, bank accounts -------------------------------


def create_object(kind: str, object_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """An owner, verification or bank account made once under its id; answers it as kept."""
    item = {**fields, **keys.psp_object(kind, object_id)}
    if not dynamo.conditional_put(dynamo.put(item)["Put"]):
        item = dynamo.get(keys.psp_object(kind, object_id)) or item
    return {k: v for k, v in item.items() if k not in keys.KEY_ATTRIBUTES}


def get_object(kind: str, object_id: str) -> dict[str, Any] | None:
    item = dynamo.get(keys.psp_object(kind, object_id))
    return {k: v for k, v in item.items() if k not in keys.KEY_ATTRIBUTES} if item else None


def complete_verification(verification_id: str, status: str, reason: str) -> bool:
    """A pending verification approved or refused, once: True for the call that did it."""
    return dynamo.conditional_update(
        dynamo.update(
            keys.psp_object(VERIFICATION, verification_id),
            "SET #status = :status, reason = :reason",
            condition="#status = :pending",
            names={"#status": "status"},
            values={":status": status, ":reason": reason, ":pending": "pending"},
        )
    )
