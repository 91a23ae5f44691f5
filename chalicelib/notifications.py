"""E-mails in French, plain text and HTML, sent through SES.

Each mail is sent by whoever first claims it with a conditional write (the pledge's
settlement, the campaign's closure or reminder flag), so a replay of a job sends nothing
twice. A stage without SENDER_EMAIL sends nothing.
"""

import base64
import binascii
import hashlib
import hmac
import html
import logging
import re
import secrets
from collections.abc import Iterator
from string import Template

from . import storage
from .adapters import mailer
from .records import Campaign, News
from .settings import get_settings

logger = logging.getLogger("oze.notifications")
URL = re.compile(r"https?://[^\s<]+")

TEMPLATES = {
    "owner_succeeded": (
        "Votre campagne « $title » a réussi",
        "Bonjour $name,\n\nBonne nouvelle : votre campagne « $title » est terminée et a réussi, "
        "avec $raised collectés pour un objectif de $goal.\n"
        "Les contributions vous seront versées par notre prestataire de paiement.\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "owner_failed": (
        "Votre campagne « $title » est terminée",
        "Bonjour $name,\n\nVotre campagne « $title » est terminée sans atteindre son objectif "
        "($raised collectés pour $goal). Les contributeurs sont remboursés.\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "owner_cancelled": (
        "Votre campagne « $title » est annulée",
        "Bonjour $name,\n\nVotre campagne « $title » a été annulée. Les contributeurs sont remboursés.\n\n"
        "L'équipe Ozé du Département",
    ),
    "owner_reminder": (
        "Plus qu'une semaine pour « $title »",
        "Bonjour $name,\n\nVotre campagne « $title » se termine le $ends_on. Elle a réuni $raised "
        "sur un objectif de $goal : c'est le moment de la partager autour de vous !\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "owner_payout_waiting": (
        "Votre versement pour « $title » vous attend",
        "Bonjour $name,\n\nLa campagne « $title » a réussi : $amount vous attendent chez notre prestataire "
        "de paiement. Pour les recevoir, $missing sur Ozé (votre compte, rubrique versements).\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "owner_payout_paid": (
        "Votre versement pour « $title » est parti",
        "Bonjour $name,\n\n$amount ont été virés sur votre compte bancaire pour la campagne « $title » "
        "(comptez un à trois jours ouvrés selon votre banque).\n\nL'équipe Ozé du Département",
    ),
    "owner_payout_failed": (
        "Votre versement pour « $title » n'a pas abouti",
        "Bonjour $name,\n\nLe virement de $amount pour « $title » a été refusé : $reason. "
        "Enregistrez un autre compte bancaire sur Ozé (votre compte, rubrique versements) : "
        "nous le referons aussitôt.\n\nL'équipe Ozé du Département",
    ),
    "pledge_paid": (
        "Votre contribution à « $title » est enregistrée",
        "Bonjour $name,\n\nVotre paiement de $amount pour « $title » a réussi. La somme est conservée "
        "sous séquestre par notre prestataire de paiement jusqu'à la fin de la campagne : elle sera "
        "versée au porteur si la campagne réussit, et vous sera remboursée sinon.\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "pledge_collected": (
        "Votre contribution à « $title » est versée au projet",
        "Bonjour $name,\n\nLa campagne « $title » a réussi : votre contribution de $amount va au projet. "
        "Merci de soutenir un projet de notre territoire !\n\nVoir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "pledge_refunded": (
        "Votre contribution à « $title » vous est remboursée",
        "Bonjour $name,\n\nVotre contribution de $amount pour « $title » vous est remboursée sur la carte "
        "qui l'a payée (comptez quelques jours selon votre banque).\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "campaign_news": (
        "Du nouveau sur « $title » : $news_title",
        "Bonjour $name,\n\nLa campagne « $title », que vous soutenez, publie une actualité.\n\n"
        "$news_title\n\n$body\n\nVoir la campagne : $link\n\n"
        "Vous ne souhaitez plus recevoir les actualités de cette campagne ? "
        "Désabonnez-vous : $unsubscribe\n\nL'équipe Ozé du Département",
    ),
}


