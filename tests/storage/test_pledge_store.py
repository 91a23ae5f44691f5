"""The pledge repository (chalicelib/storage/pledges.py): a pledge is recorded waiting for
its payment with its reward unit held and nothing counted; its payment moves it once into
the campaign's totals, the fund's reservation, the ledger and the contributor's marker; a
payment that will not come gives its unit back once; a refund takes it out of a live
campaign's totals. Never the platform counters (they follow from the table's stream:
test_counter_store.py), and a refusal names what refused it and writes nothing."""

import pytest
from botocore.exceptions import ClientError

from chalicelib import storage
from chalicelib.records import NO_TOP_UP, Pledge, TopUp
from chalicelib.storage import keys
from tests.records import ENDS, NOW, PAID_AT, PAYMENT_EXPIRES, fund, idempotency, ledger_entry, live, pledge, reward
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

SOON = "2026-06-02T09:30:00Z"
ATELIER = {"reward_id": "r-atelier", "reward_limited": True}  # the one place left at the workshop
HUGO = {"id": "p-hugo", "contributor_id": "hugo", "contributor_name": "Hugo Lemonnier"}
MAELLE = {"id": "p-maelle", "contributor_id": "maelle", "contributor_name": "Maëlle Hamel"}
YANNICK = {"id": "p-yannick", "contributor_id": "yannick", "contributor_name": "Yannick Le Goff"}


@pytest.fixture(autouse=True)
def campaign(emulated_aws):
    """Live, with an unlimited reward and a workshop of one place."""
    campaign = live(rewards=(reward(), reward(id="r-atelier", title="Un atelier de tricot", quantity=1)))
    storage.campaigns.create(campaign)
    return campaign


def _record(made: Pledge, scope: str = "", *, now: str = NOW, new_payer: str | None = None) -> Pledge:
    storage.pledges.record(made, idempotency(scope or f"{made.contributor_id}:{made.id}"), now=now, new_payer=new_payer)
    return made


def _pay(made: Pledge, top_up: TopUp = NO_TOP_UP, at: str = PAID_AT) -> Pledge:
    return stored.pay(made, ledger_entry(made, at=at), top_up)


def _paid(made: Pledge) -> Pledge:
    return _pay(_record(made))


def _refund(made: Pledge, *, live: bool, late: bool = False, withdrawn: bool = False) -> Pledge:
    """Refund `made`; `late`: its payment, never recorded, goes in the ledger with the refund."""
    entries = [ledger_entry(made, "refunded", at=SOON)]
    if late:
        entries.insert(0, ledger_entry(made, at=SOON))
    return storage.pledges.refund(made, entries, live=live, withdrawn=withdrawn)


def _totals() -> tuple[int, int, int | None]:
    """The campaign's raised total, pledge count and workshop places remaining."""
    campaign = storage.campaigns.get("c0ffee")
    return campaign.raised_cents, campaign.pledge_count, campaign.reward("r-atelier").remaining


def _ledger(campaign_id: str = "c0ffee") -> list[tuple[str, str, int]]:
    entries, _ = storage.ledger.entries(campaign_id, limit=10, cursor=None)
    return [(e.kind, e.transaction_id, e.amount_cents) for e in entries]


def _pending(before: str = "2026-06-02T00:00:00Z") -> set[str]:
    """The ids that every pending partition lists as due before `before`."""
    return {
        p.id
        for shard in range(keys.PENDING_SHARDS)
        for p in storage.every(storage.pledges.list_pending_due, shard, before)
    }


def _close(status: str = "failed") -> None:
    storage.campaigns.transition(storage.campaigns.get("c0ffee"), status, {"closed_at": ENDS})


# --- record ----------------------------------------------------------------------------


def test_record_writes_the_pledge_pending_holds_its_unit_and_counts_nothing():
    made = _record(pledge(message="Bravo Camille, à bientôt rue Torteron !", **ATELIER))
    assert storage.pledges.get("p-lea") == made
    assert _totals() == (0, 0, 0)  # the place is held, nothing is counted
    assert storage.pledges.first_pledged_at("lea") is None
    counters = storage.counters.get()
    assert (counters.raised_cents, counters.pledge_count, counters.contributors) == (0, 0, 0)
    assert _ledger() == []
    item = stored.item(keys.pledge("p-lea"))
    assert item["status_pk"].startswith("PENDING#")
    assert item["status_sk"] == f"{PAYMENT_EXPIRES}#p-lea"


