"""Erasure of a person's identity (GDPR, chalicelib/privacy.py): rewrites that keep every
amount, date and state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import Conflict
from ..records import Reward
from . import dynamo, keys


def erase_owner(campaign_id: str, changes: Mapping[str, Any], rewards: Mapping[str, Reward]) -> None:
    """Rewrite a campaign that is not live without its owner's identity (`changes`, and
    reward id -> reward); Conflict if it went live meanwhile."""
    entries = {"rewards": {k: dynamo.attributes(r) for k, r in rewards.items()}} if rewards else None
    expression, names, values = dynamo.update_expression(changes, (), entries)
    names["#status"], values[":live"] = "status", "live"
    request = dynamo.update(
        keys.campaign(campaign_id),
        expression,
        condition="attribute_exists(pk) AND #status <> :live",
        names=names,
        values=values,
    )
    if not dynamo.conditional_update(request):
        raise Conflict("this campaign went live meanwhile: its owner's identity stays while it runs")


def rewrite_pledge_message(pledge_id: str, message: str) -> None:
    dynamo.rewrite(keys.pledge(pledge_id), {"message": message})


def erase_contributor(pledge_id: str, now: str) -> None:
    """The contributor's name, e-mail and message off a pledge; its amount stays."""
    erased = {"contributor_name": "", "contributor_email": "", "anonymous": True, "identity_erased_at": now}
    dynamo.rewrite(keys.pledge(pledge_id), erased, remove=("message",))
