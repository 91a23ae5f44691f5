"""E-mails in French, plain text and HTML, sent through SES.

Each mail is sent by whoever first claims it with a conditional write (the pledge's
settlement, the campaign's closure or reminder flag), so a replay of a job sends nothing
twice. A stage without SENDER_EMAIL sends nothing.
"""

import html
import logging
from string import Template

from . import aws
from .settings import get_settings

logger = logging.getLogger("oze.notifications")

TEMPLATES = {
    "owner_succeeded": (
        "Votre campagne « $title » a réussi",
        "Bonjour $name,\n\nBonne nouvelle : votre campagne « $title » est terminée et a réussi, "
        "avec $raised collectés pour un objectif de $goal.\nLes contributions vont être prélevées.\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "owner_failed": (
        "Votre campagne « $title » est terminée",
        "Bonjour $name,\n\nVotre campagne « $title » est terminée sans atteindre son objectif "
        "($raised collectés pour $goal). Aucune contribution ne sera prélevée.\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "owner_cancelled": (
        "Votre campagne « $title » est annulée",
        "Bonjour $name,\n\nVotre campagne « $title » a été annulée. Aucune contribution ne sera prélevée.\n\n"
        "L'équipe Ozé du Département",
    ),
    "owner_reminder": (
        "Plus qu'une semaine pour « $title »",
        "Bonjour $name,\n\nVotre campagne « $title » se termine le $ends_on. Elle a réuni $raised "
        "sur un objectif de $goal : c'est le moment de la partager autour de vous !\n\n"
        "Voir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "pledge_collected": (
        "Votre contribution à « $title » a été prélevée",
        "Bonjour $name,\n\nLa campagne « $title » a réussi : votre contribution de $amount a été prélevée. "
        "Merci de soutenir un projet de notre territoire !\n\nVoir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
    "pledge_released": (
        "Votre contribution à « $title » ne sera pas prélevée",
        "Bonjour $name,\n\nLa campagne « $title » n'a pas abouti : votre contribution de $amount "
        "ne sera pas prélevée.\n\nVoir la campagne : $link\n\nL'équipe Ozé du Département",
    ),
}


def euros(cents: int) -> str:
    """French formatting: 3 850,00 €."""
    whole, rest = divmod(cents, 100)
    return f"{whole:,}".replace(",", "\u202f") + f",{rest:02d}\u00a0€"


def render(template: str, **values: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a mail."""
    subject, text = TEMPLATES[template]
    text = Template(text).substitute(values)
    paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n"))
    page = f'<!doctype html><html lang="fr"><body style="font-family:sans-serif">{paragraphs}</body></html>'
    return Template(subject).substitute(values), text, page


def send(template: str, to: str, **values: str) -> bool:
    sender = get_settings().sender_email
    if not (sender and to):
        return False
    subject, text, page = render(template, **values)
    aws.client("ses").send_email(
        Source=sender,
        Destination={"ToAddresses": [to]},
        Message={
            "Subject": {"Data": subject, "Charset": "UTF-8"},
            "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": page, "Charset": "UTF-8"}},
        },
    )
    return True


def campaign_link(campaign_id: str) -> str:
    return f"{get_settings().site_url}/campagnes/{campaign_id}"
