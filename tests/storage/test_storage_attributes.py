"""Records never carry storage: the items hold keys, index attributes and bookkeeping; every
reader of the repositories answers records of their fields alone, equal whichever reads them."""

import pytest

from chalicelib import storage
from chalicelib.records import MatchingRecord, TopUp
from chalicelib.storage import keys
from tests.records import NOW, PAID_AT, fund, idempotency, ledger_entry, live, pledge
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

CLOSED = "2026-07-12T06:00:00Z"
RUN = "2026-07-12T06:10:00Z"
BOOKKEEPING = {
    "crowd_cents",
    "reminded_at",
    "owner_notified_at",
    "settlement_cursor",
    "settlement_retry_pending",
    "settlement_heartbeat",
    "matching_closed_at",
    "matching_spent_cents",
}
STORAGE_ONLY = keys.KEY_ATTRIBUTES | {"campaign_pk", "settled_at", *BOOKKEEPING}
PAGE = {"limit": 10, "cursor": None}


@pytest.fixture
def settling():
    """Saint-Lô's matched campaign with Léa's pledge, closed and halfway through settlement:
    every bookkeeping attribute written."""
    storage.campaigns.create(live())
    storage.funds.create(fund())
    storage.funds.attach("c0ffee", fund(), NOW)
    storage.pledges.record(pledge(), idempotency(), now=NOW)
    top_up = TopUp(2_500, "f-manche", 1, campaign_room=47_500)
    made = stored.pay(pledge(), ledger_entry(pledge()), top_up)
    storage.campaigns.mark_reminded("c0ffee", NOW)
    campaign = storage.campaigns.transition(storage.campaigns.get("c0ffee"), "succeeded", {"closed_at": CLOSED})
    storage.settlement.claim_owner_mail("c0ffee", RUN)
    storage.settlement.save_progress("c0ffee", "curseur-opaque", 1, RUN)
    record = MatchingRecord(
        "f-manche", "Fonds", "CD50", "c0ffee", "Cocotte Minute", "Saint-Lô", "50000", "succeeded",
        5_000, 2_500, 2_500, 0, CLOSED, RUN,
    )  # fmt: skip
    storage.funds.close_matching(record, RUN)
    return campaign, made


def test_a_campaign_item_holds_keys_and_bookkeeping_and_its_record_neither(settling):
    campaign, _ = settling
    item = stored.item(keys.campaign("c0ffee"))
    assert {"pk", "sk", "user_pk", "user_sk", "status_pk", "status_sk", "public_pk", "closed_pk", *BOOKKEEPING} <= set(
        item
    )
    assert campaign == live(
        status="succeeded",
        closed_at=CLOSED,
        raised_cents=7_500,
        matched_cents=2_500,
        pledge_count=1,
        matching_fund_id="f-manche",
        updated_at=NOW,
    )
    answered = {
        "get": storage.campaigns.get("c0ffee"),
        "get_many": storage.campaigns.get_many(["c0ffee"])["c0ffee"],
        "list_public": storage.campaigns.list_public(sort="newest", now=CLOSED, **PAGE)[0][0],
        "list_by_owner": storage.campaigns.list_by_owner("camille", **PAGE)[0][0],
        "list_closed": storage.campaigns.list_closed(since=NOW, until=RUN, **PAGE)[0][0],
        "settlement.get": storage.settlement.get("c0ffee").campaign,
        "list_settling": storage.settlement.list_settling(**PAGE)[0][0].campaign,
        "read_context": storage.pledges.read_context("c0ffee", "lea", "lea:cle-1").campaign,
    }
    assert answered == dict.fromkeys(answered, campaign)
    assert not any(STORAGE_ONLY & set(found._asdict()) for found in answered.values())


def test_a_pledge_item_holds_its_keys_and_its_record_not(settling):
    _, made = settling
    assert made == pledge(
        status="paid", paid_at=PAID_AT, matched_cents=2_500, matching_fund_id="f-manche", matching_rule_version=1
    )
    assert {"pk", "sk", "user_pk", "user_sk", "campaign_pk"} <= set(stored.item(keys.pledge("p-lea")))
    answered = [
        storage.pledges.get("p-lea"),
        storage.pledges.list_for_campaign("c0ffee", **PAGE)[0][0],
        storage.pledges.list_for_contributor("lea", **PAGE)[0][0],
    ]
    assert answered == [made] * 3


def test_a_pending_pledge_item_holds_its_pending_partition_and_its_record_not():
    storage.campaigns.create(live())
    made = pledge(id="p-hugo", contributor_id="hugo")
    storage.pledges.record(made, idempotency("hugo:cle-1"), now=NOW)
    item = stored.item(keys.pledge("p-hugo"))
    assert {"status_pk", "status_sk"} <= set(item)
    shard = int(item["status_pk"].removeprefix("PENDING#"))
    answered = [
        storage.pledges.get("p-hugo"),
        storage.pledges.list_pending_due(shard, "2026-06-02T00:00:00Z", **PAGE)[0][0],
        storage.pledges.list_for_campaign("c0ffee", counted_only=False, **PAGE)[0][0],
        storage.pledges.list_for_contributor("hugo", **PAGE)[0][0],
    ]
    assert answered == [made] * 4


def test_fund_and_idempotency_records_hold_their_fields_alone(settling):
    assert storage.funds.get("f-manche") == fund(spent_cents=2_500, remaining_cents=97_500, campaign_count=1)
    assert storage.funds.list_funds(**PAGE)[0] == [storage.funds.get("f-manche")]
    assert storage.pledges.read_context("c0ffee", "lea", "lea:cle-1").idempotency == idempotency()
    assert stored.item(keys.idempotency("lea:cle-1"))["pk"] == "IDEMPOTENCY#lea:cle-1"
