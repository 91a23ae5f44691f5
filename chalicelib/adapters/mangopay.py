"""The escrow port (chalicelib/escrow.py) at Mangopay, on its official Python SDK
(mangopay4-python-sdk).

What each record is at Mangopay:
- an escrow: a wallet in EUR per live campaign (its Tag is the campaign's id), owned by the
  platform's own user at Mangopay (setting MANGOPAY_ESCROW_USER_ID);
- a payer: a natural user (UserCategory PAYER) per contributor, made at their first pledge
  (`register_payer`); the caller keeps its id on their profile;
- a payment: a Web Card PayIn into the escrow (its Tag is the pledge's id): Mangopay's hosted
  page at RedirectURL, 3-D Secure as Mangopay applies it (SecureMode DEFAULT), then back to
  the ReturnURL;
- a refund: a PayIn's refund, in full; a release: a Transfer from the escrow to the owner's
  wallet, the platform's commission kept as its Fees;
- the owners' side (their users, identity verification, bank accounts, payouts):
  chalicelib/adapters/mangopay_owners.py, which MangopayEscrow inherits.

Every POST carries an Idempotency-Key derived from the platform's reference (the stage and
a pledge, a campaign…). Mangopay blocks a key used again within 24 hours (409) and keeps
the first answer, read back at /responses/{key}: a retry gets the first resource. After
24 hours the key is forgotten, so the caller keeps the ids it is given.

Requests (chalicelib/adapters/mangopay_client.py) go through the SDK (its OAuth token,
Idempotency-Key header, errors), answers are
read as Mangopay documents them (raw JSON: the SDK's models drop fields the port needs, such
as a PayIn's CreationDate). Credentials per stage come from SSM Parameter Store, read once
per container. The SDK, requests and Powertools' parameters are imported on first use,
never with the app (cold start, bench/cold_start.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import clock
from ..escrow import Notification, Payer, ProviderError, parse_hook
from ..records import EscrowPayment, EscrowTransfer
from .mangopay_client import (
    CURRENCY,
    DESCRIPTION_MAX,
    KINDS,
    PAGE_SIZE,
    TAG_MAX,
    _cents,
    _created_at,
    _iso,
    _movement,
    _result,
    _sdk,
    _status,
    idempotency_key,
)
from .mangopay_owners import MangopayOwners


def _tag(pledge_id: str, campaign_id: str, payer: Payer) -> str:
    """A PayIn's Tag (its free text, 255 characters at most): the pledge it pays, then its
    campaign and contributor when they fit, read back by `_payment`."""
    tag = " ".join((pledge_id, campaign_id, payer.contributor_id))
    return tag if campaign_id and payer.contributor_id and len(tag) <= TAG_MAX else pledge_id


def _payment(payin: Mapping[str, Any]) -> EscrowPayment:
    pledge_id, _, named = str(payin.get("Tag") or "").partition(" ")
    campaign_id, _, contributor_id = named.partition(" ")
    return EscrowPayment(
        id=str(payin["Id"]),
        pledge_id=pledge_id,
        campaign_id=campaign_id,
        contributor_id=contributor_id,
        escrow_id=str(payin.get("CreditedWalletId") or ""),
        amount_cents=_cents(payin.get("DebitedFunds")),
        status=_status(payin),
        redirect_url=str(payin.get("RedirectURL") or ""),
        created_at=_created_at(payin),
        executed_at=_iso(payin.get("ExecutionDate")),
        result=_result(payin),
        payer_id=str(payin.get("AuthorId") or ""),
    )


def _transaction(escrow_id: str, transaction: Mapping[str, Any]) -> EscrowTransfer:
    """One line of a wallet's transactions: money in (a payin, counted as credited) or out."""
    kind = "refund" if transaction.get("Nature") == "REFUND" else KINDS.get(str(transaction.get("Type")), "other")
    movement = _movement(transaction, kind, escrow_id, str(transaction["Id"]) if kind == "payin" else None)
    if kind == "payin":
        return movement._replace(amount_cents=_cents(transaction.get("CreditedFunds")))
    return movement


