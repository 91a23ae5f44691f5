"""Closure runs racing each other, with real threads against the locked emulator."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from chalicelib import clock, finalisation, notifications, storage
from tests.factories import live_campaign, pledge


def test_racing_closure_runs_close_once_settle_once_and_mail_once(server_client, monkeypatch):
    client = server_client
    campaign_ids = []
    for n in range(3):
        campaign_id, _ = live_campaign(client, owner=f"porteur{n}", goal_cents=10000)
        for c in range(4):
            pledge(client, campaign_id, contributor=f"c{n}-{c}", amount_cents=3000 + c)
        campaign_ids.append(campaign_id)
    after = max(clock.parse(storage.campaigns.get(c).ends_at) for c in campaign_ids) + timedelta(seconds=1)

    lock = threading.Lock()
    mails, moves = [], []
    real_send, real_record = notifications.send, storage.settlement.record_outcomes

    def counted_send(template, to, **values):
        with lock:
            mails.append((template, to))
        return real_send(template, to, **values)

    def counted_record(outcomes):
        moved = real_record(outcomes)
        with lock:
            moves.extend(p.id for (p, _), ok in zip(outcomes, moved, strict=True) if ok)
        return moved

    monkeypatch.setattr(notifications, "send", counted_send)
    monkeypatch.setattr(storage.settlement, "record_outcomes", counted_record)
    with ThreadPoolExecutor(6) as pool:
        reports = list(pool.map(lambda _: finalisation.run(after), range(6)))

    closed = [c for report in reports for c in report["closed"]]
    assert sorted(closed) == sorted(campaign_ids)  # each closed by exactly one run
    counters = client.http.get("/stats").json_body["campaigns_by_status"]
    assert (counters["live"], counters["succeeded"]) == (0, 3)
    assert len(moves) == len(set(moves)) == 12
    assert len(mails) == len(set(mails)) == 12 + 3
    for campaign_id in campaign_ids:
        pledges, _ = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None)
        assert [p.settlement for p in pledges] == ["collected"] * 4
        assert storage.settlement.get(campaign_id).settled
