"""Matching funds (abondement) as moderators and the public meet them: funds and their
attachment, top-ups reserved when a pledge is paid (never for a payment that fails),
given back on cancellation and failure, due on success, and the one write request of a
pledge and of its payment. The rule's arithmetic is in tests/unit/test_matching_rules.py."""

import json
from collections import Counter
from datetime import timedelta

import pytest

from bench.requests import count_requests
from chalicelib import clock, escrow, finalisation, matching, payments, storage
from tests.conftest import bearer
from tests.factories import MODERATOR, campaign_body, complete_payment, live_campaign, payout_account, pledge

NOW = clock.now()


def fund_body(**overrides):
    body = {
        "name": "Fonds d'abondement 2026",
        "decision_ref": "délibération CD-2026-045",
        "budget_cents": 100_000,
        "match_percent": 100,
        "cap_per_pledge_cents": 5_000,
        "cap_per_campaign_cents": 20_000,
        "opens_at": clock.iso(NOW - timedelta(days=1)),
        "closes_at": clock.iso(NOW + timedelta(days=120)),
    }
    return {**body, **overrides}


def create_fund(client, **overrides):
    answer = client.http.post("/matching-funds", headers=MODERATOR, body=json.dumps(fund_body(**overrides)))
    assert answer.status_code == 201, answer.body
    return answer.json_body


def attach(client, campaign_id, fund_id, who=MODERATOR):
    return client.http.post(f"/campaigns/{campaign_id}/matching", headers=who, body=json.dumps({"fund_id": fund_id}))


def matched_campaign(client, fund=None, owner="porteur", **campaign):
    """A live campaign with a fund attached (a new one with the defaults, unless given)."""
    fund = fund or create_fund(client)
    campaign_id, _ = live_campaign(client, owner=owner, **campaign)
    assert attach(client, campaign_id, fund["id"]).status_code == 200
    return campaign_id, fund["id"]


def funds(client):
    items, cursor = [], None
    while True:
        page = client.http.get("/matching-funds" + (f"?cursor={cursor}" if cursor else "")).json_body
        items += page["items"]
        if not (cursor := page.get("next_cursor")):
            return {fund["id"]: fund for fund in items}


def money(client, fund_id):
    fund = funds(client)[fund_id]
    assert fund["budget_cents"] == fund["reserved_cents"] + fund["spent_cents"] + fund["remaining_cents"]
    return fund["reserved_cents"], fund["spent_cents"], fund["remaining_cents"]


def shown(client, campaign_id):
    campaign = client.http.get(f"/campaigns/{campaign_id}").json_body
    assert campaign["raised_cents"] == campaign["crowd_cents"] + campaign["matched_cents"]
    return campaign


def give(client, campaign_id, amount, contributor="contributrice", key=None):
    answer = pledge(client, campaign_id, contributor=contributor, key=key or f"k{amount}", amount_cents=amount)
    assert answer.status_code == 201, answer.body
    return answer.json_body


# --- funds ----------------------------------------------------------------------------------------


def test_a_moderator_creates_funds_and_anyone_lists_their_money(client):
    first = create_fund(client)
    assert (first["budget_cents"], first["reserved_cents"], first["spent_cents"], first["remaining_cents"]) == (
        100_000,
        0,
        0,
        100_000,
    )
    assert (first["rule_version"], first["decision_ref"]) == (1, "délibération CD-2026-045")
    second = create_fund(client, name="Fonds culture 2026", categories=["culture"], postcode_prefixes=["501"])
    third = create_fund(client, name="Fonds jeunesse 2026")
    page = client.http.get("/matching-funds?limit=2")  # anonymous: public money is public
    assert page.status_code == 200
    assert [f["id"] for f in page.json_body["items"]] == [third["id"], second["id"]]
    rest = client.http.get(f"/matching-funds?limit=2&cursor={page.json_body['next_cursor']}").json_body
    assert [f["id"] for f in rest["items"]] == [first["id"]]
    assert "next_cursor" not in rest
    listed = funds(client)[second["id"]]
    assert (listed["categories"], listed["postcode_prefixes"], listed["remaining_cents"]) == (
        ["culture"],
        ["501"],
        100_000,
    )


