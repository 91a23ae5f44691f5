"""Erasure of a person's identity (chalicelib/storage/erasure.py): names, e-mails and
messages go, every amount, date and state stays; a live campaign keeps its owner."""

import pytest

from chalicelib import storage
from chalicelib.errors import Conflict, DomainError
from chalicelib.storage import keys
from tests.records import NOW, idempotency, live, pledge, reward
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

ERASED = "2026-09-01T10:00:00Z"
ANONYMOUS = {"owner_name": "Anonyme", "owner_email": "", "identity_erased_at": ERASED}


def test_erase_owner_rewrites_a_campaign_that_is_not_live_and_keeps_its_figures():
    campaign = live(status="failed", closed_at=NOW, raised_cents=12_000, pledge_count=3, rewards=(reward(quantity=5),))
    storage.campaigns.create(campaign)
    anonymous_reward = reward(quantity=5, description="Laine filée par Anonyme.")
    storage.erasure.erase_owner("c0ffee", ANONYMOUS, {"r-pelote": anonymous_reward})
    assert storage.campaigns.get("c0ffee") == campaign._replace(**ANONYMOUS, rewards=(anonymous_reward,))


def test_erase_owner_of_a_live_campaign_is_refused_and_writes_nothing():
    storage.campaigns.create(live())
    before = stored.item(keys.campaign("c0ffee"))
    with pytest.raises(Conflict):
        storage.erasure.erase_owner("c0ffee", ANONYMOUS, {})
    assert stored.item(keys.campaign("c0ffee")) == before


def test_erase_owner_of_an_unknown_campaign_is_refused_and_creates_nothing():
    with pytest.raises(Conflict):
        storage.erasure.erase_owner("inconnue", ANONYMOUS, {})
    assert stored.item(keys.campaign("inconnue")) is None


def test_erase_contributor_keeps_the_amount_and_drops_name_email_and_message():
    storage.campaigns.create(live())
    made = pledge(message="Vivement l'ouverture, Léa")
    storage.pledges.record(made, idempotency(), now=NOW)
    storage.erasure.erase_contributor("p-lea", ERASED)
    erased = made._replace(
        contributor_name="", contributor_email="", anonymous=True, message=None, identity_erased_at=ERASED
    )
    assert storage.pledges.get("p-lea") == erased
    shard = int(keys.pending("p-lea", made.payment_expires_at)["status_pk"].removeprefix("PENDING#"))
    due, _ = storage.pledges.list_pending_due(shard, ERASED, limit=10, cursor=None)
    assert due == [erased]  # still waiting for its payment: the sweep still finds it


def test_rewrite_pledge_message_changes_the_message_alone():
    storage.campaigns.create(live())
    made = pledge(message="Bravo Camille Lecarpentier !")
    storage.pledges.record(made, idempotency(), now=NOW)
    storage.erasure.rewrite_pledge_message("p-lea", "Bravo Anonyme !")
    assert storage.pledges.get("p-lea") == made._replace(message="Bravo Anonyme !")


@pytest.mark.parametrize(
    "erase",
    [
        lambda: storage.erasure.erase_contributor("p-inconnu", ERASED),
        lambda: storage.erasure.rewrite_pledge_message("p-inconnu", "Bravo Anonyme !"),
    ],
    ids=["erase_contributor", "rewrite_pledge_message"],
)
def test_erasing_a_missing_pledge_is_refused_as_a_domain_error_and_creates_nothing(erase):
    try:
        with pytest.raises(DomainError):
            erase()
    finally:
        assert stored.item(keys.pledge("p-inconnu")) is None
