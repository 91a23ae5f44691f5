"""DynamoDB requests per campaign route (counts, not times): a campaign page is one
GetItem, an unfiltered list page one Query, and no route scans the table. The scenario
and the counting hook are the benchmark's (bench/requests.py)."""

from collections import Counter

from bench.requests import CAMPAIGN_ROUTES, campaign_scenario, run_scenario


def test_campaign_routes_make_one_request_per_page_and_never_scan(client):
    rows = run_scenario(client, campaign_scenario)

    assert {(r.method, r.route) for r in rows} >= CAMPAIGN_ROUTES  # every campaign route was called
    assert all(r.requests >= 1 for r in rows)  # and the hook saw its requests

    gets = {r.case: r.operations for r in rows if (r.method, r.route) == ("GET", "/campaigns/{campaign_id}")}
    assert gets == {
        "draft, by its owner": Counter(GetItem=1),
        "draft, by a stranger": Counter(GetItem=1),
        "live, anonymous": Counter(GetItem=1),
        "unknown id": Counter(GetItem=1),
    }

    pages = {
        r.case: r.operations
        for r in rows
        if (r.method, r.route) == ("GET", "/campaigns") and not r.case.startswith("filtered")
    }
    assert len(pages) >= 5 and "next page (cursor)" in pages
    assert all(operations == Counter(Query=1) for operations in pages.values()), pages

    assert [f"{r.method} {r.route} ({r.case})" for r in rows if "Scan" in r.operations] == []
