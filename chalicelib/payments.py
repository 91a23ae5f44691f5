"""The payment provider port: collect a succeeded campaign's pledges, release the others.

Both operations are idempotent on the pledge id: calling them again for a pledge already
collected or released changes nothing and answers the same. Only the `sandbox` provider
ships (local and dev stages); a real provider implements the same two methods.

Sandbox payment tokens (the pledge's `payment_token`), deterministic for tests and demos:

    sandbox_ok         collect and release succeed (the default)
    sandbox_declined   every collection fails: "carte refusée"
    sandbox_retry      the first collection fails ("banque injoignable"), later ones succeed
"""

from typing import NamedTuple, Protocol

from . import clock, storage
from .records import Payment, Pledge
from .settings import get_settings

SANDBOX_TOKENS = ("sandbox_ok", "sandbox_declined", "sandbox_retry")


class Outcome(NamedTuple):
    ok: bool
    reason: str = ""


class PaymentProvider(Protocol):
    def collect(self, pledge: Pledge) -> Outcome: ...

    def release(self, pledge: Pledge) -> Outcome: ...


class SandboxProvider:
    """Keeps each pledge's payment state in DynamoDB, as a real provider keeps its own."""

    def collect(self, pledge: Pledge) -> Outcome:
        state = storage.sandbox.get(pledge.id)
        if state and state.status in ("collected", "released"):
            return Outcome(state.status == "collected", state.reason)
        attempts = (state.attempts if state else 0) + 1
        token = pledge.payment_token or "sandbox_ok"
        ok = token == "sandbox_ok" or (token == "sandbox_retry" and attempts > 1)
        reason = "" if ok else ("carte refusée" if token == "sandbox_declined" else "banque injoignable")
        status = "collected" if ok else "failed"
        storage.sandbox.put(pledge.id, Payment(status, attempts, reason, clock.iso(clock.now())))
        return Outcome(ok, reason)

    def release(self, pledge: Pledge) -> Outcome:
        state = storage.sandbox.get(pledge.id)
        if state and state.status == "collected":
            return Outcome(False, "already collected")
        if not (state and state.status == "released"):
            storage.sandbox.put(pledge.id, Payment("released", 0, "", clock.iso(clock.now())))
        return Outcome(True)


PROVIDERS = {"sandbox": SandboxProvider}


def provider() -> PaymentProvider:
    return PROVIDERS[get_settings().payment_provider]()
