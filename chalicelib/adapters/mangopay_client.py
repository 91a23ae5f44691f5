"""Mangopay's API as the adapters call it (chalicelib/adapters/mangopay.py for the escrow,
mangopay_owners.py for the owners' side): the SDK imported on first use, one request
handler per container with the stage's credentials from SSM, every POST with an
Idempotency-Key (409: the first answer, read back), errors as the port says them, and
Mangopay's objects read as its documentation shows them."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from .. import clock
from ..escrow import ProviderError
from ..records import EscrowTransfer
from ..settings import ConfigurationError, get_settings

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


class MangopayClient:
    """Requests to Mangopay as one stage makes them. `credentials` (tests, the contract
    test) replaces the stage's from SSM; everything else comes from the stage's settings."""

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

    def _move_out(
        self, model: Any, body: Mapping[str, Any], key: str, kind: str, wallet_id: str, amount_cents: int
    ) -> EscrowTransfer:
        """Money out of a wallet (a transfer, a payout): one Mangopay refuses at once is a
        failed movement that says why; one it could not answer raises, to be asked again."""
        try:
            moved = self._post(model, body, key)
        except ProviderError as error:
            if error.retryable:
                raise
            now = clock.iso(clock.now())
            return EscrowTransfer(key, kind, wallet_id, amount_cents, "failed", now, result=str(error))
        return _movement(moved, kind, wallet_id)

    def _escrow_user(self) -> str:
        user_id = get_settings().mangopay_escrow_user_id
        if not user_id:
            raise ConfigurationError("MANGOPAY_ESCROW_USER_ID: the platform's user at Mangopay is not set")
        return user_id

    # --- the port -----------------------------------------------------------------------
