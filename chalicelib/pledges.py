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

from . import answers, campaigns, clock, matching, observability, storage
from .errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed, field_error
from .identity import Identity
from .records import Campaign, Idempotency, Pledge, Reward

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


def _check_pledgeable(
    campaign: Campaign | None, campaign_id: str, user: Identity, data: PledgeCreate, now: str
) -> tuple[Campaign, Reward | None]:
    if campaign is None or not campaigns.can_see(campaign, user):
        raise NotFound(f"no campaign {campaign_id}")
    if campaign.owner_id == user.sub:
        raise Forbidden("owners cannot pledge on their own campaign")
    if campaign.status != "live" or (campaign.ends_at or "") < now:
        raise Conflict(f"the campaign is not open for pledges (it is {campaign.status})")
    if data.reward_id is None:
        return campaign, None
    reward = campaign.reward(data.reward_id)
    if reward is None:
        raise field_error("reward_id", "this campaign offers no such reward")
    if data.amount_cents < reward.min_amount_cents:
        raise field_error("amount_cents", f"this reward asks for at least {reward.min_amount_cents} cents")
    if reward.sold_out:
        raise Conflict(f"the reward « {reward.title} » is sold out")
    return campaign, reward


def _replay(record: Idempotency, fingerprint: str) -> dict[str, Any]:
    if record.fingerprint != fingerprint:
        raise ValidationFailed(
            "this Idempotency-Key was used for another request",
            [{"field": "Idempotency-Key", "message": "already used with a different body"}],
        )
    answer: dict[str, Any] = json.loads(record.answer)
    return answer


def _refusal(campaign_id: str, reward_id: str | None) -> Conflict:
    """Why the campaign refused a pledge it accepted at read time: it closed, or the
    reward sold out meanwhile."""
    campaign = storage.campaigns.get(campaign_id)
    reward = campaign.reward(reward_id) if campaign else None
    if campaign and campaign.status == "live" and reward and reward.sold_out:
        return Conflict(f"the reward « {reward.title} » is sold out")
    return Conflict("the campaign is not open for pledges any more")


def pledge(campaign_id: str, user: Identity, key: str | None, data: PledgeCreate) -> tuple[dict[str, Any], bool]:
    """Make a pledge; answers (the pledge as its contributor sees it, replayed). Replayed is
    True when the same key and body were already answered: the first answer is given
    again, nothing is written."""
    scope, fingerprint = _scope(user, _check_key(key)), _fingerprint(campaign_id, data)
    pledge_id = uuid.uuid4().hex
    matching_refusals = 0
    for _ in range(ATTEMPTS):
        moment = clock.now()
        now = clock.iso(moment)
        read = storage.pledges.read_context(campaign_id, user.sub, scope, matching.known_fund(campaign_id))
        if read.idempotency and read.idempotency.expires_at >= int(moment.timestamp()):
            answer = _replay(read.idempotency, fingerprint)
            return answer, answer["id"] != pledge_id  # our own write, if a retry hid its answer
        campaign, reward = _check_pledgeable(read.campaign, campaign_id, user, data, now)
        fund = matching.fund_for(campaign, read.fund)
        top_up = matching.top_up(
            campaign, fund, data.amount_cents, now, give_up=matching_refusals >= matching.MATCH_ATTEMPTS
        )
        new = Pledge(
            **data.model_dump(),
            id=pledge_id,
            campaign_id=campaign_id,
            campaign_title=campaign.title,
            contributor_id=user.sub,
            contributor_name=user.display_name,
            contributor_email=user.email,
            reward_limited=bool(reward and reward.limited),
            status="active",
            created_at=now,
            **matching.pledge_fields(top_up),
        )
        answer = answers.own_pledge(new)
        idempotency = Idempotency(
            scope=scope,
            fingerprint=fingerprint,
            answer=json.dumps(answer),
            created_epoch=int(moment.timestamp()),
            expires_at=int((moment + IDEMPOTENCY_TTL).timestamp()),
        )
        try:
            storage.pledges.record(new, idempotency, new_contributor=not read.known_contributor, now=now, top_up=top_up)
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


def cancel(pledge_id: str, user: Identity) -> Pledge:
    found = storage.pledges.get(pledge_id)
    if found is None or found.contributor_id != user.sub:
        raise NotFound(f"you have no pledge {pledge_id}")
    if found.status != "active":
        raise Conflict("this pledge is already cancelled")
    now = clock.iso(clock.now())
    cancellation_id = uuid.uuid4().hex
    try:
        storage.pledges.cancel(found, now, cancellation_id)
    except storage.ConditionFailed as refused:
        if refused.item != "pledge":
            raise Conflict("the campaign has closed: its pledges can no longer be cancelled") from refused
        again = storage.pledges.get(pledge_id)
        if again is None or again.cancellation_id != cancellation_id:
            raise Conflict("this pledge is already cancelled") from refused
        # Our own write, sent again by a retry after its answer was lost.
    observability.count(observability.PLEDGES_CANCELLED)
    return found._replace(status="cancelled", cancelled_at=now, cancellation_id=cancellation_id)


def backers(
    campaign_id: str, viewer: Identity | None, *, limit: int, cursor: str | None
) -> tuple[list[Pledge], str | None]:
    campaigns.get(campaign_id, viewer)  # 404 for campaigns the viewer cannot see
    return storage.pledges.list_for_campaign(campaign_id, limit=limit, cursor=cursor)


def mine(user: Identity, *, limit: int, cursor: str | None) -> tuple[list[tuple[Pledge, Campaign | None]], str | None]:
    """The contributor's pledges, newest first, each with its campaign as it now is."""
    items, next_cursor = storage.pledges.list_for_contributor(user.sub, limit=limit, cursor=cursor)
    current = storage.campaigns.get_many(p.campaign_id for p in items)
    return [(p, current.get(p.campaign_id)) for p in items], next_cursor