def test_the_same_idempotency_scope_twice_is_refused_and_writes_nothing():
    _record(pledge(), "lea:cle-1")
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(id="p-lea-2", amount_cents=9_000, **ATELIER), "lea:cle-1")
    assert refused.value.item == "idempotency"
    assert storage.pledges.get("p-lea-2") is None
    assert _totals()[2] == 1  # the place was not taken


def test_an_expired_idempotency_record_is_taken_over():
    _record(pledge(), "lea:cle-1")
    later = idempotency(created_epoch=idempotency().expires_at + 1, expires_at=idempotency().expires_at + 86_401)
    storage.pledges.record(pledge(id="p-lea-2"), later, now=NOW)
    assert storage.pledges.read_context("c0ffee", "lea", "lea:cle-1").idempotency == later
    assert storage.pledges.get("p-lea-2").status == "pending_payment"


def test_a_held_limited_reward_refuses_the_next_pledge_as_campaign_and_nothing_is_written():
    _record(pledge(**ATELIER))  # pending: its place is held all the same
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(**HUGO, **ATELIER), "hugo:cle-1", new_payer="psp-hugo")
    assert refused.value.item == "campaign"
    assert storage.pledges.get("p-hugo") is None
    assert _totals() == (0, 0, 0)
    context = storage.pledges.read_context("c0ffee", "hugo", "hugo:cle-1")
    assert (context.idempotency, context.payer_id) == (None, None)


def test_a_campaign_past_its_deadline_refuses_a_pledge_as_campaign():
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(), now="2026-07-12T00:00:00Z")
    assert refused.value.item == "campaign"
    assert stored.item(keys.pledge("p-lea")) is None


def test_a_closed_campaign_refuses_a_pledge_as_campaign(campaign):
    storage.campaigns.transition(campaign, "cancelled", {"cancelled_at": NOW, "closed_at": NOW})
    with pytest.raises(storage.ConditionFailed) as refused:
        _record(pledge(**ATELIER))
    assert refused.value.item == "campaign"
    assert stored.item(keys.pledge("p-lea")) is None


def test_a_new_payer_is_kept_with_the_first_pledge_and_read_back_with_the_next():
    assert storage.pledges.read_context("c0ffee", "lea", "lea:cle-1").payer_id is None
    _record(pledge(), "lea:cle-1", new_payer="psp-user-lea")
    assert storage.pledges.read_context("c0ffee", "lea", "lea:cle-2").payer_id == "psp-user-lea"
    assert storage.pledges.read_context("c0ffee", "hugo", "hugo:cle-1").payer_id is None


# --- pay -------------------------------------------------------------------------------


def test_pay_counts_the_pledge_in_its_campaign_the_ledger_and_the_contributor_once():
    made = _record(pledge(**ATELIER))
    paid = _pay(made)
    assert paid == made._replace(status="paid", paid_at=PAID_AT)
    assert storage.pledges.get("p-lea") == paid
    assert _totals() == (5_000, 1, 0)  # the held place is kept, not taken twice
    assert storage.campaigns.get("c0ffee").crowd_cents == 5_000
    assert _ledger() == [("paid", "payin-lea", 5_000)]
    assert storage.ledger.escrow_balance("c0ffee") == 5_000
    assert storage.pledges.first_pledged_at("lea") == PAID_AT
    assert "status_pk" not in stored.item(keys.pledge("p-lea"))  # out of the pending partitions
    assert storage.counters.get().raised_cents == 0  # the stream's figures, not this transaction


def test_a_second_pay_of_the_same_read_pledge_is_refused_as_pledge_and_counts_nothing_twice():
    made = _record(pledge())
    _pay(made)
    with pytest.raises(storage.ConditionFailed) as refused:
        _pay(made, at=SOON)  # the same notification, delivered again
    assert refused.value.item == "pledge"
    assert _totals()[:2] == (5_000, 1)
    assert _ledger() == [("paid", "payin-lea", 5_000)]
    assert storage.pledges.get("p-lea").paid_at == PAID_AT
    assert storage.pledges.first_pledged_at("lea") == PAID_AT


def test_a_contributors_first_payment_stays_their_first():
    _paid(pledge())
    _pay(_record(pledge(id="p-lea-2")), at=SOON)
    assert storage.pledges.first_pledged_at("lea") == PAID_AT
    assert _ledger() == [("paid", "payin-lea", 5_000), ("paid", "payin-lea-2", 5_000)]


