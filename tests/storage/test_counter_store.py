"""The platform's counters (chalicelib/storage/counters.py): campaigns by state moved in the
transactions of their transitions, what pledges raised counted from the table's stream
(chalicelib/figures.py) once they are paid."""

import pytest

from chalicelib import figures, storage
from chalicelib.records import NO_TOP_UP, AreaFigures, Counters, Pledge
from devtools.stream import StreamReader
from tests.conftest import STAGE_ENV
from tests.records import ENDS, NOW, draft, idempotency, ledger_entry, pledge
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

CLOSED = "2026-07-12T06:00:00Z"


def _launched(campaign_id: str, **fields):
    """A campaign created as a draft, submitted and approved, as the lifecycle moves it."""
    campaign = draft(id=campaign_id, **fields)
    storage.campaigns.create(campaign)
    campaign = storage.campaigns.transition(campaign, "submitted", {"submitted_at": NOW})
    return storage.campaigns.transition(campaign, "live", {"launched_at": NOW, "ends_at": ENDS})


def _paid(made: Pledge, scope: str) -> Pledge:
    storage.pledges.record(made, idempotency(scope), now=NOW)
    return stored.pay(made, ledger_entry(made), NO_TOP_UP)


def test_counters_of_an_empty_platform_are_zero():
    assert storage.counters.get() == Counters(
        campaigns_by_status=dict.fromkeys(("draft", "submitted", "live", "succeeded", "failed", "cancelled"), 0)
    )


def test_counters_decode_campaigns_by_state_category_and_commune_and_what_pledges_raised():
    stream = StreamReader(STAGE_ENV["TABLE_NAME"])
    saint_lo = _launched("c0ffee", category="culture", title="Le rythme des maux")
    cherbourg = _launched("cherbourg", category="business", commune="Cherbourg-en-Cotentin", postcode="50100")
    _launched("coutances", category="culture", commune="Coutances", postcode="50200")
    storage.campaigns.create(draft(id="brouillon"))
    _paid(pledge(), "lea:1")
    _paid(pledge(id="p-2", amount_cents=3_000), "lea:2")
    storage.pledges.record(pledge(id="p-3", amount_cents=9_000), idempotency("lea:3"), now=NOW)  # never paid
    storage.campaigns.transition(storage.campaigns.get(saint_lo.id), "succeeded", {"closed_at": CLOSED})
    storage.campaigns.transition(cherbourg, "cancelled", {"cancelled_at": NOW, "closed_at": NOW})
    stream.catch_up()  # the `figures` function: what pledges raised, from the table's changes

    assert storage.counters.get() == Counters(
        campaigns_by_status={"draft": 1, "submitted": 0, "live": 1, "succeeded": 1, "failed": 0, "cancelled": 1},
        raised_cents=8_000,
        pledge_count=2,
        contributors=1,
        by_category={
            "business": AreaFigures(cancelled=1),
            "culture": AreaFigures(live=1, succeeded=1, succeeded_raised_cents=8_000),
        },
        by_commune={
            "Cherbourg-en-Cotentin": AreaFigures(cancelled=1),
            "Coutances": AreaFigures(live=1),
            "Saint-Lô": AreaFigures(succeeded=1, succeeded_raised_cents=8_000),
        },
    )


def test_figures_count_a_batch_of_the_stream_once_and_only_paid_pledges():
    stream = StreamReader(STAGE_ENV["TABLE_NAME"])
    _launched("c0ffee")
    storage.pledges.record(pledge(), idempotency(), now=NOW)
    storage.pledges.record(pledge(id="p-2", amount_cents=3_000), idempotency("lea:2"), now=NOW)
    assert figures.count(stream.records()) == {}  # waiting for their payment: nothing counts
    stored.pay(pledge(), ledger_entry(pledge()), NO_TOP_UP)
    paid = stored.pay(pledge(id="p-2", amount_cents=3_000), ledger_entry(pledge(id="p-2")), NO_TOP_UP)
    batch = stream.records()
    added = {"raised_cents": 8_000, "pledge_count": 2, "contributors": 1}
    assert figures.count(batch) == added
    assert figures.count(batch) == {}  # the same batch delivered again: counted once
    storage.pledges.refund(paid, [ledger_entry(paid, "refunded")], live=True)
    assert figures.count(stream.records()) == {"raised_cents": -3_000, "pledge_count": -1}
    counted = storage.counters.get()
    assert (counted.raised_cents, counted.pledge_count, counted.contributors) == (5_000, 1, 1)


def test_collected_pledges_still_count_and_a_failed_payment_never_did():
    stream = StreamReader(STAGE_ENV["TABLE_NAME"])
    _launched("c0ffee")
    paid = _paid(pledge(), "lea:1")
    refused = pledge(id="p-2", contributor_id="hugo", amount_cents=3_000)
    storage.pledges.record(refused, idempotency("hugo:1"), now=NOW)
    storage.pledges.end_pending(refused, "payment_failed", NOW, "carte refusée")
    storage.campaigns.transition(storage.campaigns.get("c0ffee"), "succeeded", {"closed_at": CLOSED})
    assert storage.pledges.collect([paid], CLOSED) == [True]
    assert figures.count(stream.records()) == {"raised_cents": 5_000, "pledge_count": 1, "contributors": 1}
