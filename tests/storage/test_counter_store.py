"""The platform's counters (chalicelib/storage/counters.py), moved in the transactions of
the writes they count, and the sandbox provider's payments (chalicelib/storage/sandbox.py)."""

import pytest

from chalicelib import figures, storage
from chalicelib.records import NO_TOP_UP, AreaFigures, Counters, Payment
from devtools.stream import StreamReader
from tests.conftest import STAGE_ENV
from tests.records import ENDS, NOW, draft, idempotency, pledge

pytestmark = pytest.mark.usefixtures("emulated_aws")

CLOSED = "2026-07-12T06:00:00Z"


def _launched(campaign_id: str, **fields):
    """A campaign created as a draft, submitted and approved, as the lifecycle moves it."""
    campaign = draft(id=campaign_id, **fields)
    storage.campaigns.create(campaign)
    campaign = storage.campaigns.transition(campaign, "submitted", {"submitted_at": NOW})
    return storage.campaigns.transition(campaign, "live", {"launched_at": NOW, "ends_at": ENDS})


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
    storage.pledges.record(pledge(), idempotency(), new_contributor=True, now=NOW, top_up=NO_TOP_UP)
    storage.pledges.record(
        pledge(id="p-2", amount_cents=3_000), idempotency("lea:2"), new_contributor=False, now=NOW, top_up=NO_TOP_UP
    )
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


def test_a_sandbox_payment_reads_back_as_written():
    assert storage.sandbox.get("p-lea") is None
    storage.sandbox.put("p-lea", Payment("failed", attempts=1, reason="carte refusée", at=NOW))
    storage.sandbox.put("p-lea", Payment("collected", attempts=2, at=CLOSED))
    assert storage.sandbox.get("p-lea") == Payment("collected", attempts=2, at=CLOSED)


def test_figures_count_a_batch_of_the_stream_once_and_follow_cancellations():
    stream = StreamReader(STAGE_ENV["TABLE_NAME"])
    _launched("c0ffee")
    storage.pledges.record(pledge(), idempotency(), new_contributor=True, now=NOW, top_up=NO_TOP_UP)
    storage.pledges.record(
        pledge(id="p-2", amount_cents=3_000), idempotency("lea:2"), new_contributor=False, now=NOW, top_up=NO_TOP_UP
    )
    batch = stream.records()
    added = {"raised_cents": 8_000, "pledge_count": 2, "contributors": 1}
    assert figures.count(batch) == added
    assert figures.count(batch) == {}  # the same batch delivered again: counted once
    storage.pledges.cancel(storage.pledges.get("p-2"), NOW, "annulation-1")
    assert figures.count(stream.records()) == {"raised_cents": -3_000, "pledge_count": -1}
    counted = storage.counters.get()
    assert (counted.raised_cents, counted.pledge_count, counted.contributors) == (5_000, 1, 1)