def test_a_first_payment_that_raced_another_is_refused_as_contributor_and_goes_through_again(monkeypatch):
    """Two first payments of Léa's at once: both read no marker, one transaction wins."""
    other, made = _record(pledge(id="p-lea-2")), _record(pledge())
    read = storage.pledges.read_for_payment(made.campaign_id, made.contributor_id, None)
    both_read_no_marker = not read.known_contributor
    _pay(other, at="2026-06-01T12:05:00Z")
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.pledges.pay(made, ledger_entry(made), NO_TOP_UP, new_contributor=both_read_no_marker)
    assert refused.value.item == "contributor"
    assert (storage.pledges.get("p-lea"), _totals()[:2]) == (made, (5_000, 1))
    _pay(made)  # the caller's next attempt reads the marker
    assert _totals()[:2] == (10_000, 2)
    assert storage.pledges.first_pledged_at("lea") == "2026-06-01T12:05:00Z"


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_pay_on_a_closed_campaign_is_refused_as_campaign_and_the_pledge_stays_pending(status):
    made = _record(pledge(**ATELIER))
    _close(status)
    with pytest.raises(storage.ConditionFailed) as refused:
        _pay(made)
    assert refused.value.item == "campaign"
    assert storage.pledges.get("p-lea") == made
    assert _pending() == {"p-lea"}
    assert (_ledger(), storage.pledges.first_pledged_at("lea")) == ([], None)
    assert _totals() == (0, 0, 0)


def test_a_payment_already_in_the_ledger_is_refused_as_ledger_and_the_pledge_stays_pending():
    made = _record(pledge())
    assert storage.ledger.append(ledger_entry(made)) is True
    assert storage.ledger.append(ledger_entry(made, at=SOON)) is False  # once per provider transaction
    with pytest.raises(storage.ConditionFailed) as refused:
        _pay(made)
    assert refused.value.item == "ledger"
    assert storage.pledges.get("p-lea").status == "pending_payment"
    assert _totals()[:2] == (0, 0)


def _cancelled_transaction(monkeypatch, reasons: dict[str, str]) -> None:
    """Every transaction cancelled after DynamoDB's retries, with `reasons` by item kind."""

    def kind(item: dict) -> str:
        (request,) = item.values()
        return keys.kind((request.get("Key") or request["Item"])["pk"]["S"])

    def cancelled(items, detail):
        codes = [reasons.get(kind(item), "None") for item, _ in items]
        error = {"Code": "TransactionCanceledException", "Message": "cancelled"}
        raise ClientError(
            {"Error": error, "CancellationReasons": [{"Code": code} for code in codes]}, "TransactWriteItems"
        )

    monkeypatch.setattr(storage.dynamo, "transact", cancelled)


def test_a_fund_that_stays_busy_is_refused_as_fund_a_busy_campaign_is_not(monkeypatch):
    storage.funds.create(fund())
    storage.funds.attach("c0ffee", fund(), NOW)
    made = _record(pledge())
    top_up = TopUp(2_500, "f-manche", 1, campaign_room=50_000)
    _cancelled_transaction(monkeypatch, {keys.FUND: "TransactionConflict"})
    with pytest.raises(storage.ConditionFailed) as refused:
        _pay(made, top_up)
    assert refused.value.item == "fund"  # the caller pays it again without a top-up
    _cancelled_transaction(monkeypatch, {keys.CAMPAIGN: "TransactionConflict"})
    with pytest.raises(ClientError):
        _pay(made, top_up)


# --- end_pending -----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["payment_failed", "expired"])
def test_end_pending_gives_the_unit_back_once(status):
    made = _record(pledge(**ATELIER))
    ended = storage.pledges.end_pending(made, status, SOON, "carte refusée")
    assert ended == made._replace(status=status, failure_reason="carte refusée")
    assert storage.pledges.get("p-lea") == ended
    assert _totals() == (0, 0, 1)
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.pledges.end_pending(made, "cancelled", SOON)
    assert refused.value.item == "pledge"
    assert _totals() == (0, 0, 1)  # not 2
    assert storage.pledges.get("p-lea").status == status
    assert _pending() == set()