def test_fund_writes_are_for_moderators_only(client):
    campaign_id, _ = live_campaign(client)
    fund = create_fund(client)
    somebody = bearer("quelqu-un")
    for who, status in (({"Content-Type": "application/json"}, 401), (somebody, 403)):
        assert client.http.post("/matching-funds", headers=who, body=json.dumps(fund_body())).status_code == status
        patch = json.dumps({"match_percent": 300})
        assert client.http.patch(f"/matching-funds/{fund['id']}", headers=who, body=patch).status_code == status
        assert attach(client, campaign_id, fund["id"], who).status_code == status
    assert list(funds(client)) == [fund["id"]]
    assert funds(client)[fund["id"]]["match_percent"] == 100
    assert shown(client, campaign_id).get("matching_fund_id") is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"budget_cents": 0}, "budget_cents"),
        ({"budget_cents": 12.5}, "budget_cents"),
        ({"match_percent": 0}, "match_percent"),
        ({"match_percent": 1001}, "match_percent"),
        ({"match_percent": "100"}, "match_percent"),
        ({"cap_per_pledge_cents": 0}, "cap_per_pledge_cents"),
        ({"cap_per_campaign_cents": -5}, "cap_per_campaign_cents"),
        ({"min_crowd_cents": -1}, "min_crowd_cents"),
        ({"categories": ["jardinage"]}, "categories"),
        ({"postcode_prefixes": ["5a"]}, "postcode_prefixes.0"),
        ({"opens_at": "2026-01-01T00:00:00"}, "opens_at"),  # no time zone
        ({"closes_at": clock.iso(NOW - timedelta(days=2))}, "closes_at"),  # before opens_at
        ({"decision_ref": None}, "decision_ref"),
        ({"decision_ref": "  "}, "decision_ref"),
        ({"abondement": True}, "abondement"),
    ],
)
def test_bad_funds_are_422_naming_the_field_and_write_nothing(client, change, field):
    answer = client.http.post("/matching-funds", headers=MODERATOR, body=json.dumps(fund_body(**change)))
    assert answer.status_code == 422, answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in answer.json_body["errors"]]
    assert funds(client) == {}


def test_a_fund_is_attached_to_eligible_submitted_or_live_campaigns(client):
    fund = create_fund(client, categories=["culture", "social"], postcode_prefixes=["500", "501"])
    campaign_id, _ = live_campaign(client)
    answer = attach(client, campaign_id, fund["id"])
    assert answer.status_code == 200
    assert (answer.json_body["matching_fund_id"], answer.json_body["matched_cents"]) == (fund["id"], 0)
    assert attach(client, campaign_id, fund["id"]).status_code == 200  # again: the same answer
    owner = bearer("porteuse-2")
    submitted = client.http.post(
        "/campaigns", headers=owner, body=json.dumps(campaign_body(postcode="50100"))
    ).json_body
    client.http.post(f"/campaigns/{submitted['id']}/submit", headers=owner)
    assert attach(client, submitted["id"], fund["id"]).status_code == 200
    assert funds(client)[fund["id"]]["campaign_count"] == 2


def test_a_campaign_edited_out_of_its_funds_rules_after_matching_gets_no_top_up(client):
    """Matched while submitted, rejected, then edited into another category: its rules are
    checked again at each top-up."""
    fund = create_fund(client, categories=["culture"])
    owner = bearer("porteuse-3", name="Inès Hébert")
    created = client.http.post("/campaigns", headers=owner, body=json.dumps(campaign_body(category="culture")))
    campaign_id = created.json_body["id"]
    assert client.http.post(f"/campaigns/{campaign_id}/submit", headers=owner).status_code == 200
    assert attach(client, campaign_id, fund["id"]).status_code == 200
    reason = json.dumps({"reason": "Précisez le budget."})
    assert client.http.post(f"/campaigns/{campaign_id}/reject", headers=MODERATOR, body=reason).status_code == 200
    edited = client.http.patch(f"/campaigns/{campaign_id}", headers=owner, body=json.dumps({"category": "sport"}))
    assert edited.status_code == 200, edited.body
    assert client.http.post(f"/campaigns/{campaign_id}/submit", headers=owner).status_code == 200
    payout_account(client, "porteuse-3")
    assert client.http.post(f"/campaigns/{campaign_id}/approve", headers=MODERATOR).status_code == 200

    made = give(client, campaign_id, 4_000)

    assert made["matched_cents"] == 0
    assert shown(client, campaign_id)["matched_cents"] == 0
    assert money(client, fund["id"]) == (0, 0, 100_000)


