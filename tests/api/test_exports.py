"""What the département hands its accountant and publishes: the export of the campaigns
closed between two days (JSON, or CSV for a French spreadsheet) whose totals are the sum
of its lines and of the stored pledges; open data without personal data; /stats by
category and by commune."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import clock, finalisation, payments, storage
from tests.conftest import bearer
from tests.factories import MODERATOR, campaign_body, live_campaign, pledge

OWNER = bearer("porteur", name="Yannick Hervé")
APPROVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Approved on 2 March for 10 or 20 days: the deadlines are the 12th and the 22nd at
# 23:59:59 Paris time, so the closures land on the 13th and the 23rd, Paris time.
FIRST_CLOSURE, SECOND_CLOSURE = "2026-03-13", "2026-03-23"


def closes(client, campaign_id):
    """The scheduled run one second after the deadline and payment window."""
    ends_at = clock.parse(client.http.get(f"/campaigns/{campaign_id}").json_body["ends_at"])
    finalisation.run(ends_at + payments.window() + timedelta(seconds=1))


@pytest.fixture
def closed(client, monkeypatch):
    """A succeeded campaign (a contributor pledged twice; one pledge cancelled), a failed
    one, a cancelled one and a live one; answers their ids."""
    monkeypatch.setattr(clock, "now", lambda: APPROVED)
    funded, _ = live_campaign(client, duration_days=10, goal_cents=10_000, title='=HYPERLINK("http://x")')
    failed, _ = live_campaign(
        client,
        duration_days=20,
        title="Cocotte Minute",
        category="business",
        commune="Cherbourg-en-Cotentin",
        postcode="50100",
    )
    cancelled, _ = live_campaign(client, duration_days=30, title="Le rythme des maux")
    live, _ = live_campaign(client, duration_days=60, title="Exp3D")
    for n, (campaign_id, amount) in enumerate(
        [(funded, 6_000), (funded, 2_550), (failed, 1_000), (cancelled, 700), (live, 900)]
    ):
        assert pledge(client, campaign_id, key=f"k{n}", amount_cents=amount).status_code == 201
    assert (
        pledge(client, funded, contributor="marie", name="Marie Lecoq", key="m", amount_cents=4_000).status_code == 201
    )
    gone = pledge(client, funded, contributor="jean", name="Jean Lefèvre", key="j", amount_cents=9_999).json_body
    assert client.http.post(f"/pledges/{gone['id']}/cancel", headers=bearer("jean")).status_code == 200
    assert client.http.post(f"/campaigns/{cancelled}/cancel", headers=OWNER).status_code == 200
    closes(client, funded)
    closes(client, failed)
    return {"funded": funded, "failed": failed, "cancelled": cancelled, "live": live}


def export(client, query="format=json", who=MODERATOR):
    answer = client.http.get(f"/exports/closed-campaigns?{query}", headers=who)
    assert answer.status_code == 200, answer.body
    return answer


def stored_pledges(campaign_id):
    """Every stored pledge of a campaign, whatever its state."""
    items, cursor = storage.pledges.list_for_campaign(campaign_id, limit=100, cursor=None, counted_only=False)
    assert cursor is None
    return [p._asdict() for p in items]


def amounts(campaign_id, status):
    return sum(p["amount_cents"] for p in stored_pledges(campaign_id) if p["status"] == status)


def test_the_json_export_lists_closed_campaigns_and_totals_their_lines(client, closed):
    body = export(client).json_body
    lines = {line["campaign_id"]: line for line in body["items"]}
    assert set(lines) == {closed["funded"], closed["failed"], closed["cancelled"]}  # not the live one
    assert [line["outcome"] for line in body["items"]] == ["cancelled", "succeeded", "failed"]  # by closure

    funded = lines[closed["funded"]]
    assert funded["owner_name"] == "Yannick Hervé" and funded["commune"] == "Saint-Lô" and funded["postcode"] == "50000"
    assert (funded["goal_cents"], funded["crowd_cents"], funded["collected_cents"]) == (10_000, 12_550, 12_550)
    assert (funded["contributors"], funded["pledges"]) == (2, 3)  # the cancelled pledge is not counted
    assert (funded["matched_cents"], funded["matching_fund_id"]) == (0, None)
    assert lines[closed["failed"]]["collected_cents"] == 0  # refunded, not collected
    assert lines[closed["failed"]]["category"] == "business"

    totals = body["totals"]
    for name in ("goal_cents", "crowd_cents", "collected_cents", "matched_cents", "contributors", "pledges"):
        assert totals[name] == sum(line[name] for line in body["items"]), name
    assert totals["campaigns"] == 3
    # The crowd money at closure: collected when the campaign succeeded, refunded otherwise
    # (Jean's pledge, refunded when he cancelled it, left the totals before).
    assert funded["crowd_cents"] == amounts(closed["funded"], "collected") == 12_550
    assert amounts(closed["funded"], "refunded") == 9_999
    for gone in ("failed", "cancelled"):
        assert {p["status"] for p in stored_pledges(closed[gone])} == {"refunded"}
        assert lines[closed[gone]]["crowd_cents"] == amounts(closed[gone], "refunded")
        assert lines[closed[gone]]["collected_cents"] == 0
        # Their backers, refunded at closure, still backed the campaign.
        assert (lines[closed[gone]]["contributors"], lines[closed[gone]]["pledges"]) == (1, 1)
    assert totals["crowd_cents"] == 12_550 + 1_000 + 700
    every_pledge = [p for campaign_id in lines for p in stored_pledges(campaign_id)]
    assert totals["collected_cents"] == sum(p["amount_cents"] for p in every_pledge if p["status"] == "collected")


def test_the_csv_opens_in_a_french_spreadsheet_and_parses_back_with_semicolons(client, closed):
    answer = export(client, "format=csv")
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="oze-campagnes-cloturees_debut_fin.csv"'
    raw = answer.body
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    heading, *lines, total = rows
    assert heading[:6] == ["Campagne", "Titre", "Porteur", "Commune", "Code postal", "Catégorie"]
    assert "Montant participatif (€)" in heading and "Montant participatif (centimes)" in heading
    assert all(len(row) == len(heading) for row in rows)
    cell = {name: i for i, name in enumerate(heading)}

    funded = next(row for row in lines if row[0] == closed["funded"])
    assert funded[cell["Titre"]] == '\'=HYPERLINK("http://x")'  # a title is never run as a formula
    assert funded[cell["Montant participatif (€)"]] == "125,50"
    assert funded[cell["Montant participatif (centimes)"]] == "12550"
    assert funded[cell["Objectif (€)"]] == "100,00"
    assert funded[cell["Issue"]] == "réussie"
    assert funded[cell["Date de clôture"]] == "13/03/2026"
    assert total[0] == "TOTAL"
    for label in ("Objectif", "Montant participatif", "Montant prélevé", "Abondement"):
        column = cell[f"{label} (centimes)"]
        assert int(total[column]) == sum(int(row[column]) for row in lines), label
        euros = total[cell[f"{label} (€)"]]
        assert euros == f"{int(total[column]) // 100},{int(total[column]) % 100:02d}"
    assert int(total[cell["Montant participatif (centimes)"]]) == export(client).json_body["totals"]["crowd_cents"]


def test_the_export_takes_closure_days_in_the_local_time_zone(client, closed):
    def days(query):
        return [line["campaign_id"] for line in export(client, f"format=json&{query}").json_body["items"]]

    assert days(f"from={FIRST_CLOSURE}&to={FIRST_CLOSURE}") == [closed["funded"]]
    assert days(f"from={SECOND_CLOSURE}") == [closed["failed"]]
    assert days("to=2026-03-12") == [closed["cancelled"]]  # cancelled on approval day
    assert days("from=2026-03-14&to=2026-03-22") == []
    body = export(client, "format=json&from=2026-03-14&to=2026-03-22").json_body
    assert body["totals"] == {
        "campaigns": 0, "goal_cents": 0, "crowd_cents": 0, "collected_cents": 0,
        "matched_cents": 0, "contributors": 0, "pledges": 0,
    }  # fmt: skip
    name = export(client, f"from={FIRST_CLOSURE}&to={SECOND_CLOSURE}").headers["Content-Disposition"]
    assert name == f'attachment; filename="oze-campagnes-cloturees_{FIRST_CLOSURE}_{SECOND_CLOSURE}.csv"'


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-03-20&to=2026-03-10", "to"),
        ("from=13/03/2026", "from"),
        ("format=xlsx", "format"),
        ("owner=moi", "owner"),
        ("to=0", "to"),  # not a day, though a number of seconds would make one
        ("from=20260301", "from"),
    ],
)
def test_bad_export_parameters_are_400_naming_the_parameter(client, query, field):
    answer = client.http.get(f"/exports/closed-campaigns?{query}", headers=MODERATOR)
    assert answer.status_code == 400
    assert [error["field"] for error in answer.json_body["errors"]] == [field]


def test_only_moderators_export(client):
    assert client.http.get("/exports/closed-campaigns", headers=OWNER).status_code == 403
    assert client.http.get("/exports/closed-campaigns").status_code == 401


# --- open data --------------------------------------------------------------------------------


def test_open_data_lists_closed_campaigns_without_personal_data_under_an_open_licence(client, closed):
    answer = client.http.get("/open-data/campaigns")
    assert answer.status_code == 200
    body = answer.json_body
    assert body["licence"]["name"].startswith("Licence Ouverte")
    assert body["licence"]["url"] == "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"
    assert body["producer"] == "Ozé – Manche"
    assert [c["outcome"] for c in body["items"]] == ["failed", "succeeded", "cancelled"]  # latest closure first
    funded = next(c for c in body["items"] if c["id"] == closed["funded"])
    assert (funded["raised_cents"], funded["crowd_cents"], funded["matched_cents"]) == (12_550, 12_550, 0)
    assert funded["pledge_count"] == 3 and funded["closed_at"].endswith("Z")
    text = answer.body.decode()
    for personal in ("Yannick", "Léa Dupont", "Marie Lecoq", "exemple.fr", "porteur", "contributrice"):
        assert personal not in text
    assert set(funded) == {
        "id", "title", "category", "commune", "postcode", "funding_model", "goal_cents", "raised_cents",
        "crowd_cents", "matched_cents", "pledge_count", "outcome", "launched_at", "ends_at", "closed_at",
    }  # fmt: skip


def test_open_data_pages(client, closed):
    first = client.http.get("/open-data/campaigns?limit=2").json_body
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.http.get(f"/open-data/campaigns?limit=2&cursor={first['next_cursor']}").json_body
    assert len(rest["items"]) == 1 and "next_cursor" not in rest
    assert client.http.get("/open-data/campaigns?cursor=nope").status_code == 400


# --- /stats by category and by commune ------------------------------------------------------


def test_stats_count_public_campaigns_by_category_and_commune(client, closed):
    stats = client.http.get("/stats").json_body
    assert stats["by_category"] == {
        "business": {"live": 0, "succeeded": 0, "failed": 1, "cancelled": 0, "succeeded_raised_cents": 0},
        "culture": {"live": 1, "succeeded": 1, "failed": 0, "cancelled": 1, "succeeded_raised_cents": 12_550},
    }
    assert stats["by_commune"]["Saint-Lô"] == {
        "live": 1, "succeeded": 1, "failed": 0, "cancelled": 1, "succeeded_raised_cents": 12_550,
    }  # fmt: skip
    assert stats["by_commune"]["Cherbourg-en-Cotentin"]["failed"] == 1
    by_status = stats["campaigns_by_status"]
    assert sum(area["live"] for area in stats["by_category"].values()) == by_status["live"]
    assert sum(area["succeeded"] for area in stats["by_commune"].values()) == by_status["succeeded"]


def test_drafts_and_submitted_campaigns_are_not_in_the_area_figures(client):
    answer = client.http.post("/campaigns", headers=OWNER, body=json.dumps(campaign_body(category="sport")))
    assert client.http.post(f"/campaigns/{answer.json_body['id']}/submit", headers=OWNER).status_code == 200
    assert client.http.get("/stats").json_body["by_category"] == {}


def test_a_matched_campaign_shows_its_fund_and_keeps_crowd_and_matched_apart(client):
    now = clock.now()
    fund = {
        "name": "Fonds culture 2026",
        "decision_ref": "délibération CD-2026-045",
        "budget_cents": 100_000,
        "match_percent": 100,
        "cap_per_pledge_cents": 5_000,
        "cap_per_campaign_cents": 20_000,
        "opens_at": clock.iso(now - timedelta(days=1)),
        "closes_at": clock.iso(now + timedelta(days=120)),
    }
    fund_id = client.http.post("/matching-funds", headers=MODERATOR, body=json.dumps(fund)).json_body["id"]
    campaign_id, _ = live_campaign(client, goal_cents=10_000)
    attached = client.http.post(
        f"/campaigns/{campaign_id}/matching", headers=MODERATOR, body=json.dumps({"fund_id": fund_id})
    )
    assert attached.status_code == 200, attached.body
    assert pledge(client, campaign_id, amount_cents=6_000).status_code == 201  # + 5 000 (the cap per pledge)
    closes(client, campaign_id)

    (line,) = export(client).json_body["items"]
    assert (line["crowd_cents"], line["matched_cents"]) == (6_000, 5_000)
    assert (line["matching_fund_id"], line["matching_fund_name"]) == (fund_id, "Fonds culture 2026")
    assert line["crowd_cents"] == line["collected_cents"] == amounts(campaign_id, "collected")
    rows = list(csv.reader(io.StringIO(export(client, "format=csv").body.decode("utf-8-sig")), delimiter=";"))
    heading, row, total = rows
    assert row[heading.index("Fonds d'abondement")] == "Fonds culture 2026"
    assert (row[heading.index("Abondement (€)")], total[heading.index("Abondement (centimes)")]) == ("50,00", "5000")
    (opened,) = client.http.get("/open-data/campaigns").json_body["items"]
    assert (opened["raised_cents"], opened["crowd_cents"], opened["matched_cents"]) == (11_000, 6_000, 5_000)
