"""The platform's records: what the repositories of chalicelib/storage return and take.

Immutable (`_replace` makes a changed copy), typed, and free of storage: no key, index or
bookkeeping attribute reaches them. Derived values (crowd money, percent funded, a
reward's stock) are computed here and nowhere else. NamedTuple rather than dataclasses:
as immutable, and a fraction of their cost at import (cold start, make bench).

The domain's facts about states live here too: what is public, what is closed. The
records of money at the payment provider (escrow, ledger, owners' accounts, payouts) are
in records/money.py, and importable from here.
"""

# No `from __future__ import annotations` here: NamedTuple turns each text annotation into a
# ForwardRef, compiling it, which made this module's import 15 ms slower (make bench).
from typing import Any, NamedTuple

from .money import (
    LEDGER_ESCROW_SIGN as LEDGER_ESCROW_SIGN,
    PAYOUT_ACCOUNT_STATES as PAYOUT_ACCOUNT_STATES,
    PAYOUT_STATES as PAYOUT_STATES,
    BankAccount as BankAccount,
    EscrowCheck as EscrowCheck,
    EscrowPayment as EscrowPayment,
    EscrowTransfer as EscrowTransfer,
    LedgerEntry as LedgerEntry,
    Payout as Payout,
    PayoutAccount as PayoutAccount,
    Reconciliation as Reconciliation,
    Verification as Verification,
)

CAMPAIGN_STATES = ("draft", "submitted", "live", "succeeded", "failed", "cancelled")
PRIVATE_STATES = frozenset({"draft", "submitted"})
CLOSED_STATES = frozenset({"succeeded", "failed", "cancelled"})
PUBLIC_STATES = frozenset({"live", *CLOSED_STATES})
# The pledges that count in a campaign's and the platform's figures.
# A pledge's life (SPEC "Money (v2)"): paid on the provider's hosted page within the payment
# window, then collected (the campaign succeeded) or refunded (it failed or was cancelled,
# the contributor cancelled, or the payment came too late).
PLEDGE_STATES = ("pending_payment", "paid", "collected", "refunded", "payment_failed", "expired", "cancelled")
COUNTED_PLEDGE_STATES = frozenset({"paid", "collected"})
# Pledges whose reward unit is taken: held while pending, kept once paid.
HOLDING_PLEDGE_STATES = frozenset({"pending_payment", "paid"})


