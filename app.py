"""Ozé's API: the map of routes. Each view reads its call, asks chalicelib, answers."""

import os

from chalice import Chalice

from chalicelib import campaigns
from chalicelib.http import Api, Call
from chalicelib.models import (
    Campaign,
    CampaignCreate,
    CampaignPage,
    CampaignPatch,
    CampaignQuery,
    PageQuery,
    Rejection,
    RewardCreate,
    RewardPatch,
    Stats,
)
from chalicelib.settings import get_settings

app = Chalice(app_name="oze")
api = Api(app)

if "STAGE" in os.environ:
    get_settings()  # a misconfigured stage (a dev secret outside local) fails to start


def _page(items, cursor, viewer=None):
    return {"items": [campaigns.public_view(c, viewer) for c in items], "next_cursor": cursor}


# --- campaigns ---------------------------------------------------------------------------


@api.route("/campaigns", "GET", query=CampaignQuery, response=CampaignPage)
def list_campaigns(call: Call):
    q = call.query
    items, cursor = campaigns.list_public(
        sort=q.sort, limit=q.limit, cursor=q.cursor, status=q.status, category=q.category, postcode=q.postcode
    )
    return _page(items, cursor)


@api.route("/campaigns", "POST", auth="user", body=CampaignCreate, response=Campaign, status=201)
def create_campaign(call: Call):
    return campaigns.public_view(campaigns.create(call.user, call.body), call.user)


@api.route("/campaigns/{campaign_id}", "GET", auth="optional", response=Campaign)
def get_campaign(call: Call, campaign_id: str):
    return campaigns.public_view(campaigns.get(campaign_id, call.user), call.user)


@api.route("/campaigns/{campaign_id}", "PATCH", auth="user", body=CampaignPatch, response=Campaign)
def edit_campaign(call: Call, campaign_id: str):
    return campaigns.public_view(campaigns.edit(campaign_id, call.user, call.body), call.user)


@api.route("/campaigns/{campaign_id}/rewards", "POST", auth="user", body=RewardCreate, response=Campaign, status=201)
def add_reward(call: Call, campaign_id: str):
    return campaigns.public_view(campaigns.add_reward(campaign_id, call.user, call.body), call.user)


@api.route("/campaigns/{campaign_id}/rewards/{reward_id}", "PATCH", auth="user", body=RewardPatch, response=Campaign)
def edit_reward(call: Call, campaign_id: str, reward_id: str):
    return campaigns.public_view(campaigns.edit_reward(campaign_id, reward_id, call.user, call.body), call.user)


@api.route("/campaigns/{campaign_id}/rewards/{reward_id}", "DELETE", auth="user", response=Campaign)
def delete_reward(call: Call, campaign_id: str, reward_id: str):
    return campaigns.public_view(campaigns.delete_reward(campaign_id, reward_id, call.user), call.user)


@api.route("/campaigns/{campaign_id}/submit", "POST", auth="user", response=Campaign)
def submit_campaign(call: Call, campaign_id: str):
    return campaigns.public_view(campaigns.submit(campaign_id, call.user), call.user)


@api.route("/campaigns/{campaign_id}/approve", "POST", auth="moderator", response=Campaign)
def approve_campaign(call: Call, campaign_id: str):
    return campaigns.public_view(campaigns.approve(campaign_id, call.user), call.user)


@api.route("/campaigns/{campaign_id}/reject", "POST", auth="moderator", body=Rejection, response=Campaign)
def reject_campaign(call: Call, campaign_id: str):
    return campaigns.public_view(campaigns.reject(campaign_id, call.user, call.body.reason), call.user)


@api.route("/campaigns/{campaign_id}/cancel", "POST", auth="user", response=Campaign)
def cancel_campaign(call: Call, campaign_id: str):
    return campaigns.public_view(campaigns.cancel(campaign_id, call.user), call.user)


@api.route("/me/campaigns", "GET", auth="user", query=PageQuery, response=CampaignPage)
def my_campaigns(call: Call):
    return _page(*campaigns.list_mine(call.user, limit=call.query.limit, cursor=call.query.cursor), call.user)


@api.route("/moderation/queue", "GET", auth="moderator", query=PageQuery, response=CampaignPage)
def moderation_queue(call: Call):
    return _page(*campaigns.moderation_queue(call.user, limit=call.query.limit, cursor=call.query.cursor), call.user)


@api.route("/stats", "GET", response=Stats)
def platform_stats(call: Call):
    return campaigns.stats()
