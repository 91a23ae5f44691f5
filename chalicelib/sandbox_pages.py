"""The sandbox provider's hosted pages, served by the local stack: the payment page at a
pending pledge's `redirect_url`, and the identity verification page at a payout account's
`verification_url` (SPEC "Money (v2)", local stage).

It plays what a provider's page does: the payer pays or the card is refused (a POST of
the form field `outcome`), the provider completes the payment and then notifies the API,
which reads the payment again and moves the pledge (chalicelib/payments.py); the browser
goes back to the pledge's `return_url`. Abandoning the page is leaving it: the pledge
expires with its window. Only a stage whose provider is the sandbox serves it.
"""

from __future__ import annotations

from html import escape

from . import escrow, notifications, owners, payments, storage
from .errors import NotFound
from .records import EscrowPayment, Pledge, Verification

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>{title} (bac à sable)</title></head>
<body><main>
<h1>{heading} — bac à sable Ozé</h1>
<p>{detail}</p>
{form}
</main></body></html>
"""
FORM = """<form method="post">
<button name="outcome" value="succeeded">Payer (3-D Secure réussi)</button>
<button name="outcome" value="failed">Refuser la carte</button>
</form>"""


def _page(title: str, heading: str, detail: str, form: str = "") -> str:
    return PAGE.format(title=title, heading=escape(heading), detail=escape(detail), form=form)


def _sandbox(page: str) -> escrow.SandboxEscrow:
    """The stage's provider, if it is the sandbox: only then does it serve its pages."""
    provider = escrow.provider()
    if not isinstance(provider, escrow.SandboxEscrow):
        raise NotFound(f"this stage has no sandbox {page} page")
    return provider


def _payment(payment_id: str) -> tuple[escrow.SandboxEscrow, EscrowPayment]:
    provider = _sandbox("payment")
    payment = provider.read_payment(payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    return provider, payment


def page(payment_id: str) -> str:
    """The hosted page of a payment: buttons while it waits, its outcome afterwards."""
    _, payment = _payment(payment_id)
    heading = f"Paiement de {notifications.euros(payment.amount_cents)}"
    if payment.settled:
        detail = "Ce paiement a réussi." if payment.status == "succeeded" else f"Paiement refusé : {payment.result}."
        return _page("Paiement", heading, detail)
    return _page("Paiement", heading, f"Séquestre {payment.escrow_id}, référence {payment.id}.", FORM)


def complete(payment_id: str, outcome: str) -> tuple[Pledge | None, str]:
    """The payer's choice: the payment completed at the provider, then its notification
    delivered to the API. Answers the pledge as it now is, and the page to show."""
    provider, payment = _payment(payment_id)
    provider.complete(payment.id, outcome)
    # Notified whether or not this click completed it: a second click, or a completion whose
    # answer was lost, finds the payment done and the pledge moved (once).
    pledge = payments.settle_payment(payment.id) or storage.pledges.get(payment.pledge_id)
    return pledge, page(payment_id)


VERIFICATION_FORM = """<form method="post">
<button name="outcome" value="verified">Identité vérifiée</button>
<button name="outcome" value="refused">Refuser les pièces</button>
</form>"""


def _verification(verification_id: str) -> tuple[escrow.SandboxEscrow, Verification]:
    provider = _sandbox("verification")
    verification = provider.read_verification(verification_id)
    if verification is None:
        raise NotFound(f"no verification {verification_id}")
    return provider, verification


def verification_page(verification_id: str) -> str:
    """The hosted verification page: buttons while it waits, its outcome afterwards."""
    _, verification = _verification(verification_id)
    title = "Vérification d'identité"
    if verification.status == "pending":
        return _page(title, title, f"Référence {verification.id}.", VERIFICATION_FORM)
    detail = "Identité vérifiée." if verification.status == "verified" else f"Refusée : {verification.reason}."
    return _page(title, title, detail)


def complete_verification(verification_id: str, outcome: str) -> tuple[str | None, str]:
    """The owner's documents accepted or refused, then the notification delivered to the
    API. Answers where to send the browser back (None: stay), and the page to show."""
    provider, verification = _verification(verification_id)
    provider.complete_verification(verification.id, outcome)
    owners.notified("verification", verification.id)
    kept = storage.sandbox.get_object(storage.sandbox.VERIFICATION, verification.id) or {}
    return kept.get("return_url"), verification_page(verification_id)