def test_a_cancelled_pending_pledge_frees_its_place_for_another_contributor():
    made = _record(pledge(**ATELIER))
    cancelled = storage.pledges.end_pending(made, "cancelled", SOON)
    assert storage.pledges.get("p-lea") == made._replace(status="cancelled", cancelled_at=SOON)
    assert cancelled.cancelled_at == SOON
    _record(pledge(**HUGO, **ATELIER))
    assert _totals() == (0, 0, 0)


def test_end_pending_of_a_paid_pledge_read_before_its_payment_is_refused_as_pledge():
    made = _record(pledge(**ATELIER))
    _pay(made)
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.pledges.end_pending(made, "expired", SOON)
    assert refused.value.item == "pledge"
    assert storage.pledges.get("p-lea").status == "paid"
    assert _totals() == (5_000, 1, 0)


def test_end_pending_on_a_closed_campaign_still_gives_the_unit_back():
    made = _record(pledge(**ATELIER))
    _close()
    storage.pledges.end_pending(made, "expired", SOON)
    assert _totals() == (0, 0, 1)


# --- list_pending_due ------------------------------------------------------------------


def test_list_pending_due_lists_pending_pledges_past_their_window_across_partitions():
    # p-lea and p-hugo share a pending partition, p-maelle and p-yannick have their own.
    shards = {who: keys.pending(who, PAYMENT_EXPIRES)["status_pk"] for who in ("p-lea", "p-hugo", "p-maelle")}
    assert shards["p-lea"] == shards["p-hugo"] != shards["p-maelle"]
    _record(pledge(payment_expires_at="2026-06-01T12:30:00Z"))
    _record(pledge(**HUGO, payment_expires_at="2026-06-01T12:40:00Z"))
    _record(pledge(**MAELLE, payment_expires_at="2026-06-01T12:35:00Z"))
    _record(pledge(**YANNICK, payment_expires_at="2026-06-01T13:30:00Z"))  # still within its window
    assert _pending("2026-06-01T13:00:00Z") == {"p-lea", "p-hugo", "p-maelle"}
    assert _pending("2026-06-01T12:35:00Z") == {"p-lea"}  # p-maelle's window ends then, not before


def test_list_pending_due_answers_a_partition_in_pages_by_expiry():
    _record(pledge(payment_expires_at="2026-06-01T12:40:00Z"))
    _record(pledge(**HUGO, payment_expires_at="2026-06-01T12:30:00Z"))
    shard = int(keys.pending("p-lea", PAYMENT_EXPIRES)["status_pk"].removeprefix("PENDING#"))
    first, cursor = storage.pledges.list_pending_due(shard, "2026-06-01T13:00:00Z", limit=1, cursor=None)
    rest, _ = storage.pledges.list_pending_due(shard, "2026-06-01T13:00:00Z", limit=1, cursor=cursor)
    assert [p.id for p in first + rest] == ["p-hugo", "p-lea"]
    assert first[0] == storage.pledges.get("p-hugo")


def test_a_pledge_leaves_the_pending_list_once_it_moved():
    for who in (pledge(), pledge(**HUGO), pledge(**MAELLE), pledge(**YANNICK)):
        _record(who)
    assert _pending() == {"p-lea", "p-hugo", "p-maelle", "p-yannick"}
    _pay(pledge())
    storage.pledges.end_pending(pledge(**HUGO), "expired", SOON)
    storage.pledges.end_pending(pledge(**MAELLE), "cancelled", SOON)
    _refund(pledge(**YANNICK), live=False, late=True)
    assert _pending() == set()


# --- refund ----------------------------------------------------------------------------


def test_a_live_refund_gives_back_the_totals_the_place_and_the_top_up():
    storage.funds.create(fund())
    storage.funds.attach("c0ffee", fund(), NOW)
    paid = _pay(_record(pledge(**ATELIER)), TopUp(2_500, "f-manche", 1, campaign_room=50_000))
    assert (_totals(), storage.funds.get("f-manche").reserved_cents) == ((7_500, 1, 0), 2_500)
    refunded = _refund(paid, live=True)
    assert refunded == paid._replace(status="refunded", refund_id="refunded-p-lea", refunded_at=SOON)
    assert storage.pledges.get("p-lea") == refunded
    assert _totals() == (0, 0, 1)
    campaign = storage.campaigns.get("c0ffee")
    assert (campaign.crowd_cents, campaign.matched_cents) == (0, 0)
    found = storage.funds.get("f-manche")
    assert (found.reserved_cents, found.spent_cents, found.remaining_cents) == (0, 0, 100_000)
    assert _ledger() == [("paid", "payin-lea", 5_000), ("refunded", "refunded-p-lea", 5_000)]
    assert storage.ledger.escrow_balance("c0ffee") == 0