def euros(cents: int) -> str:
    """French formatting: 3 850,00 €."""
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"


def _linked(escaped: str) -> str:
    """Addresses made clickable in an HTML paragraph (already escaped)."""
    return URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def render(template: str, **values: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a mail."""
    subject, text = TEMPLATES[template]
    text = Template(text).substitute(values)
    paragraphs = "".join(f"<p>{_linked(html.escape(p)).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
    page = f'<!doctype html><html lang="fr"><body style="font-family:sans-serif">{paragraphs}</body></html>'
    return Template(subject).substitute(values), text, page


def send(template: str, to: str, **values: str) -> bool:
    sender = get_settings().sender_email
    if not (sender and to):
        return False
    subject, text, page = render(template, **values)
    mailer.send(sender, to, subject, text, page)
    return True


def campaign_link(campaign_id: str) -> str:
    return f"{get_settings().site_url}/campagnes/{campaign_id}"


def to_owner(template: str, campaign: Campaign, **values: str) -> bool:
    """A mail to a campaign's owner as the campaign names them now (erasure leaves no
    address), with its title and link."""
    return send(
        template,
        campaign.owner_email,
        name=campaign.owner_name,
        title=campaign.title,
        link=campaign_link(campaign.id),
        **values,
    )


# --- campaign news: to each contributor, with a signed unsubscribe link per campaign ------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsubscribe_key() -> bytes:
    secret = get_settings().unsubscribe_secret
    return (secret or storage.news.signing_secret("unsubscribe", lambda: secrets.token_urlsafe(32))).encode()


def _signature(key: bytes, contributor_id: str, campaign_id: str) -> bytes:
    return hmac.new(key, f"{contributor_id}\0{campaign_id}".encode(), hashlib.sha256).digest()


def unsubscribe_token(contributor_id: str, campaign_id: str, key: bytes | None = None) -> str:
    signature = _signature(key or _unsubscribe_key(), contributor_id, campaign_id)
    return f"{_b64(contributor_id.encode())}.{_b64(signature)}"


def read_unsubscribe_token(token: str, campaign_id: str) -> str | None:
    """The contributor a token was made for, if it was made by us for this campaign."""
    encoded_id, _, signature = token.partition(".")
    try:
        contributor_id = base64.urlsafe_b64decode(encoded_id + "=" * (-len(encoded_id) % 4)).decode()
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not contributor_id:
        return None
    expected = _signature(_unsubscribe_key(), contributor_id, campaign_id)
    return contributor_id if hmac.compare_digest(given, expected) else None


def unsubscribe_link(contributor_id: str, campaign_id: str, key: bytes | None = None) -> str:
    token = unsubscribe_token(contributor_id, campaign_id, key)
    return f"{get_settings().api_url}/campaigns/{campaign_id}/unsubscribe?token={token}"


def _news_recipients(campaign_id: str) -> Iterator[tuple[str, str, str]]:
    """(contributor id, name, e-mail) of each distinct contributor who backs the campaign
    (records.Pledge.backs) and did not unsubscribe; the newest pledge gives the address."""
    skip = storage.news.unsubscribed(campaign_id)
    for pledge in storage.every(storage.pledges.list_for_campaign, campaign_id, counted_only=False):
        who = pledge.contributor_id
        if pledge.backs and who not in skip:
            skip.add(who)
            if pledge.contributor_email:
                yield who, pledge.contributor_name, pledge.contributor_email


def send_news(campaign: Campaign, news: News) -> int:
    """Mail a news post to the campaign's contributors; answers how many were sent. A
    failed mail is logged and does not stop the others."""
    if not get_settings().sender_email:
        return 0
    sent, key = 0, _unsubscribe_key()
    for contributor_id, name, email in _news_recipients(campaign.id):
        try:
            sent += send(
                "campaign_news",
                email,
                name=name,
                title=campaign.title,
                news_title=news.title,
                body=news.body,
                link=campaign_link(campaign.id),
                unsubscribe=unsubscribe_link(contributor_id, campaign.id, key),
            )
        except mailer.MailNotSent:
            logger.exception("news mail not sent", extra={"campaign_id": campaign.id, "news_id": news.id})
    return sent