def test_attaching_refuses_ineligible_campaigns_and_unusable_funds(client):
    fund = create_fund(client, categories=["culture"], postcode_prefixes=["500"])
    other = create_fund(client, name="Un autre fonds")
    closed = create_fund(
        client, opens_at=clock.iso(NOW - timedelta(days=30)), closes_at=clock.iso(NOW - timedelta(days=1))
    )
    sport, _ = live_campaign(client, owner="a", category="sport")
    elsewhere, _ = live_campaign(client, owner="b", postcode="50400")
    ok, _ = live_campaign(client, owner="c")
    owner = bearer("d")
    draft = client.http.post("/campaigns", headers=owner, body=json.dumps(campaign_body())).json_body["id"]
    for campaign_id, fund_id, status, field in [
        (sport, fund["id"], 422, "fund_id"),
        (elsewhere, fund["id"], 422, "fund_id"),
        (ok, "inconnu", 422, "fund_id"),
        (draft, fund["id"], 409, None),
        (ok, closed["id"], 409, None),
    ]:
        answer = attach(client, campaign_id, fund_id)
        assert answer.status_code == status, (campaign_id, answer.body)
        if field:
            assert answer.json_body["errors"][0]["field"] == field
    assert attach(client, ok, fund["id"]).status_code == 200
    assert attach(client, ok, other["id"]).status_code == 409  # one fund per campaign
    assert attach(client, "inconnue", fund["id"]).status_code == 404
    assert funds(client)[fund["id"]]["campaign_count"] == 1
    assert funds(client)[other["id"]]["campaign_count"] == 0


# --- top-ups with pledges ---------------------------------------------------------------------


def test_a_matched_pledge_shows_its_top_up_counted_toward_the_goal(client):
    campaign_id, fund_id = matched_campaign(client, goal_cents=10_000)
    made = give(client, campaign_id, 3_000)
    assert made["matched_cents"] == 3_000
    campaign = shown(client, campaign_id)
    assert (campaign["crowd_cents"], campaign["matched_cents"], campaign["raised_cents"]) == (3_000, 3_000, 6_000)
    assert campaign["percent_funded"] == 60
    assert money(client, fund_id) == (3_000, 0, 97_000)
    mine = client.http.get("/me/pledges", headers=bearer("contributrice")).json_body["items"]
    assert [p["matched_cents"] for p in mine] == [3_000]


def test_an_unmatched_campaign_shows_all_of_it_as_crowd_money(client):
    campaign_id, _ = live_campaign(client)
    assert give(client, campaign_id, 2_500)["matched_cents"] == 0
    campaign = shown(client, campaign_id)
    assert (campaign["crowd_cents"], campaign["matched_cents"], campaign.get("matching_fund_id")) == (2_500, 0, None)


def test_caps_per_pledge_and_per_campaign_hold(client):
    fund = create_fund(client, cap_per_pledge_cents=5_000, cap_per_campaign_cents=12_000)
    campaign_id, fund_id = matched_campaign(client, fund)
    tops = [
        give(client, campaign_id, amount, contributor=f"c{n}")["matched_cents"]
        for n, amount in enumerate((8_000, 5_000, 4_000, 3_000))
    ]
    assert tops == [5_000, 5_000, 2_000, 0]
    assert shown(client, campaign_id)["matched_cents"] == 12_000
    assert money(client, fund_id) == (12_000, 0, 88_000)


def test_a_nearly_exhausted_fund_tops_up_what_remains_and_never_refuses_a_pledge(client):
    fund = create_fund(client, budget_cents=1_500)
    first, _ = matched_campaign(client, fund, owner="a")
    second, _ = matched_campaign(client, fund, owner="b")
    assert [
        give(client, c, 1_000, contributor=f"c{n}")["matched_cents"] for n, c in enumerate((first, second, first))
    ] == [
        1_000,
        500,
        0,
    ]
    assert money(client, fund["id"]) == (1_500, 0, 0)


def test_the_minimum_crowd_amount_matches_only_what_is_beyond_it(client):
    campaign_id, _ = matched_campaign(client, create_fund(client, min_crowd_cents=5_000))
    tops = [
        give(client, campaign_id, amount, contributor=f"c{n}")["matched_cents"]
        for n, amount in enumerate((3_000, 4_000, 1_000))
    ]
    assert tops == [0, 2_000, 1_000]