def test_a_second_refund_is_refused_as_pledge_and_gives_back_nothing_twice():
    paid = _paid(pledge(**ATELIER))
    _refund(paid, live=True)
    with pytest.raises(storage.ConditionFailed) as refused:
        _refund(paid, live=True)
    assert refused.value.item == "pledge"
    assert _totals() == (0, 0, 1)
    assert _ledger() == [("paid", "payin-lea", 5_000), ("refunded", "refunded-p-lea", 5_000)]


def test_a_live_refund_of_a_campaign_that_closed_meanwhile_is_refused_as_campaign_and_writes_nothing():
    paid = _paid(pledge(**ATELIER))
    _close()
    with pytest.raises(storage.ConditionFailed) as refused:
        _refund(paid, live=True)
    assert refused.value.item == "campaign"
    assert storage.pledges.get("p-lea") == paid
    assert _ledger() == [("paid", "payin-lea", 5_000)]


def test_a_refund_after_closure_moves_the_pledge_and_the_ledger_and_keeps_the_final_totals():
    storage.funds.create(fund())
    storage.funds.attach("c0ffee", fund(), NOW)
    paid = _pay(_record(pledge(**ATELIER)), TopUp(2_500, "f-manche", 1, campaign_room=50_000))
    _close()
    refunded = _refund(paid, live=False)
    assert storage.pledges.get("p-lea") == refunded
    assert refunded.status == "refunded"
    assert _totals() == (7_500, 1, 0)  # what the campaign raised when it closed
    assert storage.funds.get("f-manche").reserved_cents == 2_500  # the closure releases it, once
    assert _ledger() == [("paid", "payin-lea", 5_000), ("refunded", "refunded-p-lea", 5_000)]


def test_a_late_payment_of_a_pending_pledge_is_refunded_with_both_movements_in_the_ledger():
    made = _record(pledge(**ATELIER))
    _close()
    refunded = _refund(made, live=False, late=True)
    assert storage.pledges.get("p-lea") == refunded
    assert (refunded.status, refunded.paid_at) == ("refunded", None)
    assert _totals() == (0, 0, 1)  # never counted; its place back
    assert _ledger() == [("paid", "payin-lea", 5_000), ("refunded", "refunded-p-lea", 5_000)]
    assert storage.ledger.escrow_balance("c0ffee") == 0
    assert _pending() == set()


def test_a_late_payment_of_an_expired_pledge_gives_its_place_back_only_once():
    made = _record(pledge(**ATELIER))
    expired = storage.pledges.end_pending(made, "expired", SOON)
    _refund(expired, live=True, late=True)
    assert storage.pledges.get("p-lea").status == "refunded"
    assert _totals() == (0, 0, 1)


# --- collect ---------------------------------------------------------------------------


def test_collect_answers_which_pledges_it_moved_once():
    paid = [_paid(pledge()), _paid(pledge(**HUGO)), _paid(pledge(**MAELLE))]
    _close("succeeded")
    assert storage.pledges.collect(paid[1:2], "2026-07-12T06:00:00Z") == [True]  # another run
    assert storage.pledges.collect(paid, "2026-07-12T06:10:00Z") == [True, False, True]
    assert [storage.pledges.get(p.id).collected_at for p in paid] == [
        "2026-07-12T06:10:00Z",
        "2026-07-12T06:00:00Z",
        "2026-07-12T06:10:00Z",
    ]
    assert {storage.pledges.get(p.id).status for p in paid} == {"collected"}
    assert storage.pledges.collect(paid, "2026-07-12T06:20:00Z") == [False, False, False]
    assert _totals()[:2] == (15_000, 3)  # collected pledges still count
    assert storage.pledges.collect([], "2026-07-12T06:20:00Z") == []


def test_collect_goes_on_one_by_one_in_the_batch_where_one_moved(monkeypatch):
    monkeypatch.setattr(storage.dynamo, "TRANSACTION_MAX_ITEMS", 2)
    paid = [_paid(pledge()), _paid(pledge(**HUGO)), _paid(pledge(**MAELLE)), _paid(pledge(**YANNICK))]
    _close("succeeded")
    _refund(paid[1], live=False)  # moved meanwhile: never collected
    assert storage.pledges.collect(paid, "2026-07-12T06:10:00Z") == [True, False, True, True]
    assert [storage.pledges.get(p.id).status for p in paid] == ["collected", "refunded", "collected", "collected"]


