"""DynamoDB requests per matched pledge: the goal is still one write request, to make it
and one to confirm its payment.

    .venv/bin/python -m bench.matching

Counted as bench/requests.py counts routes (botocore's before-parameter-build event on the
app's cached client, in-process moto, resources from infra/). A TransactWriteItems is
shown with its number of items: one write request, whatever it holds. The top-up is
reserved when the pledge's payment is confirmed (the provider's notification), not when
the pledge is made; the sandbox provider's own requests (PSP# items) are shown apart.
"""

import json
from collections import Counter
from datetime import timedelta
from typing import Any

from bench.requests import (
    PAYOUT_ACCOUNT,
    PROVIDER,
    app_logs_muted,
    campaign_body,
    count_requests,
    emulated_stack,
    headers,
    is_provider_call,
    paid_at_provider,
)

MODERATOR = headers("moderatrice", name="Claire Moderatrice", moderator=True)
OWNER = headers("porteur", name="Yannick Hervé")


def _items(operation: str, params: dict[str, Any]) -> str:
    if is_provider_call(params):
        return f"{PROVIDER}{operation}"
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
    if client.http.get("/me/payout-account", headers=OWNER).status_code == 404:
        _call(client, "POST", "/me/payout-account", OWNER, PAYOUT_ACCOUNT, 201)
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
    to compare), made then paid, through the Chalice test client `client`."""
    from chalicelib import matching, storage

    fund_id = _fund(client)
    matched = _live_campaign(client, title="Le rythme des maux, abondé")
    plain = _live_campaign(client, title="Le rythme des maux, sans abondement")
    _call(client, "POST", f"/campaigns/{matched}/matching", MODERATOR, {"fund_id": fund_id})
    contributor = headers("contributrice", name="Léa Dupont")

    def pledge(campaign_id: str, key: str, amount: int = 2500) -> Any:
        path = f"/campaigns/{campaign_id}/pledges"
        return _call(client, "POST", path, contributor, {"amount_cents": amount}, 201, key=key)

    def made(campaign_id: str, key: str, kept: list[Any]) -> Counter[str]:
        return count_requests(lambda: kept.append(pledge(campaign_id, key)), _items)

    def confirmed(answer: Any) -> Counter[str]:
        """Paid at the provider (not counted), then its notification (counted)."""
        query = paid_at_provider(answer)
        return count_requests(lambda: _call(client, "GET", f"/payments/notifications/sandbox?{query}", {}), _items)

    # The contributor's first payment (their marker put), not measured.
    warm_up = paid_at_provider(pledge(plain, "warm-up"))
    _call(client, "GET", f"/payments/notifications/sandbox?{warm_up}", {})
    rows: dict[str, Counter[str]] = {}
    kept: list[Any] = []
    rows["matched pledge made (pending its payment)"] = made(matched, "a", kept)
    rows["its payment confirmed, first on a matched campaign in this container"] = confirmed(kept[-1])
    rows["matched pledge made"] = made(matched, "b", kept)
    rows["its payment confirmed (top-up reserved)"] = confirmed(kept[-1])
    rows["matched pledge, same key and body again (replay)"] = made(matched, "b", kept)
    rows["unmatched pledge made (to compare)"] = made(plain, "c", kept)
    rows["its payment confirmed (unmatched)"] = confirmed(kept[-1])
    made(matched, "d", kept)
    confirmed(kept[-1])
    rows["cancellation of a paid matched pledge (refunded, top-up given back)"] = count_requests(
        lambda: _call(client, "POST", f"/pledges/{kept[-1]['id']}/cancel", contributor), _items
    )
    campaign = storage.campaigns.get(matched)._replace(status="failed", closed_at="2026-12-31T23:00:00Z")
    rows["closure of a matched campaign (matching.close_campaign)"] = count_requests(
        lambda: matching.close_campaign(campaign, "2026-12-31T23:00:00Z"), _items
    )
    return rows


def writes(operations: Counter[str]) -> int:
    """The platform's write requests (the provider's own excluded)."""
    return sum(n for name, n in operations.items() if name.startswith(("TransactWriteItems", "PutItem", "UpdateItem")))


def reads(operations: Counter[str]) -> int:
    return sum(n for name, n in operations.items() if name.startswith(("GetItem", "BatchGetItem", "Query")))


def report(rows: dict[str, Counter[str]]) -> str:
    width = max(map(len, rows))
    lines = ["DynamoDB requests per matched pledge (in-process moto, resources from infra/):"]
    lines.append(f"  {'case':<{width}}  requests  writes  operations (the platform's, then the provider's own)")
    for case, operations in rows.items():
        shown = ", ".join(f"{name}×{n}" if n > 1 else name for name, n in sorted(operations.items()))
        ours = sum(n for name, n in operations.items() if not name.startswith(PROVIDER))
        lines.append(f"  {case:<{width}}  {ours:>8}  {writes(operations):>6}  {shown}")
    moved = [case for case in rows if case.startswith(("matched pledge made", "its payment confirmed"))]
    worst = max(writes(rows[case]) for case in moved)
    lines.append(
        f"  goal: one write request per matched pledge made, and per payment confirmed: {worst} — "
        f"{'met' if worst == 1 else 'NOT met'}"
    )
    return "\n".join(lines)


def main() -> None:
    import logging
    import warnings

    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="moto")
    with emulated_stack() as client:
        with app_logs_muted():
            rows = measure(client)
        print(report(rows))


if __name__ == "__main__":
    main()