def test_rounding_through_the_api_is_down_to_the_cent(client):
    campaign_id, fund_id = matched_campaign(client, create_fund(client, match_percent=33))
    assert give(client, campaign_id, 1_001)["matched_cents"] == 330
    assert money(client, fund_id)[0] == 330


def test_a_replayed_pledge_does_not_reserve_twice(client):
    campaign_id, fund_id = matched_campaign(client)
    first = pledge(client, campaign_id, key="double-clic", amount_cents=2_000)
    again = pledge(client, campaign_id, key="double-clic", amount_cents=2_000)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json_body == first.json_body
    assert first.json_body["matched_cents"] == 2_000
    assert money(client, fund_id) == (2_000, 0, 98_000)
    assert shown(client, campaign_id)["matched_cents"] == 2_000


def test_a_cancelled_pledge_gives_its_top_up_back(client, figures):
    campaign_id, fund_id = matched_campaign(client)
    made = give(client, campaign_id, 3_000)
    give(client, campaign_id, 1_000, contributor="autre")
    answer = client.http.post(f"/pledges/{made['id']}/cancel", headers=bearer("contributrice"))
    assert answer.status_code == 200
    campaign = shown(client, campaign_id)
    assert (campaign["crowd_cents"], campaign["matched_cents"], campaign["pledge_count"]) == (1_000, 1_000, 1)
    assert money(client, fund_id) == (1_000, 0, 99_000)
    figures.catch_up()
    assert client.http.get("/stats").json_body["total_raised_cents"] == 2_000


def test_rule_changes_apply_to_new_pledges_which_record_their_version(client):
    fund = create_fund(client)
    campaign_id, fund_id = matched_campaign(client, fund)
    before = give(client, campaign_id, 2_000, contributor="avant")
    renamed = client.http.patch(
        f"/matching-funds/{fund_id}", headers=MODERATOR, body=json.dumps({"name": "Fonds 2026 bis"})
    )
    assert (renamed.status_code, renamed.json_body["rule_version"]) == (200, 1)  # not a rule
    changed = client.http.patch(f"/matching-funds/{fund_id}", headers=MODERATOR, body=json.dumps({"match_percent": 50}))
    assert changed.status_code == 200
    assert (changed.json_body["match_percent"], changed.json_body["rule_version"]) == (50, 2)
    after = give(client, campaign_id, 2_000, contributor="apres")
    assert (before["matched_cents"], after["matched_cents"]) == (2_000, 1_000)
    versions = {p: storage.pledges.get(p).matching_rule_version for p in (before["id"], after["id"])}
    assert versions == {before["id"]: 1, after["id"]: 2}


def test_a_budget_moves_but_never_below_what_is_reserved_and_spent(client):
    campaign_id, fund_id = matched_campaign(client, create_fund(client, budget_cents=10_000))
    give(client, campaign_id, 4_000)
    url = f"/matching-funds/{fund_id}"
    cut = client.http.patch(url, headers=MODERATOR, body=json.dumps({"budget_cents": 3_999}))
    assert cut.status_code == 422
    assert cut.json_body["errors"][0]["field"] == "budget_cents"
    assert money(client, fund_id) == (4_000, 0, 6_000)
    assert client.http.patch(url, headers=MODERATOR, body=json.dumps({"budget_cents": 4_000})).status_code == 200
    assert money(client, fund_id) == (4_000, 0, 0)
    raised = client.http.patch(url, headers=MODERATOR, body=json.dumps({"budget_cents": 25_000}))
    assert (raised.status_code, raised.json_body["rule_version"]) == (200, 1)
    assert money(client, fund_id) == (4_000, 0, 21_000)
    late = client.http.patch(url, headers=MODERATOR, body=json.dumps({"closes_at": clock.iso(NOW - timedelta(days=3))}))
    assert (late.status_code, late.json_body["errors"][0]["field"]) == (422, "closes_at")
    assert (
        client.http.patch("/matching-funds/inconnu", headers=MODERATOR, body=json.dumps({"name": "Rien"})).status_code
        == 404
    )


def test_a_fund_not_open_yet_tops_up_nothing(client):
    later = create_fund(
        client, opens_at=clock.iso(NOW + timedelta(days=10)), closes_at=clock.iso(NOW + timedelta(days=40))
    )
    campaign_id, fund_id = matched_campaign(client, later)
    assert give(client, campaign_id, 2_000)["matched_cents"] == 0
    assert money(client, fund_id) == (0, 0, 100_000)