# --- reads -----------------------------------------------------------------------------


def test_read_context_answers_the_campaign_key_and_payer_it_read():
    before = storage.pledges.read_context("c0ffee", "lea", "lea:cle-1")
    assert before == (storage.campaigns.get("c0ffee"), None, None)
    _record(pledge(**ATELIER), "lea:cle-1", new_payer="psp-user-lea")
    after = storage.pledges.read_context("c0ffee", "lea", "lea:cle-1")
    assert after == (storage.campaigns.get("c0ffee"), idempotency("lea:cle-1"), "psp-user-lea")
    assert after.campaign.reward("r-atelier").remaining == 0


def test_read_context_of_an_unknown_campaign_answers_none():
    assert storage.pledges.read_context("inconnue", "lea", "lea:cle-1").campaign is None


def test_read_for_payment_answers_the_campaign_its_fund_whether_the_contributor_paid_before_and_the_pledge():
    storage.funds.create(fund())
    made = pledge()
    assert storage.pledges.read_for_payment("c0ffee", made.contributor_id, "f-manche") == (
        storage.campaigns.get("c0ffee"),
        storage.funds.get("f-manche"),
        False,
        None,
    )
    _pay(_record(made))
    read = storage.pledges.read_for_payment("c0ffee", made.contributor_id, None, pledge_id=made.id)
    assert read == (storage.campaigns.get("c0ffee"), None, True, storage.pledges.get(made.id))
    assert read.pledge.status == "paid"
    nothing = storage.pledges.read_for_payment("inconnue", "hugo", "f-inconnu", pledge_id="p-x")
    assert nothing == (None, None, False, None)


def test_backs_a_counted_pledge_of_that_contributor_on_that_campaign_or_one_refunded_at_closure():
    storage.campaigns.create(live(id="rythme", title="Le rythme des maux", owner_id="yannick"))
    made = _record(pledge())
    assert storage.pledges.backs("c0ffee", "lea") is False  # not paid yet
    paid = _pay(made)
    assert storage.pledges.backs("c0ffee", "lea") is True
    assert storage.pledges.backs("rythme", "lea") is False
    assert storage.pledges.backs("c0ffee", "hugo") is False
    _refund(paid, live=True, withdrawn=True)  # Léa withdrew it
    assert storage.pledges.backs("c0ffee", "lea") is False
    hugo = _pay(_record(pledge(**HUGO)))
    _refund(hugo, live=False)  # refunded when the campaign failed: Hugo backed it
    assert storage.pledges.backs("c0ffee", "hugo") is True


def test_a_campaigns_pledges_newest_first_the_uncounted_only_when_asked():
    _paid(pledge())
    _record(pledge(**HUGO, created_at=SOON))
    _paid(pledge(**MAELLE, created_at="2026-06-03T09:00:00Z"))
    storage.pledges.end_pending(pledge(**HUGO, created_at=SOON), "payment_failed", SOON, "carte refusée")
    counted, _ = storage.pledges.list_for_campaign("c0ffee", limit=10, cursor=None)
    every, _ = storage.pledges.list_for_campaign("c0ffee", limit=10, cursor=None, counted_only=False)
    assert [p.id for p in counted] == ["p-maelle", "p-lea"]
    assert [(p.id, p.status) for p in every] == [
        ("p-maelle", "paid"),
        ("p-hugo", "payment_failed"),
        ("p-lea", "paid"),
    ]


def test_a_contributors_pledges_newest_first_in_pages_whatever_their_state():
    for n in range(3):
        _record(pledge(id=f"p-lea-{n}", created_at=f"2026-06-0{n + 1}T10:00:00Z"))
    _pay(pledge(id="p-lea-1", created_at="2026-06-02T10:00:00Z"))
    _record(pledge(**HUGO))
    first, cursor = storage.pledges.list_for_contributor("lea", limit=2, cursor=None)
    rest, last = storage.pledges.list_for_contributor("lea", limit=2, cursor=cursor)
    assert [(p.id, p.status) for p in first + rest] == [
        ("p-lea-2", "pending_payment"),
        ("p-lea-1", "paid"),
        ("p-lea-0", "pending_payment"),
    ]
    assert last is None
