"""News posts, unsubscriptions and the unsubscribe links' secret (chalicelib/storage/news.py)."""

import pytest

from chalicelib import storage
from chalicelib.errors import DomainError
from chalicelib.records import Unsubscription
from chalicelib.storage import keys
from tests.records import NOW, audit_entry, news
from tests.storage import stored

pytestmark = pytest.mark.usefixtures("emulated_aws")

POSTED = audit_entry(id="a-news", action="news_posted", target="campaign/c0ffee/news/n-1")
LATER = "2026-06-03T08:00:00Z"


def _ids(page) -> list[str]:
    return [item.id for item in page[0]]


def test_a_post_is_written_with_its_audit_entry():
    storage.news.put(news(), POSTED)
    assert storage.news.list_news("c0ffee", public_only=False, limit=10, cursor=None) == ([news()], None)
    assert _ids(storage.audit.list_entries(campaign_id="c0ffee", limit=10, cursor=None)) == ["a-news"]


def test_the_same_post_twice_is_refused_with_its_audit_entry():
    storage.news.put(news(), POSTED)
    with pytest.raises(storage.ConditionFailed) as refused:
        storage.news.put(news(title="Doublon"), POSTED._replace(id="a-news-2"))
    assert refused.value.item == "news"
    assert stored.item(keys.audit("a-news-2")) is None


def test_news_newest_first_and_public_only_leaves_out_those_for_backers():
    for n, backers_only in enumerate((False, True, False), start=1):
        storage.news.put(
            news(id=f"n-{n}", created_at=f"2026-06-0{n}T10:00:00Z", backers_only=backers_only),
            POSTED._replace(id=f"a-{n}"),
        )
    assert _ids(storage.news.list_news("c0ffee", public_only=False, limit=10, cursor=None)) == ["n-3", "n-2", "n-1"]
    assert _ids(storage.news.list_news("c0ffee", public_only=True, limit=10, cursor=None)) == ["n-3", "n-1"]


def test_rewrite_changes_a_post_in_place():
    storage.news.put(news(), POSTED)
    storage.news.rewrite(news(), {"body": "Merci à Anonyme pour la vitrine."})
    assert storage.news.list_news("c0ffee", public_only=False, limit=10, cursor=None)[0] == [
        news(body="Merci à Anonyme pour la vitrine.")
    ]


def test_rewrite_of_a_missing_post_is_refused_as_a_domain_error_and_creates_nothing():
    try:
        with pytest.raises(DomainError):
            storage.news.rewrite(news(), {"body": "Fantôme"})
    finally:
        assert storage.news.list_news("c0ffee", public_only=False, limit=10, cursor=None)[0] == []


def test_unsubscribing_twice_keeps_the_first_date():
    storage.news.unsubscribe("c0ffee", "lea", NOW)
    storage.news.unsubscribe("c0ffee", "lea", LATER)
    storage.news.unsubscribe("c0ffee", "hugo", LATER)
    storage.news.unsubscribe("rythme", "lea", LATER)
    assert storage.news.unsubscribed("c0ffee") == {"lea", "hugo"}
    assert storage.news.list_unsubscriptions("lea", limit=10, cursor=None)[0] == [
        Unsubscription("rythme", "lea", LATER),
        Unsubscription("c0ffee", "lea", NOW),
    ]


def test_unsubscriptions_are_not_news():
    storage.news.unsubscribe("c0ffee", "lea", NOW)
    assert storage.news.list_news("c0ffee", public_only=False, limit=10, cursor=None) == ([], None)
    assert storage.news.unsubscribed("rythme") == set()


def test_the_signing_secret_is_made_once():
    made = []

    def make(value: str):
        return lambda: made.append(value) or value

    assert storage.news.signing_secret("unsubscribe", make("premier")) == "premier"
    assert storage.news.signing_secret("unsubscribe", make("second")) == "premier"
    assert storage.news.signing_secret("autre", make("troisième")) == "troisième"
    assert made == ["premier", "troisième"]