# --- closure: spent, given back, recorded once ------------------------------------------------


def close_and_settle(client, campaign_id):
    """Closed one second after its deadline and payment window, then a rerun."""
    after = clock.parse(shown(client, campaign_id)["ends_at"]) + payments.window() + timedelta(seconds=1)
    finalisation.run(after)
    finalisation.run(after + timedelta(minutes=11))  # a rerun changes nothing more


@pytest.mark.parametrize(("goal", "outcome", "spent"), [(10_000, "succeeded", 5_000), (10_001, "failed", 0)])
def test_closure_spends_a_succeeded_campaigns_top_ups_and_gives_back_a_failed_ones(client, goal, outcome, spent):
    """5 000 from the crowd and 5 000 matched: 10 000 toward the goal, which the crowd
    alone would not reach."""
    campaign_id, fund_id = matched_campaign(client, goal_cents=goal, title="Le rythme des maux")
    give(client, campaign_id, 5_000)
    close_and_settle(client, campaign_id)
    assert shown(client, campaign_id)["status"] == outcome
    assert money(client, fund_id) == (0, spent, 100_000 - spent)
    record = storage.funds.get_matching_record(fund_id, campaign_id)._asdict()
    assert {k: record[k] for k in ("decision_ref", "outcome", "matched_cents", "spent_cents", "released_cents")} == {
        "decision_ref": "délibération CD-2026-045",
        "outcome": outcome,
        "matched_cents": 5_000,
        "spent_cents": spent,
        "released_cents": 5_000 - spent,
    }
    assert (record["campaign_title"], record["crowd_cents"]) == ("Le rythme des maux", 5_000)
    (mine,) = client.http.get("/me/pledges", headers=bearer("contributrice")).json_body["items"]
    assert (mine["status"], mine["matched_cents"]) == ("collected" if spent else "refunded", 5_000)


def test_a_pledge_whose_payment_fails_never_counts_nor_reserves_its_top_up(client):
    """The reported bug: goal 100 €, a 50 € pledge matched 50 €, whose card payment fails
    for good. The campaign must fail; nothing of the fund is due; nothing is collected."""
    campaign_id, fund_id = matched_campaign(client, goal_cents=10_000, title="Le rythme des maux")
    refused = pledge(client, campaign_id, key="refusee", amount_cents=5_000, pay="failed")
    assert refused.status_code == 201
    assert (refused.json_body["status"], refused.json_body["matched_cents"]) == ("payment_failed", 0)
    assert refused.json_body["failure_reason"] == "carte refusée"
    campaign = shown(client, campaign_id)
    assert (campaign["raised_cents"], campaign["matched_cents"], campaign["pledge_count"]) == (0, 0, 0)
    assert money(client, fund_id) == (0, 0, 100_000)

    close_and_settle(client, campaign_id)
    assert shown(client, campaign_id)["status"] == "failed"
    assert money(client, fund_id) == (0, 0, 100_000)  # spent_cents stays 0
    record = storage.funds.get_matching_record(fund_id, campaign_id)
    assert (record.outcome, record.matched_cents, record.spent_cents) == ("failed", 0, 0)
    (line,) = client.http.get("/exports/closed-campaigns?format=json", headers=MODERATOR).json_body["items"]
    assert (line["outcome"], line["crowd_cents"], line["collected_cents"], line["matched_cents"]) == (
        "failed",
        0,
        0,
        0,
    )
    assert (line["contributors"], line["pledges"]) == (0, 0)
    (mine,) = client.http.get("/me/pledges", headers=bearer("contributrice")).json_body["items"]
    assert mine["status"] == "payment_failed"


def test_a_top_up_is_reserved_when_its_pledge_is_paid_not_when_it_is_asked_for(client):
    campaign_id, fund_id = matched_campaign(client, goal_cents=10_000)
    waiting = pledge(client, campaign_id, amount_cents=3_000, pay=None).json_body
    assert (waiting["status"], waiting["matched_cents"]) == ("pending_payment", 0)
    assert money(client, fund_id) == (0, 0, 100_000)
    assert shown(client, campaign_id)["matched_cents"] == 0
    complete_payment(client, waiting["payment"]["redirect_url"], "succeeded")
    (paid,) = client.http.get("/me/pledges", headers=bearer("contributrice")).json_body["items"]
    assert (paid["status"], paid["matched_cents"]) == ("paid", 3_000)
    assert money(client, fund_id) == (3_000, 0, 97_000)
    campaign = shown(client, campaign_id)
    assert (campaign["crowd_cents"], campaign["matched_cents"], campaign["raised_cents"]) == (3_000, 3_000, 6_000)


