"""DynamoDB requests per matched pledge: the goal is still one write request.

    .venv/bin/python -m bench.matching

Counted as bench/requests.py counts routes (botocore's before-parameter-build event on the
app's cached client, in-process moto, resources from infra/). A TransactWriteItems is
shown with its number of items: one write request, whatever it holds.
"""

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from bench.requests import campaign_body, count_requests, emulated_stack, headers

MODERATOR = headers("moderatrice", name="Claire Moderatrice", moderator=True)
OWNER = headers("porteur", name="Yannick Hervé")


def _items(operation: str, params: dict[str, Any]) -> str:
    if operation == "TransactWriteItems":
        return f"TransactWriteItems ({len(params['TransactItems'])} items)"
    return operation


def _call(
    client, method: str, path: str, who: dict[str, str], body: Any = None, expect: int = 200, key: str = ""
) -> Any:
    sent = {**who, **({"Idempotency-Key": key} if key else {})}
    answer = client.http.request(method, path, headers=sent, body=json.dumps(body).encode() if body else b"")
    if answer.status_code != expect:
        raise AssertionError(f"{method} {path}: {answer.status_code}, expected {expect}: {answer.body}")
    return answer.json_body


def _live_campaign(client, **overrides: Any) -> str:
    campaign_id = _call(client, "POST", "/campaigns", OWNER, campaign_body(**overrides), 201)["id"]
    _call(client, "POST", f"/campaigns/{campaign_id}/submit", OWNER)
    _call(client, "POST", f"/campaigns/{campaign_id}/approve", MODERATOR)
    return campaign_id


def _fund(client) -> str:
    from chalicelib import clock

    now = clock.now()
    body = {
        "name": "Fonds d'abondement 2026",
        "decision_ref": "délibération CD-2026-045",
        "budget_cents": 1_000_000,
        "match_percent": 100,
        "cap_per_pledge_cents": 5_000,
        "cap_per_campaign_cents": 200_000,
        "opens_at": clock.iso(now - timedelta(days=1)),
        "closes_at": clock.iso(now + timedelta(days=120)),
    }
    return _call(client, "POST", "/matching-funds", MODERATOR, body, 201)["id"]


def measure(client) -> dict[str, Counter[str]]:
    """DynamoDB operations per case of a pledge on a matched campaign (and one unmatched,
    to compare), through the Chalice test client `client`."""
    from chalicelib import matching, storage

    fund_id = _fund(client)
    matched = _live_campaign(client, title="Le rythme des maux, abondé")
    plain = _live_campaign(client, title="Le rythme des maux, sans abondement")
    _call(client, "POST", f"/campaigns/{matched}/matching", MODERATOR, {"fund_id": fund_id})
    contributor = headers("contributrice", name="Léa Dupont")
    _call(client, "POST", f"/campaigns/{plain}/pledges", contributor, {"amount_cents": 1000}, 201, key="warm-up")

    def pledge(campaign_id: str, key: str, amount: int = 2500) -> Any:
        path = f"/campaigns/{campaign_id}/pledges"
        return lambda: _call(client, "POST", path, contributor, {"amount_cents": amount}, 201, key=key)

    rows: dict[str, Counter[str]] = {}
    rows["first matched pledge on a campaign in this container"] = count_requests(pledge(matched, "a"), _items)
    rows["matched pledge"] = count_requests(pledge(matched, "b"), _items)
    rows["matched pledge, same key and body again (replay)"] = count_requests(pledge(matched, "b"), _items)
    rows["unmatched pledge (to compare)"] = count_requests(pledge(plain, "c"), _items)
    made = _call(client, "POST", f"/campaigns/{matched}/pledges", contributor, {"amount_cents": 3000}, 201, key="d")
    rows["cancellation of a matched pledge"] = count_requests(
        lambda: _call(client, "POST", f"/pledges/{made['id']}/cancel", contributor), _items
    )
    campaign = storage.campaigns.get(matched)._replace(status="failed", closed_at="2026-12-31T23:00:00Z")
    rows["closure of a matched campaign (matching.close_campaign)"] = count_requests(
        lambda: matching.close_campaign(campaign, "2026-12-31T23:00:00Z"), _items
    )
    return rows


def writes(operations: Counter[str]) -> int:
    return sum(n for name, n in operations.items() if name.startswith(("TransactWriteItems", "PutItem", "UpdateItem")))


def report(rows: dict[str, Counter[str]]) -> str:
    width = max(map(len, rows))
    lines = ["DynamoDB requests per matched pledge (in-process moto, resources from infra/):"]
    lines.append(f"  {'case':<{width}}  requests  writes  operations")
    for case, operations in rows.items():
        shown = ", ".join(f"{name}×{n}" if n > 1 else name for name, n in sorted(operations.items()))
        lines.append(f"  {case:<{width}}  {sum(operations.values()):>8}  {writes(operations):>6}  {shown}")
    worst = max(writes(rows[case]) for case in rows if case.endswith(("pledge", "container")))
    lines.append(f"  goal: one write request per matched pledge: {worst} — {'met' if worst == 1 else 'NOT met'}")
    return "\n".join(lines)


def main() -> None:
    import logging
    import warnings

    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="moto")
    with emulated_stack() as client:
        print(report(measure(client)))


if __name__ == "__main__":
    main()
