"""Records of money at the payment provider (SPEC "Money (v2)"): the ledger, the escrow's
payments and movements, the reconciliation, owners' payout accounts and payouts.
Imported through chalicelib.records, as every record is."""

# No `from __future__ import annotations` here: see chalicelib/records/__init__.py.
from typing import NamedTuple

# --- money at the payment provider (SPEC "Money (v2)") -----------------------------------

# What each kind of ledger entry does to a campaign's escrow balance: the ledger's sum per
# campaign is the escrow's balance at the provider (the daily reconciliation's check).
# The owner's side (commission, payout, a payout the bank returned) is out of the escrow.
LEDGER_ESCROW_SIGN = {
    "paid": 1,
    "refunded": -1,
    "collected": -1,
    "commission": 0,
    "payout": 0,
    "payout_returned": 0,
}


class LedgerEntry(NamedTuple):
    """One money movement at the provider, appended once per provider transaction."""

    campaign_id: str
    kind: str  # LEDGER_ESCROW_SIGN's
    amount_cents: int
    transaction_id: str  # the provider's transaction that moved the money
    created_at: str
    pledge_id: str | None = None

    @property
    def escrow_effect_cents(self) -> int:
        return LEDGER_ESCROW_SIGN[self.kind] * self.amount_cents


class EscrowPayment(NamedTuple):
    """A contributor's card payment into a campaign's escrow, as the provider reports it."""

    id: str
    pledge_id: str
    escrow_id: str
    amount_cents: int
    status: str  # created | succeeded | failed
    redirect_url: str
    created_at: str
    executed_at: str | None = None
    result: str = ""  # the provider's reason for a failure
    payer_id: str = ""  # the contributor's user at the provider (Mangopay refunds name it)
    # Its pledge's campaign and contributor, as the payment was started with them: its
    # confirmation reads the pledge, the campaign and the contributor at once.
    campaign_id: str = ""
    contributor_id: str = ""

    @property
    def settled(self) -> bool:
        return self.status != "created"


class EscrowTransfer(NamedTuple):
    """Money out of a wallet at the provider: a refund to a contributor's card, the
    transfer of a succeeded campaign's escrow to its owner's wallet, a payout of that
    wallet to the owner's bank; or back into it, a payout the bank returned."""

    id: str
    kind: str  # refund | transfer | payout | payout_return
    escrow_id: str  # the wallet debited (credited, for a payout's return)
    amount_cents: int
    status: str  # created (a payout the bank has not answered yet) | succeeded | failed
    created_at: str
    payment_id: str | None = None  # a refund's payment; a return's payout
    result: str = ""  # why it failed; why the bank returned it


class EscrowCheck(NamedTuple):
    """One escrow as the reconciliation found it: its balance at the provider and the sum
    of its campaign's ledger entries, which must be equal."""

    campaign_id: str
    campaign_title: str
    escrow_id: str
    provider_cents: int
    ledger_cents: int

    @property
    def difference_cents(self) -> int:
        return self.provider_cents - self.ledger_cents


class Reconciliation(NamedTuple):
    """A reconciliation run: how many escrows it checked, and those that differ."""

    run_at: str | None  # None: no run yet
    escrows_checked: int
    differences: tuple[EscrowCheck, ...] = ()
    unreadable: tuple[str, ...] = ()  # campaigns whose escrow the provider could not be asked about


# --- owners' side at the payment provider (SPEC "Money (v2)", Owners) ----------------------

PAYOUT_ACCOUNT_STATES = ("verification_pending", "verified", "refused")


class Verification(NamedTuple):
    """An owner's identity verification on the provider's hosted page."""

    id: str
    user_id: str
    status: str  # pending | verified | refused
    url: str
    reason: str = ""  # the provider's reason for a refusal


class BankAccount(NamedTuple):
    """An owner's bank account at the provider. Mangopay pays out only to a "recipient"
    the owner confirmed on its page (strong customer authentication): `pending` until
    then, with that page's `url`."""

    id: str
    user_id: str
    status: str  # pending | active | refused
    last4: str
    url: str = ""
    reason: str = ""


class PayoutAccount(NamedTuple):
    """An owner's account at the provider, as the platform keeps it: the provider's ids,
    the verification's state, the bank account's last 4 digits; who the owner is for the
    public accountant (a legal entity's name and numbers), never their documents, birthday
    or address (those went to the provider only)."""

    owner_id: str
    kind: str  # natural | legal
    name: str  # the person's name, or the legal entity's
    psp_user_id: str
    wallet_id: str
    status: str  # PAYOUT_ACCOUNT_STATES
    verification_id: str
    verification_url: str
    created_at: str
    updated_at: str
    legal_form: str | None = None  # association | business | other
    rna: str | None = None
    siren: str | None = None
    refusal_reason: str | None = None
    attempts: int = 1  # verifications started (a refused one may be tried again)
    bank_account_id: str | None = None
    bank_account_status: str | None = None  # BankAccount.status
    bank_account_url: str | None = None
    iban_last4: str | None = None

    @property
    def can_be_paid(self) -> bool:
        return self.status == "verified" and self.bank_account_status == "active"


PAYOUT_STATES = ("waiting", "in_progress", "paid", "failed")


class Payout(NamedTuple):
    """A succeeded campaign's money to its owner: the escrow, less the platform's
    commission, moved to the owner's wallet (`transfer_id`), then to their bank account
    (`payout_id`, one per attempt)."""

    campaign_id: str
    campaign_title: str
    owner_id: str
    escrow_id: str
    collected_cents: int  # the escrow: every collected pledge
    commission_cents: int
    status: str  # PAYOUT_STATES
    created_at: str
    updated_at: str
    attempt: int = 1
    transfer_id: str | None = None
    payout_id: str | None = None
    bank_account_id: str | None = None  # the account the current attempt pays to
    failure_reason: str | None = None
    paid_at: str | None = None
    reminded_at: str | None = None
    version: int = 0  # each move writes the next: a move from a stale read is refused

    @property
    def amount_cents(self) -> int:
        return self.collected_cents - self.commission_cents
