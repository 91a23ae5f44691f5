"""Campaign news: posts by a campaign's owner, read by anyone, mailed to its contributors.

Who sees what: a post marked `backers_only` is listed only to the campaign's owner, the
moderators and its contributors (someone with an active pledge on it); anyone else gets
the list without it, as if it did not exist (not even its title: a title can say enough).

A post is mailed in French to each distinct contributor, with a link that unsubscribes
them from this campaign's news (GET /campaigns/{id}/unsubscribe?token=…, signed: see
notifications.py). The mails go during the request: campaigns here count their
contributors in tens or hundreds.
"""

from __future__ import annotations

import html
import time
import uuid
from typing import TYPE_CHECKING

from . import audit, campaigns, clock, notifications, storage
from .errors import Conflict, Forbidden, NotFound
from .identity import Identity
from .records import Campaign, News

if TYPE_CHECKING:  # the models load with their route (chalicelib/models), not with this module
    from .models.updates import NewsCreate

POSTABLE_STATES = {"live", "succeeded", "failed"}


def post(campaign_id: str, user: Identity, data: NewsCreate) -> News:
    campaign = campaigns.get(campaign_id, user)
    if user.sub != campaign.owner_id:
        raise Forbidden("only the campaign's owner may post its news")
    if campaign.status not in POSTABLE_STATES:
        raise Conflict(f"news are posted on live or ended campaigns; this one is {campaign.status}")
    news = News(
        **data.model_dump(),
        id=f"{time.time_ns():016x}{uuid.uuid4().hex[:16]}",  # in posting order, within a second too
        campaign_id=campaign_id,
        author_id=user.sub,
        created_at=clock.iso(clock.now()),
    )
    # The log keeps no text of the post: it may name people, and the log is never rewritten.
    posted = audit.entry(
        user, "news_posted", f"campaign/{campaign_id}/news/{news.id}", None, {"backers_only": data.backers_only}
    )
    storage.news.put(news, posted)
    notifications.send_news(campaign, news)
    return news


def sees_backers_news(campaign: Campaign, viewer: Identity | None) -> bool:
    if viewer is None:
        return False
    if viewer.is_moderator or viewer.sub == campaign.owner_id:
        return True
    return storage.pledges.backs(campaign.id, viewer.sub)


def news(campaign_id: str, viewer: Identity | None, *, limit: int, cursor: str | None) -> tuple[list[News], str | None]:
    campaign = campaigns.get(campaign_id, viewer)  # 404 for campaigns the viewer cannot see
    public_only = not sees_backers_news(campaign, viewer)
    return storage.news.list_news(campaign_id, public_only=public_only, limit=limit, cursor=cursor)


def unsubscribe(campaign_id: str, token: str) -> str:
    """Follow a mail's unsubscribe link; answers the page to show, in French."""
    campaign = storage.campaigns.get(campaign_id)
    contributor_id = notifications.read_unsubscribe_token(token, campaign_id) if campaign else None
    if campaign is None or contributor_id is None:
        raise NotFound("this unsubscribe link is not valid for this campaign")
    storage.news.unsubscribe(campaign_id, contributor_id, clock.iso(clock.now()))
    title = html.escape(campaign.title)
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Désabonnement</title></head>'
        '<body style="font-family:sans-serif">'
        f"<p>Vous ne recevrez plus les actualités de la campagne « {title} ».</p>"
        f'<p><a href="{html.escape(notifications.campaign_link(campaign_id))}">Voir la campagne</a></p>'
        "</body></html>"
    )
