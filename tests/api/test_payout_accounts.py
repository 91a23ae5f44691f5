"""Owners' payout accounts at the payment provider (SPEC "Money (v2)", Owners), through the
API with the sandbox provider: opening one starts the identity verification on the
provider's hosted page, whose outcome comes back as a notification that is read again;
a bank account is checked, sent to the provider and kept by its last 4 characters;
approval needs an account; nothing of the person's documents, birthday, address or IBAN
is kept by the platform."""

import json
from urllib.parse import quote

import pytest

from chalicelib import escrow, storage
from tests.conftest import bearer
from tests.factories import (
    MODERATOR,
    campaign_body,
    complete_payment,
    live_campaign,
    payout_account,
    payout_account_body,
)

OWNER = bearer("porteur", name="Yannick Hervé", email="yannick.herve@exemple.fr")
IBAN = "FR76 3000 6000 0112 3456 7890 189"
ASSOCIATION = {
    "kind": "legal",
    "legal_name": "Le rythme des maux",
    "legal_form": "association",
    "rna": "W502004567",
}


def open_account(client, body=None, who=OWNER):
    return client.http.post("/me/payout-account", headers=who, body=json.dumps(body or payout_account_body()))


def mine(client, who=OWNER):
    return client.http.get("/me/payout-account", headers=who)


def stored_item(owner="porteur"):
    return storage.dynamo.get(storage.keys.payout_account(owner))


def notify(client, event, resource_id):
    query = f"EventType={event}&RessourceId={quote(resource_id)}&Date=1767225600"
    return client.http.get(f"/payments/notifications/sandbox?{query}").json_body


def verification_id(account):
    return account["verification_url"].rsplit("/", 1)[1]


def test_opening_an_account_starts_the_verification_and_keeps_no_identity_document(client):
    answer = open_account(client)

    assert answer.status_code == 201, answer.body
    account = answer.json_body
    assert (account["kind"], account["name"], account["status"]) == ("natural", "Yannick Hervé", "verification_pending")
    assert "/sandbox/verifications/" in account["verification_url"] and account["bank_account"] is None
    assert mine(client).json_body == account
    kept = json.dumps(stored_item(), default=str)
    for detail in ("1978-04-12", "Poterne", "birthday", "address", "nationality"):
        assert detail not in kept


def test_the_hosted_page_verifies_the_owner_through_a_notification_read_again(client):
    account = open_account(client).json_body
    page = client.http.get("/" + account["verification_url"].split("/", 3)[3])
    assert page.status_code == 200 and "Identité vérifiée" in page.body.decode()

    complete_payment(client, account["verification_url"], "verified")

    assert mine(client).json_body["status"] == "verified"
    again = notify(client, "IDENTITY_VERIFICATION_VALIDATED", verification_id(account))
    assert mine(client).json_body["status"] == "verified" and again == {"handled": True}


def test_a_forged_notification_changes_nothing_the_provider_is_asked(client):
    account = open_account(client).json_body

    assert notify(client, "IDENTITY_VERIFICATION_VALIDATED", verification_id(account)) == {"handled": True}
    assert mine(client).json_body["status"] == "verification_pending"  # the provider says: still pending
    assert notify(client, "IDENTITY_VERIFICATION_VALIDATED", "idv-inconnue") == {"handled": False}


def test_a_refused_verification_says_why_and_the_owner_tries_again(client):
    first = open_account(client).json_body
    complete_payment(client, first["verification_url"], "refused")
    refused = mine(client).json_body
    assert (refused["status"], refused["refusal_reason"]) == ("refused", "pièce d'identité illisible")

    again = open_account(client)

    assert again.status_code == 201, again.body
    assert again.json_body["status"] == "verification_pending"
    assert again.json_body["verification_url"] != first["verification_url"]
    complete_payment(client, first["verification_url"], "verified")  # the old page: no longer counts
    assert mine(client).json_body["status"] == "verification_pending"
    complete_payment(client, again.json_body["verification_url"], "verified")
    assert mine(client).json_body == {
        **again.json_body,
        "status": "verified",
        "updated_at": mine(client).json_body["updated_at"],
    }


def test_an_account_is_opened_once(client):
    assert open_account(client).status_code == 201
    second = open_account(client)
    assert second.status_code == 409 and second.json_body["status"] == 409


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "legal", "legal_form": "association", "rna": "W502004567"}, "legal_name"),
        ({**ASSOCIATION, "rna": None}, "rna"),
        ({**ASSOCIATION, "legal_form": "business", "rna": None}, "siren"),
        ({**ASSOCIATION, "rna": "W50200456"}, "rna"),
        ({**ASSOCIATION, "siren": "220500019"}, "siren"),  # its check digit is wrong
        ({"legal_name": "Le rythme des maux"}, "legal_name"),  # a person has no legal name
        ({"birthday": "2015-03-01"}, "birthday"),
        ({"birthday": "1 avril 1980"}, "birthday"),
        ({"nationality": "XX"}, "nationality"),
        ({"address": {"line1": "1 rue", "postcode": "50000", "city": "Saint-Lô", "country": "ZZ"}}, "address.country"),
        ({"first_name": "   "}, "first_name"),
        ({"kind": "company"}, "kind"),
        ({"return_url": "https://ailleurs.example/retour"}, "return_url"),
    ],
)
def test_a_bad_account_is_422_naming_the_field_and_nothing_is_opened(client, changes, field):
    body = {k: v for k, v in payout_account_body(**changes).items() if v is not None}

    answer = open_account(client, body)

    assert answer.status_code == 422, answer.body
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert field in [error["field"] for error in answer.json_body["errors"]]
    assert mine(client).status_code == 404


