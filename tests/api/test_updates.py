"""Campaign news: posted by the owner on live or ended campaigns, read by anyone (those for
backers only by the owner, moderators and contributors), mailed in French to each
contributor once, with a link that unsubscribes them from that campaign's news."""

import html
import json
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import clock, finalisation, notifications, payments, storage
from tests.conftest import STAGE_ENV, bearer
from tests.factories import MODERATOR, campaign_body, live_campaign, pledge

OWNER = bearer("porteur", name="Yannick Hervé")
BACKER = bearer("contributrice", name="Léa Dupont")
FORMER_BACKER = bearer("ancien", name="Jean Lefèvre")
STRANGER = bearer("passant", name="Hugo Marie")
PUBLIC_NEWS = {"title": "L'enregistrement commence", "body": "Première séance au studio de Saint-Lô lundi."}
BACKERS_NEWS = {
    "title": "Réservé aux contributeurs",
    "body": "Le lien d'écoute privé : à ne pas diffuser.",
    "backers_only": True,
}


def post(client, campaign_id, body, who=OWNER):
    return client.http.post(f"/campaigns/{campaign_id}/updates", headers=who, body=json.dumps(body))


def titles(client, campaign_id, who=None, query=""):
    answer = client.http.get(f"/campaigns/{campaign_id}/updates{query}", headers=who or {})
    assert answer.status_code == 200, answer.body
    return [item["title"] for item in answer.json_body["items"]]


def mails():
    return ses_backends[DEFAULT_ACCOUNT_ID][STAGE_ENV["AWS_DEFAULT_REGION"]].sent_messages


def news_mails():
    return [m for m in mails() if m.subject.startswith("Du nouveau sur")]