class MangopayEscrow(MangopayOwners):
    """The `mangopay` provider: escrows, payers, payments, refunds, releases; the owners'
    side from MangopayOwners, requests from MangopayClient."""

    def open_escrow(self, campaign_id: str, title: str) -> str:
        wallet = self._post(
            _sdk().resources.Wallet,
            {
                "Owners": [self._escrow_user()],
                "Description": f"Séquestre de « {title} »"[:DESCRIPTION_MAX],
                "Currency": CURRENCY,
                "Tag": campaign_id,
            },
            idempotency_key("wallet", campaign_id),
        )
        return str(wallet["Id"])

    def register_payer(self, payer: Payer) -> str:
        """The contributor's natural user (a PAYER needs only a name and an e-mail). The
        platform knows one name: its first word is the first name, the rest the last name."""
        if payer.user_id:
            return payer.user_id
        first, _, last = " ".join(payer.name.split()).partition(" ")
        user = self._post(
            _sdk().resources.NaturalUserSca,
            {
                "FirstName": first or "Contributeur",
                "LastName": last or first or "Contributeur",
                "Email": payer.email,
                "UserCategory": "PAYER",
                "TermsAndConditionsAccepted": False,  # an OWNER's acceptance, not a payer's
                "Tag": payer.contributor_id,
            },
            idempotency_key("user", payer.contributor_id),
        )
        return str(user["Id"])

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
        if payer is None or not payer.user_id:
            raise ValueError("a Mangopay payment needs its payer's user: register_payer, then keep its id")
        payin = self._post(
            _sdk().resources.CardWebPayIn,
            {
                "AuthorId": payer.user_id,
                "CreditedWalletId": escrow_id,
                "DebitedFunds": {"Currency": CURRENCY, "Amount": amount_cents},
                "Fees": {"Currency": CURRENCY, "Amount": 0},
                "ReturnURL": return_url,
                "CardType": "CB_VISA_MASTERCARD",
                "SecureMode": "DEFAULT",
                "Culture": "FR",
                "Tag": _tag(pledge_id, campaign_id, payer),
            },
            idempotency_key("payin", pledge_id),
        )
        return _payment(payin)

    def read_payment(self, payment_id: str) -> EscrowPayment | None:
        """The PayIn as Mangopay has it now; None if it is not a card payment on its hosted page."""
        payin = self._get(f"/payins/{payment_id}")
        if not isinstance(payin, Mapping) or (payin.get("PaymentType"), payin.get("ExecutionType")) != ("CARD", "WEB"):
            return None
        return _payment(payin)

    def refund(self, payment: EscrowPayment) -> EscrowTransfer:
        """The whole payment back to the card it came from. A payment that did not succeed, or
        that Mangopay will not refund, answers a failed refund that says why."""
        key = idempotency_key("refund", payment.id)
        refused = EscrowTransfer(
            key, "refund", payment.escrow_id, payment.amount_cents, "failed", clock.iso(clock.now()), payment.id
        )
        author = payment.payer_id if payment.status == "succeeded" else ""
        if not author:  # read again: whether it succeeded (meanwhile?), and who paid it
            payin = self._get(f"/payins/{payment.id}")
            if not isinstance(payin, Mapping) or payin.get("Status") != "SUCCEEDED":
                status = payin.get("Status") if isinstance(payin, Mapping) else "inconnu"
                return refused._replace(result=f"paiement non remboursable ({status})")
            author = payin["AuthorId"]
        try:
            refund = self._post(
                _sdk().resources.PayInRefund,
                {"AuthorId": author, "Tag": payment.pledge_id},
                key,
                payin_id=payment.id,
            )
        except ProviderError as error:
            if error.retryable:
                raise
            return refused._replace(result=str(error))
        return _movement(refund, "refund", payment.escrow_id, payment.id)

    def release(
        self,
        escrow_id: str,
        amount_cents: int,
        reference: str,
        payee_wallet_id: str | None = None,
        commission_cents: int = 0,
    ) -> EscrowTransfer:
        """A Transfer from the escrow to `payee_wallet_id`, the owner's wallet, less the
        platform's commission: its Fees, for the platform's Fees Wallet (docs.mangopay.com/
        guides/fees). A transfer the escrow cannot cover is FAILED at Mangopay (001001), and
        so here. No ScaContext: required only of a debited wallet owned by an OWNER; the
        escrow's owner is the platform's own user, which must be its PLATFORM user."""
        if not payee_wallet_id:
            raise ValueError("a Mangopay release needs the owner's wallet (payee_wallet_id)")
        if not 0 <= commission_cents <= amount_cents:
            raise ValueError(f"a commission of {commission_cents} cents cannot be kept from {amount_cents}")
        return self._move_out(
            _sdk().resources.Transfer,
            {
                "AuthorId": self._escrow_user(),
                "DebitedWalletId": escrow_id,
                "CreditedWalletId": payee_wallet_id,
                "DebitedFunds": {"Currency": CURRENCY, "Amount": amount_cents},
                "Fees": {"Currency": CURRENCY, "Amount": commission_cents},
                "Tag": reference,
            },
            idempotency_key("transfer", reference),
            "transfer",
            escrow_id,
            amount_cents,
        )

    def escrow_balance(self, escrow_id: str) -> int:
        wallet = self._get(f"/wallets/{escrow_id}")
        return _cents(wallet.get("Balance")) if isinstance(wallet, Mapping) else 0

    def escrow_transactions(self, escrow_id: str) -> list[EscrowTransfer]:
        """The money that moved (SUCCEEDED), oldest first, every page."""
        movements: list[EscrowTransfer] = []
        page = 1
        while True:
            batch = self._get(
                f"/wallets/{escrow_id}/transactions",
                Status="SUCCEEDED",
                Sort="CreationDate:ASC",
                page=page,
                per_page=PAGE_SIZE,
            )
            batch = batch if isinstance(batch, list) else []
            movements += [_transaction(escrow_id, transaction) for transaction in batch]
            if len(batch) < PAGE_SIZE:
                return movements
            page += 1

    def notification(self, params: Mapping[str, str]) -> Notification | None:
        """Mangopay's hooks are unsigned: the notification only names what to read again."""
        return parse_hook(params)
