"""Owners' payout accounts at the payment provider (chalicelib/owners.py): one item per
owner, created once, then moved by what the provider says of its verification and bank
account. Each move is conditioned on the state it was read in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records import PayoutAccount
from . import dynamo, keys


def from_item(item: Mapping[str, Any]) -> PayoutAccount:
    return dynamo.record(PayoutAccount, item)


def get(owner_id: str) -> PayoutAccount | None:
    item = dynamo.get(keys.payout_account(owner_id))
    return from_item(item) if item else None


def get_many(owner_ids: Sequence[str]) -> dict[str, PayoutAccount]:
    """The payout accounts of these owners, by owner (one request; those without none)."""
    wanted = [keys.payout_account(owner_id) for owner_id in dict.fromkeys(owner_ids)]
    return {account.owner_id: account for account in map(from_item, (item for _, item in dynamo.batch_get(wanted)))}


def owner_of(provider_user_id: str) -> PayoutAccount | None:
    """The payout account of a user at the provider (what its notifications name)."""
    found = dynamo.get(keys.provider_user(provider_user_id))
    return get(found["owner_id"]) if found else None


def create(account: PayoutAccount, *, replacing: PayoutAccount | None = None) -> bool:
    """The owner's account and the way back to it from the provider's user, once; or
    (`replacing`) a refused one replaced by a new verification. False when another request
    made or moved it first."""
    item = {**dynamo.attributes(account), **keys.payout_account(account.owner_id)}
    if replacing is None:
        lookup = {**keys.provider_user(account.psp_user_id), "owner_id": account.owner_id}
        try:
            items = [(dynamo.put(item), "account"), (dynamo.put(lookup, new=False), "lookup")]
            dynamo.transact(items, "a payout account exists")
            return True
        except dynamo.ConditionFailed:
            return False
    request = dynamo.put(item, new=False)["Put"]
    request |= {
        "ConditionExpression": "#status = :refused AND verification_id = :previous",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": dynamo.to_ddb({":refused": "refused", ":previous": replacing.verification_id}),
    }
    return dynamo.conditional_put(request)


def update(account: PayoutAccount, changes: Mapping[str, Any], *, read: str) -> PayoutAccount | None:
    """Move an account's verification or bank account (`read`: the field naming the one it
    was read with, "verification_id" or "bank_account_id"); None when that one was
    replaced meanwhile."""
    expression, names, values = dynamo.update_expression(dict(changes), [])
    expected = getattr(account, read)
    names["#read"] = read
    if expected is None:
        condition = "attribute_exists(pk) AND attribute_not_exists(#read)"
    else:
        condition, values[":read"] = "#read = :read", expected
    request = dynamo.update(
        keys.payout_account(account.owner_id), expression, condition=condition, names=names, values=values
    )
    return account._replace(**changes) if dynamo.conditional_update(request) else None


def delete(account: PayoutAccount) -> None:
    """What the platform keeps of an owner's account, gone (the provider keeps its own)."""
    dynamo.delete(keys.payout_account(account.owner_id))
    dynamo.delete(keys.provider_user(account.psp_user_id))
