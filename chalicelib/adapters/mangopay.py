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

Requests go through the SDK (its OAuth token, Idempotency-Key header, errors), answers are
read as Mangopay documents them (raw JSON: the SDK's models drop fields the port needs, such
as a PayIn's CreationDate). Credentials per stage come from SSM Parameter Store, read once
per container. The SDK, requests and Powertools' parameters are imported on first use,
never with the app (cold start, bench/cold_start.py).
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .. import clock
from ..escrow import Notification, Payer, ProviderError, parse_hook
from ..records import EscrowPayment, EscrowTransfer
from ..settings import ConfigurationError, get_settings
from .mangopay_owners import MangopayOwners

CURRENCY = "EUR"
API_VERSION = "v2.01"
TAG_MAX = 255  # a resource's Tag (docs.mangopay.com, "The PayIn object")
TIMEOUT_SECONDS = 10.0  # below the API function's own timeout (.chalice/config.json)
PAGE_SIZE = 100  # the most Mangopay lists per page
STATUSES = {"CREATED": "created", "SUCCEEDED": "succeeded", "FAILED": "failed"}
# A wallet's transactions, by Type and Nature (a PayIn's refund is a PAYOUT of nature REFUND).
KINDS = {"PAYIN": "payin", "TRANSFER": "transfer", "PAYOUT": "payout"}
DESCRIPTION_MAX = 255  # a wallet's Description


class Credentials(NamedTuple):
    client_id: str
    api_key: str


def parameter_names(stage: str) -> Credentials:
    """Where a stage's credentials live (SecureString parameters). Named after the stage's
    resources (oze-<stage>), which .chalice/policy-<stage>.json grants ssm:GetParameter on."""
    return Credentials(f"/oze-{stage}/mangopay/client-id", f"/oze-{stage}/mangopay/api-key")


@functools.lru_cache(maxsize=4)
def stage_credentials(stage: str) -> Credentials:
    """Read from SSM once per container (SSM decrypts them); a rotated key reaches new
    containers. `force_fetch`: this cache is the only one."""
    from aws_lambda_powertools.utilities import parameters

    names = parameter_names(stage)
    return Credentials(
        parameters.get_parameter(names.client_id, decrypt=True, force_fetch=True),
        parameters.get_parameter(names.api_key, decrypt=True, force_fetch=True),
    )


class _SDK(NamedTuple):
    APIRequest: Any
    APIError: Any
    InsertQuery: Any
    resources: Any
    HTTPAdapter: Any


@functools.cache
def _sdk() -> _SDK:
    """The SDK, imported on first use (requests with it: about 0.3 s, never in the cold start)."""
    from mangopay import api, exceptions, query, resources  # type: ignore[import-untyped]
    from requests.adapters import HTTPAdapter

    return _SDK(api.APIRequest, exceptions.APIError, query.InsertQuery, resources, HTTPAdapter)


class _Tokens:
    """The OAuth token of one handler (the SDK's default store is shared by every handler)."""

    def __init__(self) -> None:
        self._tokens: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self._tokens.get(key)

    def store(self, token: Any, key: str) -> None:
        self._tokens[key] = token


@functools.lru_cache(maxsize=4)
def _handler(credentials: Credentials, api_url: str) -> Any:
    """The SDK's request handler, made once per container. Its logger is silenced: its error
    lines carry the request's body (a payer's name and e-mail); ours say what failed."""
    logging.getLogger("mangopay").setLevel(logging.CRITICAL)
    handler = _sdk().APIRequest(
        client_id=credentials.client_id,
        apikey=credentials.api_key,
        api_url=f"{api_url}/{API_VERSION}/",
        sandbox=False,  # the stage's URL above, sandbox or production
        timeout=TIMEOUT_SECONDS,
        storage_strategy=_Tokens(),
    )
    # A settlement refunds REFUND_CONCURRENCY at once through this handler: a kept
    # connection for each (requests keeps 10 and opens a new TLS connection beyond).
    connections = max(10, get_settings().refund_concurrency)
    handler._session.mount("https://", _sdk().HTTPAdapter(pool_connections=1, pool_maxsize=connections))
    return handler


def idempotency_key(kind: str, *reference: str) -> str:
    """The Idempotency-Key of a request: the same platform reference, the same key (Mangopay
    takes 16 to 36 letters, digits and dashes). The stage keeps two stages on one Mangopay
    account apart."""
    digest = hashlib.sha256("/".join((get_settings().stage, kind, *reference)).encode()).hexdigest()
    return f"oze-{kind}-{digest[:20]}"


def _iso(epoch: Any) -> str | None:
    """Mangopay's Unix timestamps (UTC seconds) as the platform writes times."""
    return clock.iso(datetime.fromtimestamp(int(epoch), UTC)) if epoch not in (None, "") else None


def _cents(funds: Any) -> int:
    """Mangopay's Amount is already in cents."""
    return int(funds["Amount"]) if isinstance(funds, Mapping) and funds.get("Amount") is not None else 0


def _status(resource: Mapping[str, Any]) -> str:
    status = STATUSES.get(str(resource.get("Status")))
    if status is None:
        raise ProviderError(f"Mangopay: unknown status {resource.get('Status')!r}", retryable=False)
    return status


def _result(resource: Mapping[str, Any]) -> str:
    """A failure's reason: ResultMessage, with its ResultCode (docs.mangopay.com/errors/codes/…)."""
    if resource.get("Status") != "FAILED":
        return ""
    message, code = resource.get("ResultMessage") or "", resource.get("ResultCode") or ""
    return f"{message} ({code})" if message and code else message or code or "refusé par Mangopay"


def _created_at(resource: Mapping[str, Any]) -> str:
    return _iso(resource.get("CreationDate")) or clock.iso(clock.now())


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


def _movement(resource: Mapping[str, Any], kind: str, escrow_id: str, payment_id: str | None = None) -> EscrowTransfer:
    return EscrowTransfer(
        id=str(resource["Id"]),
        kind=kind,
        escrow_id=escrow_id,
        amount_cents=_cents(resource.get("DebitedFunds")),
        status=_status(resource),
        created_at=_created_at(resource),
        payment_id=payment_id,
        result=_result(resource),
    )


def _transaction(escrow_id: str, transaction: Mapping[str, Any]) -> EscrowTransfer:
    """One line of a wallet's transactions: money in (a payin, counted as credited) or out."""
    kind = "refund" if transaction.get("Nature") == "REFUND" else KINDS.get(str(transaction.get("Type")), "other")
    movement = _movement(transaction, kind, escrow_id, str(transaction["Id"]) if kind == "payin" else None)
    if kind == "payin":
        return movement._replace(amount_cents=_cents(transaction.get("CreditedFunds")))
    return movement


class MangopayError(ProviderError):
    """A ProviderError with Mangopay's HTTP status (None: not reached) and its own reason
    (its Message and errors, "" when its answer gave none)."""

    def __init__(self, message: str, *, retryable: bool, code: int | None = None, reason: str = "") -> None:
        super().__init__(message, retryable=retryable)
        self.code, self.reason = code, reason


def _refusal(code: int | None, content: Any, fallback: str) -> MangopayError:
    """Mangopay's answer as the port says it: retryable when Mangopay was not reached (no
    code), limited the rate (429) or failed (5xx); otherwise a refusal, with its reason:
    the Message, then each field's error (`errors`, or `Errors` on the newer endpoints)."""
    reason = ""
    if isinstance(content, Mapping):
        details = content.get("errors") or content.get("Errors")
        details = [f"{field}: {text}" for field, text in details.items()] if isinstance(details, Mapping) else []
        reason = "; ".join([str(content.get("Message") or ""), *details]).strip("; ")
    retryable = code is None or code == 429 or code >= 500
    return MangopayError(
        f"Mangopay {code or 'unreachable'}: {reason or fallback}", retryable=retryable, code=code, reason=reason
    )


def _failure(error: Any) -> MangopayError:
    """An SDK APIError as the port says it (`_refusal`)."""
    return _refusal(getattr(error, "code", None), getattr(error, "content", None), str(error))


class MangopayEscrow(MangopayOwners):
    """The `mangopay` provider. `credentials` (tests, the contract test) replaces the stage's
    from SSM; everything else comes from the stage's settings."""

    def __init__(self, credentials: Credentials | None = None) -> None:
        self._credentials = credentials

    @property
    def _api(self) -> Any:
        settings = get_settings()
        return _handler(self._credentials or stage_credentials(settings.stage), settings.mangopay_api_url)

    # --- requests -----------------------------------------------------------------------

    def _post(
        self, model: Any, body: Mapping[str, Any], key: str, *, identifier: str | None = None, **path: str
    ) -> dict[str, Any]:
        """POST with the request's Idempotency-Key; a key already used answers the first
        response (409, then /responses/{key}). `identifier`: which of the model's URLs
        (Meta.url), when it is not its INSERT one."""
        query = _sdk().InsertQuery(model, idempotency_key=key, path_params=path or None, **body)
        if identifier:
            query.identifier = identifier
        try:
            answer: dict[str, Any] = query.execute(self._api, strict_dict_parsing=False)
        except _sdk().APIError as error:
            if error.code == 409:
                return self._first_answer(key)
            raise _failure(error) from error
        return answer

    def _first_answer(self, key: str) -> dict[str, Any]:
        """The response Mangopay kept for `key` (docs.mangopay.com, "View an API Response").
        None yet: the first request is still being processed; the caller tries again later."""
        try:
            _, kept = self._api.request("GET", f"/responses/{key}")
        except _sdk().APIError as error:
            raise ProviderError(f"Mangopay: no answer yet for {key} ({error.code})", retryable=True) from error
        if not isinstance(kept, Mapping) or "StatusCode" not in kept:
            raise ProviderError(f"Mangopay: no answer yet for {key}", retryable=True)
        status = int(kept.get("StatusCode") or 0)
        resource = kept.get("Resource") or {}
        if 200 <= status < 300:
            return dict(resource)
        raise _refusal(status, resource, "refused")

    def _get(self, path: str, **params: Any) -> Any:
        """GET; None when Mangopay has no such resource (404)."""
        try:
            result, data = self._api.request("GET", path, **params)
        except _sdk().APIError as error:
            if error.code == 404:
                return None
            raise _failure(error) from error
        return None if result.status_code == 404 else data

    def _escrow_user(self) -> str:
        user_id = get_settings().mangopay_escrow_user_id
        if not user_id:
            raise ConfigurationError("MANGOPAY_ESCROW_USER_ID: the platform's user at Mangopay is not set")
        return user_id

    # --- the port -----------------------------------------------------------------------

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
        key = idempotency_key("transfer", reference)
        try:
            transfer = self._post(
                _sdk().resources.Transfer,
                {
                    "AuthorId": self._escrow_user(),
                    "DebitedWalletId": escrow_id,
                    "CreditedWalletId": payee_wallet_id,
                    "DebitedFunds": {"Currency": CURRENCY, "Amount": amount_cents},
                    "Fees": {"Currency": CURRENCY, "Amount": commission_cents},
                    "Tag": reference,
                },
                key,
            )
        except ProviderError as error:
            if error.retryable:
                raise
            now = clock.iso(clock.now())
            return EscrowTransfer(key, "transfer", escrow_id, amount_cents, "failed", now, result=str(error))
        return _movement(transfer, "transfer", escrow_id)

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