def test_a_cancelled_campaign_gives_all_its_top_ups_back_once(client):
    campaign_id, fund_id = matched_campaign(client)
    give(client, campaign_id, 3_000)
    give(client, campaign_id, 2_000, contributor="autre")
    assert client.http.post(f"/campaigns/{campaign_id}/cancel", headers=MODERATOR).status_code == 200
    finalisation.run(clock.now())
    settling = storage.settlement.get(campaign_id)
    assert settling.matching_closed
    # A late run that read the campaign before that closure: its conditional write refuses.
    assert matching.close_campaign(settling.campaign, clock.iso(clock.now())) is False
    assert money(client, fund_id) == (0, 0, 100_000)
    assert storage.funds.get_matching_record(fund_id, campaign_id).released_cents == 5_000


# --- faults and request counts -------------------------------------------------------------


def _pk(item):
    (request,) = item.values()
    return (request.get("Key") or request["Item"])["pk"]["S"]


def operation(name, params):
    """A DynamoDB request: a transaction by the kinds of items it writes; the sandbox
    provider's own requests (its state is in the table; a real provider's is not) apart."""
    if name == "TransactWriteItems":
        kinds = sorted({storage.keys.kind(_pk(item)) for item in params["TransactItems"]})
        return "provider TransactWriteItems" if kinds == ["PSP"] else f"TransactWriteItems ({', '.join(kinds)})"
    key = params.get("Key") or params.get("Item") or {}
    return f"{'provider ' if key.get('pk', {}).get('S', '').startswith('PSP#') else ''}{name}"


def writes(operations):
    return {name: n for name, n in operations.items() if any(w in name for w in ("Transact", "Put", "Update"))}


def test_a_matched_pledge_and_its_payment_are_one_write_request_each(client):
    campaign_id, _ = matched_campaign(client)
    give(client, campaign_id, 1_000, key="warm-up")  # its fund and its contributor known from now on
    headers = {**bearer("contributrice"), "Idempotency-Key": "b"}
    body = json.dumps({"amount_cents": 2_500})
    asked = {}

    def ask():
        asked.update(client.http.post(f"/campaigns/{campaign_id}/pledges", headers=headers, body=body).json_body)

    # Asked for: the pledge, its key and its campaign's check (the provider records its page).
    assert count_requests(ask, operation) == Counter(
        {"BatchGetItem": 1, "provider PutItem": 1, "TransactWriteItems (CAMPAIGN, IDEMPOTENCY, PLEDGE)": 1}
    )
    assert count_requests(ask, operation) == Counter(BatchGetItem=1)  # the same key and body: replayed
    payment_id = asked["payment"]["redirect_url"].rsplit("/", 1)[1]
    assert escrow.SandboxEscrow().complete(payment_id, "succeeded") is not None

    def notified():
        query = f"EventType=PAYIN_NORMAL_SUCCEEDED&RessourceId={payment_id}"
        answer = client.http.get(f"/payments/notifications/sandbox?{query}")
        assert answer.json_body == {"handled": True}

    # Paid: counted with its top-up reserved and its ledger entry, in one write.
    paid = count_requests(notified, operation)
    assert writes(paid) == {"TransactWriteItems (CAMPAIGN, FUND, LEDGER, PLEDGE)": 1}
    assert paid["provider GetItem"] == 1  # the payment read again at the provider, never trusted
    assert paid["BatchGetItem"] == 1 and not paid["GetItem"]  # the pledge, its campaign, fund and contributor
    again = count_requests(notified, operation)  # the same notification again: read, nothing written
    assert again == Counter({"provider GetItem": 1, "BatchGetItem": 1})
    assert storage.pledges.get(asked["id"]).matched_cents == 2_500

    # Cancelled while live: refunded at the provider, then out of the totals with its
    # top-up given back and the refund in the ledger, in one write.
    def cancel():
        assert client.http.post(f"/pledges/{asked['id']}/cancel", headers=bearer("contributrice")).status_code == 200

    assert writes(count_requests(cancel, operation)) == {
        "provider TransactWriteItems": 1,
        "TransactWriteItems (CAMPAIGN, FUND, LEDGER, PLEDGE)": 1,
    }
