"""Pledges: a contributor's euro counted exactly once, whatever races, retries and crashes.

A pledge is paid when it is made (SPEC "Money (v2)"): it is written pending its payment,
with the provider's hosted payment page for the contributor's browser, and counts once
the provider confirms the payment (chalicelib/payments.py). Making one costs a call to the
provider (its payment, idempotent on the pledge's id), one read (campaign, idempotency
record and the contributor's user at the provider in one BatchGetItem) and one write (a
transaction of the pledge, its idempotency record and its reward unit held). The
transaction's conditions, not the read, are what guarantee that a campaign is live and a
limited reward never oversold; the read only gives clear reasons for the common refusals.

`pledge_count` counts paid pledges (one contributor may pledge several times);
`/stats` `contributors` counts distinct people who ever paid one.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from . import answers, campaigns, clock, escrow, observability, payments, storage
from .errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed, field_error
from .identity import Identity
from .records import Campaign, EscrowPayment, Idempotency, Pledge, Reward

if TYPE_CHECKING:  # the models load with their route (chalicelib/models), not with this module
    from .models.pledges import PledgeCreate

IDEMPOTENCY_TTL = timedelta(hours=24)
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,255}")
ATTEMPTS = 3  # reads of a pledge's context when its Idempotency-Key races


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


def _escrow(campaign: Campaign, provider: escrow.EscrowProvider) -> str:
    """The campaign's escrow, opened at approval (or now, for a campaign approved before
    escrows existed)."""
    if campaign.escrow_id:
        return campaign.escrow_id
    escrow_id = provider.open_escrow(campaign.id, campaign.title)
    storage.campaigns.set_escrow(campaign.id, escrow_id)
    return escrow_id


def _start_payment(
    pledge: Pledge, campaign: Campaign, user: Identity, payer_id: str | None
) -> tuple[EscrowPayment, str | None]:
    """The pledge's payment started at the provider (idempotent on the pledge's id), and
    the contributor's user there if this made it."""
    provider = escrow.provider()
    try:
        payer = escrow.Payer(user.sub, user.display_name, user.email or "", payer_id)
        new_payer = None if payer_id else provider.register_payer(payer)
        payment = provider.start_payment(
            pledge.id,
            _escrow(campaign, provider),
            pledge.amount_cents,
            pledge.return_url or "",
            payer._replace(user_id=payer_id or new_payer),
            campaign_id=campaign.id,
        )
    except escrow.ProviderError as error:
        raise ServiceUnavailable("the payment provider cannot be reached; nothing was charged, try again") from error
    return payment, new_payer


def pledge(campaign_id: str, user: Identity, key: str | None, data: PledgeCreate) -> tuple[dict[str, Any], bool]:
    """Make a pledge, waiting for its payment on the provider's hosted page; answers (the
    pledge as its contributor sees it, replayed). Replayed is True when the same key and
    body were already answered: the first answer (the same payment page) is given again,
    nothing is written."""
    scope, fingerprint = _scope(user, _check_key(key)), _fingerprint(campaign_id, data)
    pledge_id = uuid.uuid4().hex
    return_url = payments.return_url(data.return_url, f"/campaigns/{campaign_id}")
    for _ in range(ATTEMPTS):
        moment = clock.now()
        now = clock.iso(moment)
        read = storage.pledges.read_context(campaign_id, user.sub, scope)
        if read.idempotency and read.idempotency.expires_at >= int(moment.timestamp()):
            answer = _replay(read.idempotency, fingerprint)
            return answer, answer["id"] != pledge_id  # our own write, if a retry hid its answer
        campaign, reward = _check_pledgeable(read.campaign, campaign_id, user, data, now)
        new = Pledge(
            **data.model_dump(exclude={"return_url"}),
            id=pledge_id,
            campaign_id=campaign_id,
            campaign_title=campaign.title,
            contributor_id=user.sub,
            contributor_name=user.display_name,
            contributor_email=user.email,
            reward_limited=bool(reward and reward.limited),
            status="pending_payment",
            created_at=now,
            return_url=return_url,
            payment_expires_at=clock.iso(moment + payments.window()),
        )
        payment, new_payer = _start_payment(new, campaign, user, read.payer_id)
        new = new._replace(
            payment_id=payment.id,
            payment_url=payment.redirect_url,
            escrow_id=payment.escrow_id,
            payer_id=payment.payer_id or None,
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
            storage.pledges.record(new, idempotency, now=now, new_payer=new_payer)
            return answer, False
        except storage.ConditionFailed as refused:
            if refused.item == "campaign":
                raise _refusal(campaign_id, data.reward_id) from refused
            # The key was taken meanwhile: read again (its answer is replayed).
    raise Conflict("too many concurrent requests for this pledge; retry with the same Idempotency-Key")


def _own(pledge_id: str, user: Identity) -> Pledge:
    found = storage.pledges.get(pledge_id)
    if found is None or found.contributor_id != user.sub:
        raise NotFound(f"you have no pledge {pledge_id}")
    return found


def cancel(pledge_id: str, user: Identity) -> Pledge:
    """The contributor withdraws: a pledge not paid yet is cancelled (its unit given back);
    a paid one is refunded while its campaign is live and open."""
    found = _own(pledge_id, user)
    if found.pending:
        cancellation_id = uuid.uuid4().hex
        try:
            cancelled = storage.pledges.end_pending(
                found, "cancelled", clock.iso(clock.now()), cancellation_id=cancellation_id
            )
        except storage.ConditionFailed:  # it moved meanwhile (paid, failed, expired): read again
            found = _own(pledge_id, user)
            if found.cancellation_id == cancellation_id:
                return found  # our own write, sent again by a retry after its answer was lost
        else:
            observability.count(observability.PLEDGES_CANCELLED)
            return cancelled
    if found.status != "paid":
        raise Conflict(f"this pledge is already {found.status}: it can no longer be cancelled")
    campaign = storage.campaigns.get(found.campaign_id)
    if campaign is None or campaign.status != "live" or (campaign.ends_at or "") < clock.iso(clock.now()):
        raise Conflict("the campaign has ended: its pledges can no longer be cancelled")
    refunded = payments.withdraw(found)
    observability.count(observability.PLEDGES_CANCELLED)
    return refunded


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
