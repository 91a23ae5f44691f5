"""Every key of the table: prefixes, key builders, partitions and index names.

The only place that spells a `#`. The table (infra/template.yaml):

    item                 pk                      sk                      index attributes
    campaign             CAMPAIGN#<id>           CAMPAIGN                user_pk/user_sk (owner),
                                                                         status_pk/status_sk (work partitions),
                                                                         public_pk (+ launched_at, ends_at,
                                                                         raised_cents), closed_pk/closed_at
    news post            CAMPAIGN#<id>           UPDATE#<time>#<id>      -
    unsubscription       CAMPAIGN#<id>           UNSUBSCRIBED#<sub>      user_pk/user_sk (the contributor)
    pledge               PLEDGE#<id>             PLEDGE                  user_pk/user_sk (contributor),
                                                                         campaign_pk/created_at (backers),
                                                                         status_pk PENDING#<n>/status_sk
                                                                         <expiry>#<id> while its payment waits
    idempotency record   IDEMPOTENCY#<hash>      IDEMPOTENCY             ttl: expires_at (epoch seconds)
    contributor marker   CONTRIBUTOR#<sub>       CONTRIBUTOR             - (counts distinct contributors)
    payer                PAYER#<sub>             PAYER                   - (their user id at the provider)
    payout account       OWNER#<sub>             PAYOUT_ACCOUNT          - (an owner's side at the provider)
    provider user        PROVIDER_USER#<id>      OWNER                   - (whose payout account it is)
    payout               CAMPAIGN#<id>           PAYOUT                  status_pk PAYOUTS/status_sk <created>#<id>
                                                                         until paid
    provider payout      PROVIDER_PAYOUT#<id>    PAYOUT                  - (whose campaign's payout it is)
    matching fund        FUND#<id>               FUND                    - (its counters move with every
                                                                         matched pledge: no index to write)
    fund listing entry   FUND#<id>               LISTING                 status_pk FUNDS/status_sk <time>#<id>
    closure record       FUND#<id>               CLOSURE#<campaign id>   status_pk SUBSIDIES_DUE/status_sk
                                                                         <closed>#<campaign> while its top-ups
                                                                         are due and not paid
    audit entry          AUDIT#<id>              AUDIT                   status_pk AUDIT/status_sk (all, by time),
                                                                         campaign_pk AUDIT#<campaign>/created_at,
                                                                         user_pk/user_sk (its actor)
    ledger entry         LEDGER#<campaign id>    <kind>#<transaction>    - (once per provider transaction)
    sandbox PSP object   PSP#<kind>#<id>         <kind>                  - (the sandbox provider's own state:
    … wallet's movement  PSP#WALLET#<id>         TX#<time>#<id>          escrows, payments, refunds, transfers)
    signing secret       SECRET#<name>           SECRET                  -
    reconciliation       RECONCILIATION          LATEST                  - (the latest run's report)
    platform counters    STATS                   GLOBAL                  -
    counted batch        STATS#BATCH#<sequence>  BATCH                   ttl: expires_at (a stream batch counted once)
"""

import zlib

Key = dict[str, str]

# Global secondary indexes and their key attributes (infra/template.yaml).
BY_USER = "by_user"
BY_STATUS = "by_status"
BY_CAMPAIGN = "by_campaign"
BY_CLOSURE = "by_closure"
PUBLIC_NEWEST = "public_newest"
PUBLIC_ENDING = "public_ending"
PUBLIC_FUNDED = "public_funded"
INDEX_KEYS = {
    BY_USER: ("user_pk", "user_sk"),
    BY_STATUS: ("status_pk", "status_sk"),
    PUBLIC_NEWEST: ("public_pk", "launched_at"),
    PUBLIC_ENDING: ("public_pk", "ends_at"),
    PUBLIC_FUNDED: ("public_pk", "raised_cents"),
    BY_CAMPAIGN: ("campaign_pk", "created_at"),
    BY_CLOSURE: ("closed_pk", "closed_at"),
}
# Attributes that only place an item in the table or an index: never part of a record.
KEY_ATTRIBUTES = frozenset({"pk", "sk", "user_pk", "user_sk", "status_pk", "status_sk", "public_pk", "closed_pk"})

# Partitions of the public_* indexes: the default public list shows live and ended
# campaigns in one Query; cancelled ones are listed only when asked for.
PUBLIC = "PUBLIC"
PUBLIC_PARTITIONS = {"live": PUBLIC, "succeeded": PUBLIC, "failed": PUBLIC, "cancelled": "CANCELLED"}
PUBLIC_SORTS = {
    "newest": (PUBLIC_NEWEST, False),
    "ending_soon": (PUBLIC_ENDING, True),
    "most_funded": (PUBLIC_FUNDED, False),
}
# Partitions of by_status, with the attribute that orders each: the moderation queue by
# submission time, live campaigns by deadline (those due for closure, those to remind),
# closed ones by closure time until their pledges are settled.
# Pledges waiting for their payment are spread over a few partitions by id, so that no
# partition takes every pledge of the platform; the sweep reads each by expiry.
SUBMITTED, LIVE, SETTLING = "SUBMITTED", "LIVE", "SETTLING"
PENDING_SHARDS = 8
WORK_PARTITIONS = {"submitted": (SUBMITTED, "submitted_at"), "live": (LIVE, "ends_at")}
SETTLING_ORDER = "closed_at"
FUNDS = "FUNDS"
PAYOUTS = "PAYOUTS"  # payouts not paid yet, oldest first
SUBSIDIES_DUE = "SUBSIDIES_DUE"  # succeeded campaigns' top-ups the public accountant has not paid
AUDIT = "AUDIT"
# Partition of by_closure: every closed campaign, for good, by closure time (exports, open data).
CLOSED = "CLOSED"

