"""The payment provider port: collect a succeeded campaign's pledges, release the others.

Both operations are idempotent on the pledge id: calling them again for a pledge already
collected or released changes nothing and answers the same. Only the `sandbox` provider
ships (local and dev stages); a real provider implements the same two methods.

Sandbox payment tokens (the pledge's `payment_token`), deterministic for tests and demos:

    sandbox_ok         collect and release succeed (the default)
    sandbox_declined   every collection fails: "carte refusée"
    sandbox_retry      the first collection fails ("banque injoignable"), later ones succeed
"""

from typing import Any, NamedTuple, Protocol

from . import clock, storage
from .settings import get_settings

SANDBOX_TOKENS = ("sandbox_ok", "sandbox_declined", "sandbox_retry")


class Outcome(NamedTuple):
    ok: bool
    reason: str = ""


class PaymentProvider(Protocol):
    def collect(self, pledge: dict[str, Any]) -> Outcome: ...

    def release(self, pledge: dict[str, Any]) -> Outcome: ...


class SandboxProvider:
    """Keeps each pledge's payment state in DynamoDB, as a real provider keeps its own."""

    def collect(self, pledge: dict[str, Any]) -> Outcome:
        state = storage.get_payment(pledge["id"]) or {"attempts": 0}
        if state.get("status") in ("collected", "released"):
            return Outcome(state["status"] == "collected", state.get("reason", ""))
        attempts = state["attempts"] + 1
        token = pledge.get("payment_token", "sandbox_ok")
        ok = token == "sandbox_ok" or (token == "sandbox_retry" and attempts > 1)
        reason = "" if ok else ("carte refusée" if token == "sandbox_declined" else "banque injoignable")
        status = "collected" if ok else "failed"
        storage.put_payment(
            pledge["id"], {"status": status, "reason": reason, "attempts": attempts, "at": clock.iso(clock.now())}
        )
        return Outcome(ok, reason)

    def release(self, pledge: dict[str, Any]) -> Outcome:
        state = storage.get_payment(pledge["id"]) or {}
        if state.get("status") == "collected":
            return Outcome(False, "already collected")
        if state.get("status") != "released":
            storage.put_payment(pledge["id"], {"status": "released", "attempts": 0, "at": clock.iso(clock.now())})
        return Outcome(True)


PROVIDERS = {"sandbox": SandboxProvider}


def provider() -> PaymentProvider:
    return PROVIDERS[get_settings().payment_provider]()