def text_of(mail) -> str:
    """What the reader sees of a mail (moto keeps its HTML part)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", mail.body))


@pytest.fixture
def backed(client):
    """A live campaign with a contributor (two pledges) and a former one (cancelled)."""
    campaign_id, _ = live_campaign(client)
    assert pledge(client, campaign_id, key="a", amount_cents=2000).status_code == 201
    assert pledge(client, campaign_id, key="b", amount_cents=3000).status_code == 201
    former = pledge(client, campaign_id, contributor="ancien", name="Jean Lefèvre", key="c", amount_cents=1000)
    assert client.http.post(f"/pledges/{former.json_body['id']}/cancel", headers=FORMER_BACKER).status_code == 200
    return campaign_id


def test_the_owner_posts_news_that_anyone_reads_newest_first(client, backed):
    answer = post(client, backed, PUBLIC_NEWS)
    assert answer.status_code == 201, answer.body
    posted = answer.json_body
    assert posted["title"] == "L'enregistrement commence" and posted["backers_only"] is False
    assert posted["created_at"].endswith("Z") and posted["campaign_id"] == backed
    assert post(client, backed, {"title": "Deuxième séance", "body": "Les chœurs sont enregistrés."}).status_code == 201

    assert titles(client, backed) == ["Deuxième séance", "L'enregistrement commence"]


def test_news_pages_with_a_cursor(client, backed):
    for n in range(5):
        assert post(client, backed, {"title": f"Nouvelle n°{n}", "body": "…"}).status_code == 201
    first = client.http.get(f"/campaigns/{backed}/updates?limit=2").json_body
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.http.get(f"/campaigns/{backed}/updates?limit=2&cursor={cursor}").json_body
        seen += [item["id"] for item in page["items"]]
        cursor = page.get("next_cursor")
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    ("who", "sees_backers_news"),
    [
        (None, False),
        (STRANGER, False),
        (FORMER_BACKER, False),  # cancelled their only pledge
        (BACKER, True),
        (OWNER, True),
        (MODERATOR, True),
    ],
    ids=["anonymous", "stranger", "former-contributor", "contributor", "owner", "moderator"],
)
def test_backers_only_news_are_listed_only_to_owner_moderators_and_contributors(client, backed, who, sees_backers_news):
    assert post(client, backed, PUBLIC_NEWS).status_code == 201
    assert post(client, backed, BACKERS_NEWS).status_code == 201

    answer = client.http.get(f"/campaigns/{backed}/updates", headers=who or {})
    expected = (
        ["Réservé aux contributeurs", "L'enregistrement commence"]
        if sees_backers_news
        else ["L'enregistrement commence"]
    )
    assert [item["title"] for item in answer.json_body["items"]] == expected
    assert ("lien d'écoute privé" in answer.body.decode()) is sees_backers_news


def test_news_stay_on_an_ended_campaign_and_can_still_be_posted(client, backed):
    ends_at = clock.parse(client.http.get(f"/campaigns/{backed}").json_body["ends_at"])
    finalisation.run(ends_at + payments.window() + timedelta(seconds=1))
    assert client.http.get(f"/campaigns/{backed}").json_body["status"] == "failed"
    assert (
        post(client, backed, {"title": "Merci quand même", "body": "Nous retenterons l'an prochain."}).status_code
        == 201
    )
    assert titles(client, backed, BACKER) == ["Merci quand même"]


@pytest.mark.parametrize(
    ("who", "status"),
    [(STRANGER, 403), (MODERATOR, 403), (BACKER, 403), (None, 401)],
    ids=["stranger", "moderator", "contributor", "anonymous"],
)
def test_only_the_owner_posts(client, backed, who, status):
    answer = post(client, backed, PUBLIC_NEWS, who=who or {"Content-Type": "application/json"})
    assert answer.status_code == status
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert titles(client, backed, OWNER) == []


def test_no_news_on_a_draft_or_a_cancelled_campaign(client):
    draft = client.http.post("/campaigns", headers=OWNER, body=json.dumps(campaign_body())).json_body["id"]
    assert post(client, draft, PUBLIC_NEWS).status_code == 409
    cancelled, _ = live_campaign(client)
    assert client.http.post(f"/campaigns/{cancelled}/cancel", headers=OWNER).status_code == 200
    assert post(client, cancelled, PUBLIC_NEWS).status_code == 409
    assert titles(client, cancelled, OWNER) == []


def test_the_news_of_a_draft_are_hidden_like_the_draft(client):
    draft = client.http.post("/campaigns", headers=OWNER, body=json.dumps(campaign_body())).json_body["id"]
    assert client.http.get(f"/campaigns/{draft}/updates", headers=STRANGER).status_code == 404
    assert client.http.get("/campaigns/0123456789abcdef0123456789abcdef/updates").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"body": "Sans titre"}, "title"),
        ({"title": "  ", "body": "Titre vide"}, "title"),
        ({"title": "Sans corps"}, "body"),
        ({"title": "Trop long", "body": "x" * 10001}, "body"),
        ({**PUBLIC_NEWS, "backers_only": "yes"}, "backers_only"),
        ({**PUBLIC_NEWS, "author": "moi"}, "author"),
    ],
)
def test_a_bad_post_is_refused_naming_the_field_and_nothing_is_written(client, backed, body, field):
    answer = post(client, backed, body)
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json_body["errors"]] == [field]
    assert titles(client, backed, OWNER) == [] and news_mails() == []


def test_each_contributor_gets_the_news_once_in_french_with_an_unsubscribe_link(client, backed):
    other = pledge(client, backed, contributor="marie", name="Marie Lecoq", key="m", amount_cents=1500)
    assert other.status_code == 201
    assert post(client, backed, BACKERS_NEWS).status_code == 201

    sent = news_mails()
    assert sorted(m.destinations["ToAddresses"][0] for m in sent) == ["contributrice@exemple.fr", "marie@exemple.fr"]
    mail = next(m for m in sent if m.destinations["ToAddresses"][0] == "contributrice@exemple.fr")
    assert mail.subject == "Du nouveau sur « Le rythme des maux » : Réservé aux contributeurs"
    assert "Bonjour Léa Dupont" in text_of(mail) and "Désabonnez-vous" in text_of(mail)
    assert "Le lien d'écoute privé : à ne pas diffuser." in text_of(mail)


def _unsubscribe_path(mail) -> str:
    link = next(word for word in text_of(mail).split() if "/unsubscribe?token=" in word)
    assert f'<a href="{link}">' in mail.body  # clickable
    assert link.startswith(STAGE_ENV.get("API_URL", "http://127.0.0.1:8000"))
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


def test_the_unsubscribe_link_stops_that_campaigns_news_for_that_contributor_only(client, backed):
    other_campaign, _ = live_campaign(client, title="Cocotte Minute, tricot à Saint-Lô")
    assert pledge(client, other_campaign, key="o", amount_cents=1000).status_code == 201
    assert (
        pledge(client, backed, contributor="marie", name="Marie Lecoq", key="m", amount_cents=1500).status_code == 201
    )
    assert post(client, backed, PUBLIC_NEWS).status_code == 201
    mail = next(m for m in news_mails() if m.destinations["ToAddresses"][0] == "contributrice@exemple.fr")

    page = client.http.get(_unsubscribe_path(mail))
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Vous ne recevrez plus les actualités de la campagne « Le rythme des maux »" in page.body.decode()
    assert client.http.get(_unsubscribe_path(mail)).status_code == 200  # twice: no harm

    mails().clear()
    assert post(client, backed, {"title": "Deuxième séance", "body": "…"}).status_code == 201
    assert post(client, other_campaign, {"title": "Nouvelle laine", "body": "…"}, who=OWNER).status_code == 201
    assert sorted((m.destinations["ToAddresses"][0], m.subject) for m in news_mails()) == [
        ("contributrice@exemple.fr", "Du nouveau sur « Cocotte Minute, tricot à Saint-Lô » : Nouvelle laine"),
        ("marie@exemple.fr", "Du nouveau sur « Le rythme des maux » : Deuxième séance"),
    ]


def test_a_forged_or_misplaced_unsubscribe_token_is_refused(client, backed):
    other_campaign, _ = live_campaign(client, title="Cocotte Minute, tricot à Saint-Lô")
    for_other_campaign = notifications.unsubscribe_token("contributrice", other_campaign)
    signed = notifications.unsubscribe_token("contributrice", backed)
    forged = signed.split(".")[0] + "." + "A" * 43
    for token in (for_other_campaign, forged, "pas-un-jeton", "."):
        answer = client.http.get(f"/campaigns/{backed}/unsubscribe?token={token}")
        assert answer.status_code == 404, token
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert client.http.get(f"/campaigns/{backed}/unsubscribe").status_code == 400  # no token
    assert storage.news.unsubscribed(backed) == set()


def test_the_signing_secret_of_a_stage_is_used_when_set(client, backed, monkeypatch):
    made_with_table_key = notifications.unsubscribe_token("contributrice", backed)
    monkeypatch.setenv("UNSUBSCRIBE_SECRET", "un-secret-de-la-prod")
    assert notifications.unsubscribe_token("contributrice", backed) != made_with_table_key
    assert notifications.read_unsubscribe_token(made_with_table_key, backed) is None
    assert notifications.read_unsubscribe_token(notifications.unsubscribe_token("contributrice", backed), backed) == (
        "contributrice"
    )
