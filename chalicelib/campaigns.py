"""The campaign lifecycle: drafts and rewards, moderation, public lists and figures.

    draft -> submitted -> live -> succeeded | failed      (closure: see finalisation)
    submitted -> draft   (rejected, with the moderator's reason)
    live -> cancelled    (by its owner or a moderator)

Who may see what: drafts and submitted campaigns exist only for their owner and the
moderators (404 for anyone else); the other states are public.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from typing import TYPE_CHECKING, Any

from . import audit, clock, escrow, media, storage
from .errors import Conflict, Forbidden, NotFound, ServiceUnavailable, field_error
from .identity import Identity
from .records import Campaign, Counters, PayoutAccount, Reward
from .settings import get_settings

if TYPE_CHECKING:  # the models load with their route (chalicelib/models), not with this module
    from .models.campaigns import CampaignCreate, CampaignPatch, RewardCreate, RewardPatch

MAX_REWARDS = 30
Page = tuple[list[Campaign], str | None]


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or "campagne"


def can_see(campaign: Campaign, viewer: Identity | None) -> bool:
    if campaign.is_public:
        return True
    return viewer is not None and (viewer.is_moderator or viewer.sub == campaign.owner_id)


def get(campaign_id: str, viewer: Identity | None) -> Campaign:
    campaign = storage.campaigns.get(campaign_id)
    if campaign is None or not can_see(campaign, viewer):
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def _owned(campaign_id: str, user: Identity, *, moderator_too: bool = False) -> Campaign:
    campaign = get(campaign_id, user)
    if user.sub != campaign.owner_id and not (moderator_too and user.is_moderator):
        raise Forbidden("only the campaign's owner may do this")
    return campaign


def _editable(campaign_id: str, user: Identity) -> Campaign:
    campaign = _owned(campaign_id, user)
    if campaign.status != "draft":
        raise Conflict(f"only drafts can be edited; this campaign is {campaign.status}")
    return campaign


def create(user: Identity, data: CampaignCreate) -> Campaign:
    now = clock.iso(clock.now())
    campaign = Campaign(
        **data.model_dump(),
        id=uuid.uuid4().hex,
        slug=slugify(data.title),
        owner_id=user.sub,
        owner_name=user.display_name,
        owner_email=user.email,
        status="draft",
        created_at=now,
        updated_at=now,
    )
    storage.campaigns.create(campaign)
    return campaign


def edit(campaign_id: str, user: Identity, patch: CampaignPatch) -> Campaign:
    campaign = _editable(campaign_id, user)
    changes = patch.model_dump(exclude_unset=True)
    if "cover_media_id" in changes:
        media.check_cover(campaign, changes["cover_media_id"])
    if "title" in changes:
        changes["slug"] = slugify(changes["title"])
    changes["updated_at"] = clock.iso(clock.now())
    storage.campaigns.update_draft(campaign_id, changes)
    return campaign._replace(**changes)


def _reward(campaign: Campaign, reward_id: str) -> Reward:
    reward = campaign.reward(reward_id)
    if reward is None:
        raise NotFound(f"campaign {campaign.id} has no reward {reward_id}")
    return reward


def _save_reward(campaign: Campaign, reward_id: str, reward: Reward | None) -> Campaign:
    now = clock.iso(clock.now())
    storage.campaigns.update_draft(campaign.id, {"updated_at": now}, {reward_id: reward})
    others = tuple(r for r in campaign.rewards if r.id != reward_id)
    return campaign._replace(updated_at=now, rewards=(*others, reward) if reward else others)


def add_reward(campaign_id: str, user: Identity, data: RewardCreate) -> Reward:
    """A reward added to a draft; answers it as created."""
    campaign = _editable(campaign_id, user)
    if len(campaign.rewards) >= MAX_REWARDS:
        raise field_error("rewards", f"a campaign offers at most {MAX_REWARDS} rewards")
    reward = Reward(
        **data.model_dump(), id=uuid.uuid4().hex[:12], created_at=clock.iso(clock.now()), remaining=data.quantity
    )
    _save_reward(campaign, reward.id, reward)
    return reward


def edit_reward(campaign_id: str, reward_id: str, user: Identity, patch: RewardPatch) -> Campaign:
    campaign = _editable(campaign_id, user)
    reward = _reward(campaign, reward_id)._replace(**patch.model_dump(exclude_unset=True, exclude={"unlimited"}))
    if patch.unlimited:
        if patch.quantity is not None:
            raise field_error("unlimited", "cannot be combined with a quantity")
        reward = reward._replace(quantity=None)
    # Drafts have no pledges yet: the whole stock remains.
    return _save_reward(campaign, reward_id, reward._replace(remaining=reward.quantity))


def delete_reward(campaign_id: str, reward_id: str, user: Identity) -> Campaign:
    campaign = _editable(campaign_id, user)
    _reward(campaign, reward_id)
    return _save_reward(campaign, reward_id, None)


def _move(
    campaign: Campaign,
    new_status: str,
    changes: dict[str, Any],
    remove: tuple[str, ...] = (),
    *,
    actor: Identity,
    action: str,
) -> Campaign:
    """The transition and its audit entry, in one transaction."""
    changes = {**changes, "updated_at": clock.iso(clock.now())}
    before = {"status": campaign.status, **{name: getattr(campaign, name) for name in (*changes, *remove)}}
    after = {"status": new_status, **changes, **{name: None for name in remove}}
    entry = audit.entry(actor, action, f"campaign/{campaign.id}", before, after)
    return storage.campaigns.transition(campaign, new_status, changes, remove, entry=entry)


def _expect(campaign: Campaign, status: str, action: str) -> None:
    if campaign.status != status:
        raise Conflict(f"only a {status} campaign can be {action}; this one is {campaign.status}")


def submit(campaign_id: str, user: Identity) -> Campaign:
    campaign = _owned(campaign_id, user)
    _expect(campaign, "draft", "submitted")
    return _move(
        campaign,
        "submitted",
        {"submitted_at": clock.iso(clock.now())},
        ("rejection_reason",),
        actor=user,
        action="campaign_submitted",
    )


def _moderated(campaign_id: str, moderator: Identity) -> Campaign:
    if not moderator.is_moderator:
        raise Forbidden("only moderators may do this")
    return get(campaign_id, moderator)


def approve(campaign_id: str, moderator: Identity) -> Campaign:
    """Live from now until its deadline, once its owner has a payout account (in any state:
    its money waits for the verification, not the campaign)."""
    campaign = _moderated(campaign_id, moderator)
    if campaign.owner_id == moderator.sub:
        raise Forbidden("a moderator cannot approve their own campaign: another moderator does")
    _expect(campaign, "submitted", "approved")
    if storage.owners.get(campaign.owner_id) is None:
        raise Conflict("its owner has no payout account yet: they open one (POST /me/payout-account) first")
    now = clock.now()
    ends_at = clock.end_of_local_day(now, campaign.duration_days, get_settings().timezone)
    changes = {"launched_at": clock.iso(now), "ends_at": clock.iso(ends_at), "escrow_id": _open_escrow(campaign)}
    return _move(campaign, "live", changes, actor=moderator, action="campaign_approved")


def _open_escrow(campaign: Campaign) -> str:
    """The campaign's escrow at the payment provider, where its pledges will be paid
    (idempotent: approving again after a failure opens the same one)."""
    try:
        return escrow.provider().open_escrow(campaign.id, campaign.title)
    except escrow.ProviderError as error:
        raise ServiceUnavailable("the payment provider cannot open this campaign's escrow; try again") from error


def reject(campaign_id: str, moderator: Identity, reason: str) -> Campaign:
    campaign = _moderated(campaign_id, moderator)
    _expect(campaign, "submitted", "rejected")
    return _move(
        campaign, "draft", {"rejection_reason": reason}, ("submitted_at",), actor=moderator, action="campaign_rejected"
    )


def cancel(campaign_id: str, user: Identity) -> Campaign:
    """A live campaign cancelled: by a moderator at any time, by its owner until its
    deadline (after it, the campaign closes on the money it raised)."""
    campaign = _owned(campaign_id, user, moderator_too=True)
    _expect(campaign, "live", "cancelled")
    now = clock.iso(clock.now())
    if campaign.owner_id == user.sub and (campaign.ends_at or now) < now:
        raise Conflict("its deadline has passed: the campaign closes on the money it raised")
    changes = {"cancelled_at": now, "closed_at": now}
    return _move(campaign, "cancelled", changes, actor=user, action="campaign_cancelled")


def list_public(*, sort: str, limit: int, cursor: str | None, **filters: str | None) -> Page:
    return storage.campaigns.list_public(sort=sort, limit=limit, cursor=cursor, now=clock.iso(clock.now()), **filters)


def list_mine(user: Identity, *, limit: int, cursor: str | None) -> Page:
    return storage.campaigns.list_by_owner(user.sub, limit=limit, cursor=cursor)


def moderation_queue(
    moderator: Identity, *, limit: int, cursor: str | None
) -> tuple[list[Campaign], str | None, dict[str, PayoutAccount]]:
    """The submitted campaigns, oldest first, with their owners' payout accounts."""
    if not moderator.is_moderator:
        raise Forbidden("only moderators may see the moderation queue")
    queue, next_cursor = storage.campaigns.list_submitted(limit=limit, cursor=cursor)
    accounts = storage.owners.get_many([c.owner_id for c in queue]) if queue else {}
    return queue, next_cursor, accounts


def stats() -> Counters:
    return storage.counters.get()
