"""Pledges: a contributor's euro counted exactly once, whatever races, retries and crashes.

A pledge costs one read (campaign, idempotency record and contributor marker in one
BatchGetItem) and one write (a transaction of the pledge, its idempotency record, the
campaign's total and reward stock, the matching fund's reservation of its top-up when the
campaign is matched (chalicelib/matching.py), and the platform counters). The transaction's
conditions, not the read, are what guarantee that a campaign is live and a limited
reward never oversold; the read only gives clear reasons for the common refusals.

`pledge_count` counts active pledges (one contributor may pledge several times);
`/stats` `contributors` counts distinct people who ever pledged.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import campaigns, clock, matching, observability, storage
from .errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed, field_error
from .identity import Identity

if TYPE_CHECKING:  # the models load with their route (chalicelib/models), not with this module
    from .models.pledges import PledgeCreate

IDEMPOTENCY_TTL = timedelta(hours=24)
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
ATTEMPTS = 4  # a matched pledge may read again twice for its top-up (matching.MATCH_ATTEMPTS)


def _check_key(key: str | None) -> str:
    if key is None or not KEY_PATTERN.fullmatch(key):
        raise BadRequest(
            "send an Idempotency-Key header of 1 to 255 printable characters",
            [{"field": "Idempotency-Key", "message": "required, 1 to 255 printable ASCII characters"}],
        )
    return key


def _fingerprint(campaign_id: str, data: PledgeCreate) -> str:
    body = json.dumps({"campaign_id": campaign_id, **data.model_dump()}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def _scope(user: Identity, key: str) -> str:
    """Keys belong to their contributor: two people may use the same key."""
    return hashlib.sha256(f"{user.sub}\0{key}".encode()).hexdigest()


def own_view(pledge: dict[str, Any]) -> dict[str, Any]:
    hidden = (
        "contributor_id",
        "contributor_name",
        "contributor_email",
        "campaign_title",
        "cancellation_id",
        "reward_limited",
        "payment_token",
    )
    return {k: v for k, v in pledge.items() if k not in hidden}


def _check_pledgeable(campaign: dict[str, Any] | None, campaign_id: str, user: Identity, data: PledgeCreate, now: str):
    if campaign is None or not campaigns.can_see(campaign, user):
        raise NotFound(f"no campaign {campaign_id}")
    if campaign["owner_id"] == user.sub:
        raise Forbidden("owners cannot pledge on their own campaign")
    if campaign["status"] != "live" or campaign["ends_at"] < now:
        raise Conflict(f"the campaign is not open for pledges (it is {campaign['status']})")
    if data.reward_id is None:
        return None
    reward = campaign["rewards"].get(data.reward_id)
    if reward is None:
        raise field_error("reward_id", "this campaign offers no such reward")
    if data.amount_cents < reward["min_amount_cents"]:
        raise field_error("amount_cents", f"this reward asks for at least {reward['min_amount_cents']} cents")
    if reward.get("remaining", 1) <= 0:
        raise Conflict(f"the reward « {reward['title']} » is sold out")
    return reward


def _replay(record: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    if record["fingerprint"] != fingerprint:
        raise ValidationFailed(
            "this Idempotency-Key was used for another request",
            [{"field": "Idempotency-Key", "message": "already used with a different body"}],
        )
    return json.loads(record["answer"])


def _refusal(campaign_id: str, reward_id: str | None) -> Conflict:
    """Why the campaign refused a pledge it accepted at read time: it closed, or the
    reward sold out meanwhile."""
    campaign = storage.get_campaign(campaign_id)
    reward = (campaign or {}).get("rewards", {}).get(reward_id or "")
    if campaign and campaign["status"] == "live" and reward and reward.get("remaining", 1) <= 0:
        return Conflict(f"the reward « {reward['title']} » is sold out")
    return Conflict("the campaign is not open for pledges any more")


def pledge(campaign_id: str, user: Identity, key: str | None, data: PledgeCreate) -> tuple[dict[str, Any], bool]:
    """Make a pledge; answers (pledge, replayed). Replayed is True when the same key and
    body were already answered: the first answer is given again, nothing is written."""
    scope, fingerprint = _scope(user, _check_key(key)), _fingerprint(campaign_id, data)
    pledge_id = uuid.uuid4().hex
    matching_refusals = 0
    for _ in range(ATTEMPTS):
        moment = clock.now()
        now = clock.iso(moment)
        campaign, record, known_contributor, fund = storage.read_pledge_context(
            campaign_id, user.sub, scope, matching.known_fund(campaign_id)
        )
        if record and record["expires_at"] >= int(moment.timestamp()):
            answer = _replay(record, fingerprint)
            return answer, answer["id"] != pledge_id  # our own write, if a retry hid its answer
        reward = _check_pledgeable(campaign, campaign_id, user, data, now)
        fund = matching.fund_for(campaign, fund)
        top_up = matching.top_up(
            campaign, fund, data.amount_cents, now, give_up=matching_refusals >= matching.MATCH_ATTEMPTS
        )
        new = {
            **data.model_dump(exclude_none=True),
            "id": pledge_id,
            "campaign_id": campaign_id,
            "campaign_title": campaign["title"],
            "contributor_id": user.sub,
            "contributor_name": user.display_name,
            "contributor_email": user.email,
            "reward_limited": bool(reward and "quantity" in reward),
            "status": "active",
            "created_at": now,
            **top_up.pledge_fields(),
        }
        answer = own_view(new)
        idempotency = {
            "scope": scope,
            "fingerprint": fingerprint,
            "answer": json.dumps(answer),
            "created_epoch": int(moment.timestamp()),
            "expires_at": int((moment + IDEMPOTENCY_TTL).timestamp()),
        }
        try:
            storage.record_pledge(new, idempotency, new_contributor=not known_contributor, now=now, top_up=top_up)
            observability.count(observability.PLEDGES)
            observability.count(observability.PLEDGED_CENTS, data.amount_cents)
            return answer, False
        except storage.ConditionFailed as refused:
            if refused.item == "fund" or (refused.item == "campaign" and top_up.cents):
                matching_refusals += 1  # the fund or the campaign's match moved: read and compute again
                continue
            if refused.item == "campaign":
                raise _refusal(campaign_id, data.reward_id) from refused
            # The key was taken or the contributor's first pledge raced: read again.
    raise Conflict("too many concurrent requests for this pledge; retry with the same Idempotency-Key")


def cancel(pledge_id: str, user: Identity) -> dict[str, Any]:
    found = storage.get_pledge(pledge_id)
    if found is None or found["contributor_id"] != user.sub:
        raise NotFound(f"you have no pledge {pledge_id}")
    if found["status"] != "active":
        raise Conflict("this pledge is already cancelled")
    now = clock.iso(clock.now())
    cancellation_id = uuid.uuid4().hex
    try:
        storage.cancel_pledge(found, now, cancellation_id)
    except storage.ConditionFailed as refused:
        if refused.item != "pledge":
            raise Conflict("the campaign has closed: its pledges can no longer be cancelled") from refused
        again = storage.get_pledge(pledge_id)
        if again.get("cancellation_id") != cancellation_id:
            raise Conflict("this pledge is already cancelled") from refused
        # Our own write, sent again by a retry after its answer was lost.
    observability.count(observability.PLEDGES_CANCELLED)
    return own_view({**found, "status": "cancelled", "cancelled_at": now})


def backers(campaign_id: str, viewer: Identity | None, *, limit: int, cursor: str | None):
    campaigns.get(campaign_id, viewer)  # 404 for campaigns the viewer cannot see
    items, next_cursor = storage.list_campaign_pledges(campaign_id, limit=limit, cursor=cursor)
    public = [
        {
            "display_name": None if p["anonymous"] else p["contributor_name"],
            "anonymous": p["anonymous"],
            "message": p.get("message"),
            "created_at": p["created_at"],
        }
        for p in items
    ]
    return public, next_cursor


def mine(user: Identity, *, limit: int, cursor: str | None):
    items, next_cursor = storage.list_contributor_pledges(user.sub, limit=limit, cursor=cursor)
    current = storage.get_campaigns({p["campaign_id"] for p in items})
    mine_ = [
        {
            **own_view(p),
            "campaign": {
                "id": p["campaign_id"],
                "title": p["campaign_title"],
                "status": current.get(p["campaign_id"], {}).get("status", "cancelled"),
            },
        }
        for p in items
    ]
    return mine_, next_cursor
