"""Closure runs racing each other, with real threads against the locked emulator: each
waiting payment is swept once, each campaign closed once, each pledge collected or
refunded once, each mail sent once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from chalicelib import clock, finalisation, notifications, payments, storage
from tests.factories import live_campaign, pledge
from tests.system.conftest import escrow_money


def test_racing_closure_runs_sweep_close_settle_and_mail_once(server_client, monkeypatch):
    """Three campaigns that succeed (3 paid pledges each, and one left waiting on the
    first), one that fails (2 paid pledges): six runs at once, past the deadline and the
    payment window."""
    client = server_client
    succeeding, waiting = [], []
    for n in range(3):
        campaign_id, _ = live_campaign(client, owner=f"porteur{n}", goal_cents=10000)
        for c in range(3):
            pledge(client, campaign_id, contributor=f"c{n}-{c}", amount_cents=3500 + c)
        succeeding.append(campaign_id)
    waiting.append(pledge(client, succeeding[0], contributor="hesitante", amount_cents=1000, pay=None).json_body["id"])
    failing, _ = live_campaign(client, owner="porteuse-echec", goal_cents=1_000_000)
    for c in range(2):
        pledge(client, failing, contributor=f"f-{c}", amount_cents=2000 + c)
    campaign_ids = [*succeeding, failing]
    ends_at = max(clock.parse(storage.campaigns.get(c).ends_at) for c in campaign_ids)
    after = ends_at + payments.window() + timedelta(seconds=1)

    lock = threading.Lock()
    mails, collected, refunded = [], [], []
    real_send, real_collect, real_refund = notifications.send, storage.pledges.collect, storage.pledges.refund

    def counted_send(template, to, **values):
        with lock:
            mails.append((template, to))
        return real_send(template, to, **values)

    def counted_collect(pledges, now):
        moved = real_collect(pledges, now)
        with lock:
            collected.extend(p.id for p, ok in zip(pledges, moved, strict=True) if ok)
        return moved

    def counted_refund(pledge, entries, **options):
        done = real_refund(pledge, entries, **options)  # raises if another run recorded it
        with lock:
            refunded.append(pledge.id)
        return done

    monkeypatch.setattr(notifications, "send", counted_send)
    monkeypatch.setattr(storage.pledges, "collect", counted_collect)
    monkeypatch.setattr(storage.pledges, "refund", counted_refund)
    with ThreadPoolExecutor(6) as pool:
        reports = list(pool.map(lambda _: finalisation.run(after), range(6)))

    closed = [c for report in reports for c in report["closed"]]
    assert sorted(closed) == sorted(campaign_ids)  # each closed by exactly one run
    assert {p for report in reports for p in report["expired"]} == set(waiting)
    counters = client.http.get("/stats").json_body["campaigns_by_status"]
    assert (counters["live"], counters["succeeded"], counters["failed"]) == (0, 3, 1)
    assert len(collected) == len(set(collected)) == 9
    assert len(refunded) == len(set(refunded)) == 2
    assert sorted(mails) == sorted(set(mails))
    kinds = [template for template, _ in mails]
    assert (kinds.count("pledge_collected"), kinds.count("pledge_refunded")) == (9, 2)
    assert (kinds.count("owner_succeeded"), kinds.count("owner_failed")) == (3, 1)
    for campaign_id in campaign_ids:
        pledges, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None, counted_only=False)
        expected = {failing: ["refunded"] * 2, succeeding[0]: ["collected"] * 3 + ["expired"]}
        assert sorted(p.status for p in pledges) == expected.get(campaign_id, ["collected"] * 3)
        assert storage.settlement.get(campaign_id).settled
    assert escrow_money(failing) == (0, 0)
    assert escrow_money(succeeding[0]) == (10503, 10503)  # the owner's, once the payout is made
