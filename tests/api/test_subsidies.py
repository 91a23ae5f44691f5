"""Subsidies due (SPEC "Money (v2)"): a succeeded matched campaign's top-ups, listed for the
public accountant with the beneficiary's numbers, and marked paid with the mandate's
reference, once, in the audit trail."""

import csv
import io
import json

from tests.api.test_matching import close_and_settle, give, matched_campaign
from tests.conftest import bearer
from tests.factories import MODERATOR, payout_account

ASSOCIATION = {"kind": "legal", "legal_name": "Le rythme des maux", "legal_form": "association", "rna": "W502004567"}


def succeeded_with_top_ups(client, owner="porteur", title="Le rythme des maux"):
    """5 000 from the crowd, 5 000 matched: a goal of 10 000 reached."""
    payout_account(client, owner, **ASSOCIATION)  # before live_campaign opens a person's
    campaign_id, fund_id = matched_campaign(client, owner=owner, goal_cents=10_000, title=title)
    give(client, campaign_id, 5_000, contributor=f"contributrice-{owner}")
    close_and_settle(client, campaign_id)
    return campaign_id, fund_id


def due(client, who=MODERATOR, format="json"):
    return client.http.get(f"/exports/subsidies-due?format={format}", headers=who)


def mark_paid(client, campaign_id, body, who=MODERATOR):
    return client.http.post(f"/subsidies/{campaign_id}/paid", headers=who, body=json.dumps(body))


def test_the_accountant_gets_each_subsidy_due_with_its_beneficiary_and_decision(client):
    campaign_id, fund_id = succeeded_with_top_ups(client)

    answer = due(client)

    assert answer.status_code == 200, answer.body
    (line,) = answer.json_body["items"]
    assert {k: line[k] for k in ("id", "beneficiary", "rna", "siren", "amount_cents", "fund_id", "decision_ref")} == {
        "id": campaign_id,
        "beneficiary": "Le rythme des maux",
        "rna": "W502004567",
        "siren": None,
        "amount_cents": 5_000,
        "fund_id": fund_id,
        "decision_ref": "délibération CD-2026-045",
    }
    assert answer.json_body["total_cents"] == 5_000


def test_the_csv_opens_in_a_french_spreadsheet(client):
    succeeded_with_top_ups(client)

    answer = due(client, format="csv")

    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Subvention", "Bénéficiaire", "SIREN", "RNA"]
    assert rows[1][1] == "Le rythme des maux" and rows[1][7:9] == ["50,00", "5000"]
    assert rows[-1][0] == "TOTAL" and rows[-1][8] == "5000"


def test_a_subsidy_marked_paid_leaves_the_list_once_and_is_in_the_audit_trail(client):
    campaign_id, _ = succeeded_with_top_ups(client)

    paid = mark_paid(client, campaign_id, {"mandate_ref": "Mandat n° 2026-00412"})

    assert paid.status_code == 200, paid.body
    assert (paid.json_body["mandate_ref"], paid.json_body["amount_cents"]) == ("Mandat n° 2026-00412", 5_000)
    assert due(client).json_body == {"items": [], "total_cents": 0}
    again = mark_paid(client, campaign_id, {"mandate_ref": "Mandat n° 2026-00413"})
    assert again.status_code == 409 and "2026-00412" in again.json_body["detail"]
    trail = client.http.get(f"/audit?campaign_id={campaign_id}", headers=MODERATOR).json_body["items"]
    assert [e["action"] for e in trail].count("subsidy_paid") == 1


def test_only_subsidies_due_can_be_marked_paid(client):
    answer = mark_paid(client, "inconnue", {"mandate_ref": "Mandat 1"})
    assert answer.status_code == 404


def test_only_moderators_see_or_mark_subsidies_whatever_the_body(client):
    campaign_id, _ = succeeded_with_top_ups(client)
    stranger = bearer("curieuse")
    assert due(client, stranger).status_code == 403
    assert mark_paid(client, campaign_id, {"nope": 1}, stranger).status_code == 403
    assert client.http.get("/exports/subsidies-due").status_code == 401


def test_a_mandate_reference_is_required(client):
    campaign_id, _ = succeeded_with_top_ups(client)
    for body in ({}, {"mandate_ref": "  "}, {"mandate_ref": "x" * 101}):
        answer = mark_paid(client, campaign_id, body)
        assert answer.status_code == 422 and answer.json_body["errors"][0]["field"] == "mandate_ref"
    assert len(due(client).json_body["items"]) == 1