CAMPAIGN, PLEDGE, FUND, UPDATE, UNSUBSCRIBED = "CAMPAIGN", "PLEDGE", "FUND", "UPDATE", "UNSUBSCRIBED"
STATS: Key = {"pk": "STATS", "sk": "GLOBAL"}


def _key(prefix: str, ident: str, sort: str) -> Key:
    return {"pk": f"{prefix}#{ident}", "sk": sort}


def kind(item_pk: str) -> str:
    """The kind of an item by its pk: "CAMPAIGN", "FUND"…"""
    return item_pk.split("#", 1)[0]


def campaign(campaign_id: str) -> Key:
    return _key(CAMPAIGN, campaign_id, CAMPAIGN)


def campaign_partition(campaign_id: str) -> str:
    return campaign(campaign_id)["pk"]


def news(campaign_id: str, created_at: str, news_id: str) -> Key:
    return _key(CAMPAIGN, campaign_id, f"{UPDATE}#{created_at}#{news_id}")


def news_prefix() -> str:
    return f"{UPDATE}#"


def unsubscription(campaign_id: str, contributor_id: str) -> Key:
    return _key(CAMPAIGN, campaign_id, f"{UNSUBSCRIBED}#{contributor_id}")


def unsubscription_prefix() -> str:
    return f"{UNSUBSCRIBED}#"


def pledge(pledge_id: str) -> Key:
    return _key(PLEDGE, pledge_id, PLEDGE)


def idempotency(scope: str) -> Key:
    return _key("IDEMPOTENCY", scope, "IDEMPOTENCY")


def contributor(contributor_id: str) -> Key:
    return _key("CONTRIBUTOR", contributor_id, "CONTRIBUTOR")


def fund(fund_id: str) -> Key:
    return _key(FUND, fund_id, FUND)


def fund_listing(fund_id: str) -> Key:
    return _key(FUND, fund_id, "LISTING")


def matching_record(fund_id: str, campaign_id: str) -> Key:
    return _key(FUND, fund_id, f"CLOSURE#{campaign_id}")


def audit(entry_id: str) -> Key:
    return _key(AUDIT, entry_id, AUDIT)


def audit_campaign(campaign_id: str) -> str:
    return f"{AUDIT}#{campaign_id}"


def payer(contributor_id: str) -> Key:
    return _key("PAYER", contributor_id, "PAYER")


def payout_account(owner_id: str) -> Key:
    return _key("OWNER", owner_id, "PAYOUT_ACCOUNT")


def provider_user(user_id: str) -> Key:
    return _key("PROVIDER_USER", user_id, "OWNER")


def payout(campaign_id: str) -> Key:
    return _key(CAMPAIGN, campaign_id, "PAYOUT")


def provider_payout(payout_id: str) -> Key:
    return _key("PROVIDER_PAYOUT", payout_id, "PAYOUT")


def pending_partition(shard: int) -> str:
    return f"PENDING#{shard}"


def pending(pledge_id: str, expires_at: str) -> dict[str, str]:
    """The by_status attributes of a pledge waiting for its payment until `expires_at`."""
    shard = zlib.crc32(pledge_id.encode()) % PENDING_SHARDS
    return {"status_pk": pending_partition(shard), "status_sk": ordered(expires_at, pledge_id)}


def ledger_partition(campaign_id: str) -> str:
    return f"LEDGER#{campaign_id}"


def ledger(campaign_id: str, kind_: str, transaction_id: str) -> Key:
    return {"pk": ledger_partition(campaign_id), "sk": f"{kind_}#{transaction_id}"}


def psp_object(kind_: str, object_id: str) -> Key:
    """An object of the sandbox provider: a wallet, payment, refund or transfer."""
    return {"pk": f"PSP#{kind_}#{object_id}", "sk": kind_}


def psp_wallet_transaction(wallet_id: str, created_at: str, transaction_id: str) -> Key:
    return {"pk": psp_object("WALLET", wallet_id)["pk"], "sk": f"TX#{created_at}#{transaction_id}"}


def psp_wallet_transactions_prefix() -> str:
    return "TX#"


def reconciliation() -> Key:
    """The latest reconciliation's report."""
    return {"pk": "RECONCILIATION", "sk": "LATEST"}


def figures_batch(batch: str) -> Key:
    return {"pk": f"STATS#BATCH#{batch}", "sk": "BATCH"}


def secret(name: str) -> Key:
    return _key("SECRET", name, "SECRET")


def user(user_id: str) -> str:
    return f"USER#{user_id}"


def user_item(kind_: str, *order: str) -> str:
    """Sort key in by_user of a user's item of this kind: newest first by its order."""
    return "#".join((kind_, *order))


def ordered(*parts: str) -> str:
    """A sort key of parts in order: "<time>#<id>" keeps items of the same second in order."""
    return "#".join(parts)


def time_of(ordered_value: str) -> str:
    return ordered_value.split("#", 1)[0]
