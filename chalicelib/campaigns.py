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

from . import audit, clock, media, storage
from .errors import Conflict, Forbidden, NotFound, field_error
from .identity import Identity
from .settings import get_settings

if TYPE_CHECKING:  # the models load with their route (chalicelib/models), not with this module
    from .models.campaigns import CampaignCreate, CampaignPatch, RewardCreate, RewardPatch

PRIVATE_STATES = {"draft", "submitted"}
MAX_REWARDS = 30


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:80] or "campagne"


def can_see(campaign: dict[str, Any], viewer: Identity | None) -> bool:
    if campaign["status"] not in PRIVATE_STATES:
        return True
    return viewer is not None and (viewer.is_moderator or viewer.sub == campaign["owner_id"])


def get(campaign_id: str, viewer: Identity | None) -> dict[str, Any]:
    campaign = storage.get_campaign(campaign_id)
    if campaign is None or not can_see(campaign, viewer):
        raise NotFound(f"no campaign {campaign_id}")
    return campaign


def _owned(campaign_id: str, user: Identity, *, moderator_too: bool = False) -> dict[str, Any]:
    campaign = get(campaign_id, user)
    if user.sub != campaign["owner_id"] and not (moderator_too and user.is_moderator):
        raise Forbidden("only the campaign's owner may do this")
    return campaign


def _editable(campaign_id: str, user: Identity) -> dict[str, Any]:
    campaign = _owned(campaign_id, user)
    if campaign["status"] != "draft":
        raise Conflict(f"only drafts can be edited; this campaign is {campaign['status']}")
    return campaign


def create(user: Identity, data: CampaignCreate) -> dict[str, Any]:
    now = clock.iso(clock.now())
    campaign = {
        **data.model_dump(),
        "id": uuid.uuid4().hex,
        "slug": slugify(data.title),
        "owner_id": user.sub,
        "owner_name": user.display_name,
        "owner_email": user.email,
        "status": "draft",
        "raised_cents": 0,
        "pledge_count": 0,
        "rewards": {},
        "media": {},
        "created_at": now,
        "updated_at": now,
    }
    storage.create_campaign(campaign)
    return campaign


def edit(campaign_id: str, user: Identity, patch: CampaignPatch) -> dict[str, Any]:
    campaign = _editable(campaign_id, user)
    changes = patch.model_dump(exclude_unset=True)
    if "cover_media_id" in changes:
        media.check_cover(campaign, changes["cover_media_id"])
    if "title" in changes:
        changes["slug"] = slugify(changes["title"])
    changes["updated_at"] = clock.iso(clock.now())
    storage.update_draft(campaign_id, changes)
    return {**campaign, **changes}


def _reward(campaign: dict[str, Any], reward_id: str) -> dict[str, Any]:
    reward = campaign["rewards"].get(reward_id)
    if reward is None:
        raise NotFound(f"campaign {campaign['id']} has no reward {reward_id}")
    return reward


def _save_reward(campaign: dict[str, Any], reward_id: str, reward: dict[str, Any] | None) -> dict[str, Any]:
    now = clock.iso(clock.now())
    storage.update_draft(campaign["id"], {"updated_at": now}, {"rewards": {reward_id: reward}})
    rewards = {**campaign["rewards"], reward_id: reward}
    return {**campaign, "updated_at": now, "rewards": {k: v for k, v in rewards.items() if v is not None}}


def add_reward(campaign_id: str, user: Identity, data: RewardCreate) -> dict[str, Any]:
    campaign = _editable(campaign_id, user)
    if len(campaign["rewards"]) >= MAX_REWARDS:
        raise field_error("rewards", f"a campaign offers at most {MAX_REWARDS} rewards")
    reward = {**data.model_dump(exclude_none=True), "id": uuid.uuid4().hex[:12], "created_at": clock.iso(clock.now())}
    if "quantity" in reward:
        reward["remaining"] = reward["quantity"]
    return _save_reward(campaign, reward["id"], reward)


def edit_reward(campaign_id: str, reward_id: str, user: Identity, patch: RewardPatch) -> dict[str, Any]:
    campaign = _editable(campaign_id, user)
    reward = {**_reward(campaign, reward_id), **patch.model_dump(exclude_unset=True, exclude={"unlimited"})}
    if patch.unlimited:
        if patch.quantity is not None:
            raise field_error("unlimited", "cannot be combined with a quantity")
        reward.pop("quantity", None)
    if "quantity" in reward:
        reward["remaining"] = reward["quantity"]  # drafts have no pledges yet
    else:
        reward.pop("remaining", None)
    return _save_reward(campaign, reward_id, reward)


def delete_reward(campaign_id: str, reward_id: str, user: Identity) -> dict[str, Any]:
    campaign = _editable(campaign_id, user)
    _reward(campaign, reward_id)
    return _save_reward(campaign, reward_id, None)


def _move(
    campaign: dict[str, Any],
    new_status: str,
    changes: dict[str, Any],
    remove: list[str] = (),
    *,
    actor: Identity,
    action: str,
) -> dict[str, Any]:
    """The transition and its audit entry, in one transaction."""
    changes = {**changes, "updated_at": clock.iso(clock.now())}
    before = {"status": campaign["status"], **{name: campaign.get(name) for name in (*changes, *remove)}}
    after = {"status": new_status, **changes, **{name: None for name in remove}}
    entry = audit.entry(actor, action, f"campaign/{campaign['id']}", before, after)
    storage.transition(campaign, new_status, changes, list(remove), audit=entry)
    moved = {**campaign, **changes, "status": new_status}
    for name in remove:
        moved.pop(name, None)
    return moved