class Reward(NamedTuple):
    id: str
    title: str
    description: str
    min_amount_cents: int
    created_at: str
    quantity: int | None = None  # None: unlimited
    remaining: int | None = None

    @property
    def limited(self) -> bool:
        return self.quantity is not None

    @property
    def sold_out(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


class MediaEntry(NamedTuple):
    """An upload of a campaign: pending, then ready (published under `key`) or rejected."""

    id: str
    kind: str
    content_type: str
    size_bytes: int
    filename: str
    status: str
    created_at: str
    key: str | None = None
    ready_at: str | None = None
    reason: str | None = None


class Campaign(NamedTuple):
    id: str
    slug: str
    title: str
    summary: str
    description: str
    category: str
    postcode: str
    commune: str
    owner_id: str
    owner_name: str
    owner_email: str
    goal_cents: int
    funding_model: str
    duration_days: int
    status: str
    created_at: str
    updated_at: str
    raised_cents: int = 0  # crowd + matched: what counts toward the goal
    pledge_count: int = 0
    matched_cents: int = 0
    rewards: tuple[Reward, ...] = ()
    media: tuple[MediaEntry, ...] = ()
    cover_media_id: str | None = None
    launched_at: str | None = None
    ends_at: str | None = None
    submitted_at: str | None = None
    rejection_reason: str | None = None
    cancelled_at: str | None = None
    closed_at: str | None = None
    matching_fund_id: str | None = None
    escrow_id: str | None = None  # its escrow at the payment provider, opened at approval
    identity_erased_at: str | None = None

    @property
    def crowd_cents(self) -> int:
        return self.raised_cents - self.matched_cents

    @property
    def percent_funded(self) -> int:
        return self.raised_cents * 100 // self.goal_cents

    @property
    def is_public(self) -> bool:
        return self.status not in PRIVATE_STATES

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATES

    def reward(self, reward_id: str | None) -> Reward | None:
        return next((r for r in self.rewards if r.id == reward_id), None)

    def media_entry(self, media_id: str | None) -> MediaEntry | None:
        return next((m for m in self.media if m.id == media_id), None)


class Settlement(NamedTuple):
    """A closed campaign on its way to having every pledge settled (chalicelib/finalisation.py)."""

    campaign: Campaign
    settled: bool = False
    cursor: str | None = None  # where the last pass stopped
    retry_pending: int = 0  # pledges of this pass waiting for another payment attempt
    heartbeat: str = ""  # when a run last worked on it, or handed it on
    matching_closed: bool = False


class Pledge(NamedTuple):
    id: str
    campaign_id: str
    campaign_title: str
    contributor_id: str
    contributor_name: str
    contributor_email: str
    amount_cents: int
    status: str  # PLEDGE_STATES
    created_at: str
    anonymous: bool = False
    reward_id: str | None = None
    reward_limited: bool = False
    message: str | None = None
    # Its payment at the provider: the hosted page, until when it may be paid, and where the
    # provider sends the browser back.
    payment_id: str | None = None
    payment_url: str | None = None
    escrow_id: str | None = None  # with payer_id: a refund needs no read of the payment
    payer_id: str | None = None
    payment_expires_at: str | None = None
    return_url: str | None = None
    failure_reason: str | None = None
    matched_cents: int = 0
    matching_fund_id: str | None = None
    matching_rule_version: int | None = None
    paid_at: str | None = None
    refund_id: str | None = None
    refunded_at: str | None = None
    collected_at: str | None = None
    cancelled_at: str | None = None
    cancellation_id: str | None = None  # whose cancellation moved it: a retried request knows its own
    identity_erased_at: str | None = None

    @property
    def counted(self) -> bool:
        return self.status in COUNTED_PLEDGE_STATES

    @property
    def pending(self) -> bool:
        return self.status == "pending_payment"

    @property
    def backs(self) -> bool:
        """Whether its contributor backs the campaign: a pledge that counts, or one that
        counted until the campaign's failure or cancellation refunded it (a withdrawal is
        `cancelled_at`; a payment that came too late was never `paid_at`)."""
        return self.counted or (self.status == "refunded" and bool(self.paid_at) and not self.cancelled_at)


class Idempotency(NamedTuple):
    """The first answer to a contributor's Idempotency-Key, replayed while it lives."""

    scope: str
    fingerprint: str
    answer: str
    created_epoch: int
    expires_at: int  # epoch seconds; DynamoDB's TTL removes it later


class Fund(NamedTuple):
    """A matching fund: budget = reserved + spent + remaining."""

    id: str
    name: str
    decision_ref: str
    budget_cents: int
    match_percent: int
    cap_per_pledge_cents: int
    cap_per_campaign_cents: int
    min_crowd_cents: int
    opens_at: str
    closes_at: str
    created_by: str
    created_at: str
    updated_at: str
    categories: tuple[str, ...] = ()
    postcode_prefixes: tuple[str, ...] = ()
    reserved_cents: int = 0
    spent_cents: int = 0
    remaining_cents: int = 0
    rule_version: int = 1
    campaign_count: int = 0


class MatchingRecord(NamedTuple):
    """The public money of one closed matched campaign, written once."""

    fund_id: str
    fund_name: str
    decision_ref: str
    campaign_id: str
    campaign_title: str
    commune: str
    postcode: str
    outcome: str
    crowd_cents: int
    matched_cents: int
    spent_cents: int
    released_cents: int
    closed_at: str
    recorded_at: str
    # A succeeded campaign's top-ups are a subsidy due to its owner, paid by the public
    # accountant (chalicelib/subsidies.py): marked paid with the payment mandate's reference.
    owner_id: str = ""
    paid_at: str | None = None
    mandate_ref: str | None = None


class AuditEntry(NamedTuple):
    id: str
    created_at: str
    action: str
    actor_id: str
    actor_moderator: bool
    target: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    campaign_id: str | None = None


class News(NamedTuple):
    id: str
    campaign_id: str
    author_id: str
    title: str
    body: str
    backers_only: bool
    created_at: str


class Unsubscription(NamedTuple):
    campaign_id: str
    contributor_id: str
    unsubscribed_at: str


class AreaFigures(NamedTuple):
    """Public campaigns of one category or commune, by state, and what the succeeded raised."""

    live: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    succeeded_raised_cents: int = 0


class TableChange(NamedTuple):
    """One change of the table, as its stream tells it: a pledge before and after (None
    where it did not exist), or a contributor's first pledge."""

    kind: str  # pledge | contributor | other
    old: Pledge | None = None
    new: Pledge | None = None


class Counters(NamedTuple):
    """The platform's figures (GET /stats)."""

    campaigns_by_status: dict[str, int]
    raised_cents: int = 0
    matched_cents: int = 0
    pledge_count: int = 0
    contributors: int = 0
    by_category: dict[str, AreaFigures] = {}
    by_commune: dict[str, AreaFigures] = {}


class TopUp(NamedTuple):
    """A pledge's top-up by a matching fund (chalicelib/matching.py), and what the pledge's
    transaction must find unchanged for it to hold."""

    cents: int = 0
    fund_id: str | None = None
    rule_version: int | None = None
    campaign_room: int = 0  # the campaign's matched total may be at most this before the write
    crowd_seen: int = 0  # with a minimum crowd amount: the crowd total it was computed from


NO_TOP_UP = TopUp()
