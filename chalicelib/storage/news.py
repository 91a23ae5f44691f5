"""A campaign's news posts and the unsubscriptions from them, in the campaign's partition;
and the secret that signs unsubscribe links when no setting gives one."""

from __future__ import annotations

from collections.abc import Callable

from ..records import AuditEntry, News, Unsubscription
from . import audit, dynamo, keys


def put(news: News, entry: AuditEntry) -> None:
    """A news post and its audit entry, in one transaction."""
    item = {**dynamo.attributes(news), **keys.news(news.campaign_id, news.created_at, news.id)}
    dynamo.transact([(dynamo.put(item), "news"), audit.put(entry)], "this news post exists")


def list_news(campaign_id: str, *, public_only: bool, limit: int, cursor: str | None) -> tuple[list[News], str | None]:
    """A campaign's news, newest first; `public_only` leaves out those for backers only."""
    q = dynamo.Query(
        None,
        "pk = :pk AND begins_with(sk, :kind)",
        {
            ":pk": keys.campaign_partition(campaign_id),
            ":kind": keys.news_prefix(),
            **({":no": False} if public_only else {}),
        },
        "backers_only = :no" if public_only else None,
        forward=False,
    )
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [dynamo.record(News, item) for item in items], next_cursor


def rewrite(news: News, changes: dict[str, str]) -> None:
    dynamo.rewrite(keys.news(news.campaign_id, news.created_at, news.id), changes)


def unsubscribe(campaign_id: str, contributor_id: str, now: str) -> None:
    """Idempotent: the first date is kept."""
    dynamo.write(
        dynamo.update(
            keys.unsubscription(campaign_id, contributor_id),
            "SET unsubscribed_at = if_not_exists(unsubscribed_at, :now), campaign_id = :c, "
            "contributor_id = :u, user_pk = :upk, user_sk = :usk",
            values={
                ":now": now,
                ":c": campaign_id,
                ":u": contributor_id,
                ":upk": keys.user(contributor_id),
                ":usk": keys.user_item(keys.UNSUBSCRIBED, campaign_id),
            },
        )
    )


def _unsubscriptions(campaign_id: str, *, limit: int, cursor: str | None) -> tuple[list[Unsubscription], str | None]:
    q = dynamo.Query(
        None,
        "pk = :pk AND begins_with(sk, :kind)",
        {":pk": keys.campaign_partition(campaign_id), ":kind": keys.unsubscription_prefix()},
    )
    items, next_cursor = dynamo.query(q, limit=limit, cursor=cursor)
    return [dynamo.record(Unsubscription, item) for item in items], next_cursor


def unsubscribed(campaign_id: str) -> set[str]:
    """Ids of the contributors who unsubscribed from this campaign's news."""
    return {u.contributor_id for u in dynamo.every(_unsubscriptions, campaign_id)}


def list_unsubscriptions(
    contributor_id: str, *, limit: int, cursor: str | None
) -> tuple[list[Unsubscription], str | None]:
    items, next_cursor = dynamo.query(dynamo.by_user(contributor_id, keys.UNSUBSCRIBED), limit=limit, cursor=cursor)
    return [dynamo.record(Unsubscription, item) for item in items], next_cursor


def signing_secret(name: str, make: Callable[[], str]) -> str:
    """A secret kept in the table, made once by `make()` (the first writer wins)."""
    key = keys.secret(name)
    while True:
        found = dynamo.get(key)
        if found:
            return str(found["value"])
        value = make()
        request = {
            "TableName": dynamo.table(),
            "Item": dynamo.to_ddb({**key, "value": value}),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if dynamo.conditional_put(request):
            return value