def _expect(campaign: dict[str, Any], status: str, action: str) -> None:
    if campaign["status"] != status:
        raise Conflict(f"only a {status} campaign can be {action}; this one is {campaign['status']}")


def submit(campaign_id: str, user: Identity) -> dict[str, Any]:
    campaign = _owned(campaign_id, user)
    _expect(campaign, "draft", "submitted")
    return _move(
        campaign,
        "submitted",
        {"submitted_at": clock.iso(clock.now())},
        ["rejection_reason"],
        actor=user,
        action="campaign_submitted",
    )


def _moderated(campaign_id: str, moderator: Identity) -> dict[str, Any]:
    if not moderator.is_moderator:
        raise Forbidden("only moderators may do this")
    return get(campaign_id, moderator)


def approve(campaign_id: str, moderator: Identity) -> dict[str, Any]:
    campaign = _moderated(campaign_id, moderator)
    _expect(campaign, "submitted", "approved")
    now = clock.now()
    ends_at = clock.end_of_local_day(now, campaign["duration_days"], get_settings().timezone)
    changes = {"launched_at": clock.iso(now), "ends_at": clock.iso(ends_at)}
    return _move(campaign, "live", changes, actor=moderator, action="campaign_approved")


def reject(campaign_id: str, moderator: Identity, reason: str) -> dict[str, Any]:
    campaign = _moderated(campaign_id, moderator)
    _expect(campaign, "submitted", "rejected")
    return _move(
        campaign, "draft", {"rejection_reason": reason}, ["submitted_at"], actor=moderator, action="campaign_rejected"
    )


def cancel(campaign_id: str, user: Identity) -> dict[str, Any]:
    campaign = _owned(campaign_id, user, moderator_too=True)
    _expect(campaign, "live", "cancelled")
    now = clock.iso(clock.now())
    changes = {"cancelled_at": now, "closed_at": now}
    return _move(campaign, "cancelled", changes, actor=user, action="campaign_cancelled")


def list_public(*, sort: str, limit: int, cursor: str | None, **filters: str | None):
    return storage.list_public(sort=sort, limit=limit, cursor=cursor, now=clock.iso(clock.now()), **filters)


def list_mine(user: Identity, *, limit: int, cursor: str | None):
    return storage.list_by_owner(user.sub, limit=limit, cursor=cursor)


def moderation_queue(moderator: Identity, *, limit: int, cursor: str | None):
    if not moderator.is_moderator:
        raise Forbidden("only moderators may see the moderation queue")
    return storage.list_by_status("submitted", limit=limit, cursor=cursor)


def stats() -> dict[str, Any]:
    counters = storage.get_counters()
    by_status = {
        status: counters.get(f"count_{status}", 0)
        for status in ("draft", "submitted", "live", "succeeded", "failed", "cancelled")
    }
    closed = by_status["succeeded"] + by_status["failed"]
    return {
        "campaigns_by_status": by_status,
        "success_rate_percent": by_status["succeeded"] * 100 // closed if closed else None,
        "total_raised_cents": counters.get("raised_cents", 0),
        "contributors": counters.get("contributors", 0),
        "by_category": _areas(counters, "category"),
        "by_commune": _areas(counters, "commune"),
    }


def _areas(counters: dict[str, int], kind: str) -> dict[str, dict[str, int]]:
    """{name: figures} from the counters `<kind>#<name>#<figure>` (storage.transition)."""
    areas: dict[str, dict[str, int]] = {}
    for key, value in counters.items():
        if key.startswith(f"{kind}#"):
            name, figure = key.removeprefix(f"{kind}#").rsplit("#", 1)
            areas.setdefault(name, {})[figure] = value
    return dict(sorted(areas.items()))


def public_view(campaign: dict[str, Any], viewer: Identity | None = None) -> dict[str, Any]:
    """A campaign as answers show it: owner as an object, rewards as a list, the
    moderator's reason only for the owner and moderators."""
    private = ("owner_id", "owner_name", "owner_email", "rewards", "media")
    shown = {k: v for k, v in campaign.items() if k not in private}
    shown["owner"] = {"id": campaign["owner_id"], "display_name": campaign["owner_name"]}
    shown["percent_funded"] = campaign["raised_cents"] * 100 // campaign["goal_cents"]
    # raised = crowd + matched (chalicelib/matching.py): "dont X € abondés par le Département".
    shown["matched_cents"] = campaign.get("matched_cents", 0)
    shown["crowd_cents"] = campaign["raised_cents"] - shown["matched_cents"]
    shown["rewards"] = sorted(campaign["rewards"].values(), key=lambda r: (r["min_amount_cents"], r["created_at"]))
    shown["media"] = media.published(campaign)
    if campaign.get("cover_media_id") not in {m["id"] for m in shown["media"]}:
        shown.pop("cover_media_id", None)  # its image was removed meanwhile
    insider = viewer is not None and (viewer.is_moderator or viewer.sub == campaign["owner_id"])
    if not insider:
        shown.pop("rejection_reason", None)
    return shown