def test_an_association_and_a_business_give_their_numbers(client):
    association = open_account(client, payout_account_body(**ASSOCIATION, siren="732 829 320")).json_body
    assert (association["name"], association["rna"], association["siren"]) == (
        "Le rythme des maux",
        "W502004567",
        "732829320",
    )
    business = payout_account_body(kind="legal", legal_name="Exp3D SAS", legal_form="business", siren="356000000")
    assert open_account(client, business, bearer("gregory")).status_code == 201  # La Poste's SIREN rule


def test_who_may_not_open_an_account_learns_nothing_of_its_rules(client):
    answer = client.http.post("/me/payout-account", headers={"Content-Type": "application/json"}, body=b"{}")
    assert answer.status_code == 401
    assert client.http.get("/me/payout-account").status_code == 401
    assert client.http.post("/me/payout-account/bank-account", body=b'{"iban": "x"}').status_code == 401


def test_a_bank_account_is_checked_sent_and_kept_by_its_last_4_characters(client):
    open_account(client)

    answer = client.http.post(
        "/me/payout-account/bank-account", headers=OWNER, body=json.dumps({"iban": IBAN, "holder": "Yannick Hervé"})
    )

    assert answer.status_code == 200, answer.body
    assert answer.json_body["bank_account"] == {"last4": "0189", "status": "active", "confirmation_url": None}
    assert "FR7630006000011234567890189" not in json.dumps(stored_item(), default=str)
    assert mine(client).json_body["bank_account"]["last4"] == "0189"


@pytest.mark.parametrize(
    "iban",
    [
        "FR7630006000011234567890188",
        "FR76300060000112345678901",
        "US12345678901234567890",
        "FR76 3000 6000 0112 3456 7890 18é",
    ],
)
def test_a_wrong_iban_is_422_before_the_provider_is_asked(client, iban):
    open_account(client)
    answer = client.http.post(
        "/me/payout-account/bank-account", headers=OWNER, body=json.dumps({"iban": iban, "holder": "Yannick Hervé"})
    )
    assert answer.status_code == 422 and answer.json_body["errors"][0]["field"] == "iban"
    assert mine(client).json_body["bank_account"] is None


def test_a_bank_account_needs_a_payout_account_first(client):
    answer = client.http.post(
        "/me/payout-account/bank-account", headers=OWNER, body=json.dumps({"iban": IBAN, "holder": "Yannick Hervé"})
    )
    assert answer.status_code == 404


def test_approval_needs_the_owners_payout_account_and_the_queue_shows_its_state(client):
    created = client.http.post("/campaigns", headers=OWNER, body=json.dumps(campaign_body()))
    campaign_id = created.json_body["id"]
    assert client.http.post(f"/campaigns/{campaign_id}/submit", headers=OWNER).status_code == 200
    queue = client.http.get("/moderation/queue", headers=MODERATOR).json_body["items"]
    assert [(c["id"], c["owner_payout_account"]) for c in queue] == [(campaign_id, None)]

    refused = client.http.post(f"/campaigns/{campaign_id}/approve", headers=MODERATOR)
    assert refused.status_code == 409 and "payout account" in refused.json_body["detail"]
    assert client.http.get(f"/campaigns/{campaign_id}", headers=OWNER).json_body["status"] == "submitted"

    open_account(client)
    queue = client.http.get("/moderation/queue", headers=MODERATOR).json_body["items"]
    assert queue[0]["owner_payout_account"] == "verification_pending"
    assert client.http.post(f"/campaigns/{campaign_id}/approve", headers=MODERATOR).status_code == 200


def test_my_data_shows_the_account_and_erasure_removes_it(client):
    payout_account(client, verify="verified")
    data = client.http.get("/me/data", headers=OWNER).json_body
    assert data["payout_account"]["status"] == "verified"
    assert "legal retention period" in data["payment_provider"]

    assert client.http.delete("/me", headers=OWNER).status_code == 200

    assert mine(client).status_code == 404
    assert client.http.get("/me/data", headers=OWNER).json_body["payout_account"] is None


def test_the_provider_down_is_503_and_nothing_is_opened(client, monkeypatch):
    def down(self, owner):
        raise escrow.ProviderError("the provider answered 503", retryable=True)

    monkeypatch.setattr(escrow.SandboxEscrow, "register_owner", down)
    answer = open_account(client)
    assert answer.status_code == 503 and mine(client).status_code == 404


def test_a_live_campaign_owner_keeps_an_account_in_any_state(client):
    campaign_id, _ = live_campaign(client)
    assert mine(client).json_body["status"] == "verification_pending"
    assert client.http.get(f"/campaigns/{campaign_id}").json_body["status"] == "live"
