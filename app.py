"""Ozé's API: the map of routes. Each view reads its call, asks chalicelib, answers."""

import os

from chalice import Chalice, Rate

from chalicelib import campaigns, clock, finalisation, media, pledges
from chalicelib.http import Api, Call, Reply
from chalicelib.models import (
    BackerPage,
    Campaign,
    CampaignCreate,
    CampaignPage,
    CampaignPatch,
    CampaignQuery,
    MediaRequest,
    MediaUpload,
    MyPledgePage,
    PageQuery,
    Pledge,
    PledgeCreate,
    Rejection,
    RewardCreate,
    RewardPatch,
    Stats,
)
from chalicelib.settings import get_settings, wiring

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


# --- media: uploaded straight to S3, then checked -----------------------------------------


@api.route("/campaigns/{campaign_id}/media", "POST", auth="user", body=MediaRequest, response=MediaUpload, status=201)
def request_media_upload(call: Call, campaign_id: str):
    return media.request_upload(campaigns.get(campaign_id, call.user), call.user, call.body)


@api.route("/campaigns/{campaign_id}/media/{media_id}/complete", "POST", auth="user", response=Campaign)
def complete_media(call: Call, campaign_id: str, media_id: str):
    campaign = media.complete(campaigns.get(campaign_id, call.user), call.user, media_id)
    return campaigns.public_view(campaign, call.user)


@api.route("/campaigns/{campaign_id}/media/{media_id}", "DELETE", auth="user", response=Campaign)
def remove_media(call: Call, campaign_id: str, media_id: str):
    return campaigns.public_view(media.remove(campaigns.get(campaign_id, call.user), call.user, media_id), call.user)


@app.on_cw_event(media.UPLOAD_EVENTS, name="media_uploaded")
def media_uploaded(event):
    """S3 "Object Created" under pending/ (EventBridge): the same check as complete."""
    return media.on_object_created(event.detail)


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


# --- pledges -----------------------------------------------------------------------------


@api.route("/campaigns/{campaign_id}/pledges", "POST", auth="user", body=PledgeCreate, response=Pledge, status=201)
def make_pledge(call: Call, campaign_id: str):
    answer, replayed = pledges.pledge(campaign_id, call.user, call.headers.get("idempotency-key"), call.body)
    return Reply(answer, 201, {"Idempotent-Replayed": "true"} if replayed else {})


@api.route("/campaigns/{campaign_id}/pledges", "GET", auth="optional", query=PageQuery, response=BackerPage)
def list_backers(call: Call, campaign_id: str):
    items, cursor = pledges.backers(campaign_id, call.user, limit=call.query.limit, cursor=call.query.cursor)
    return {"items": items, "next_cursor": cursor}


@api.route("/pledges/{pledge_id}/cancel", "POST", auth="user", response=Pledge)
def cancel_pledge(call: Call, pledge_id: str):
    return pledges.cancel(pledge_id, call.user)


@api.route("/me/pledges", "GET", auth="user", query=PageQuery, response=MyPledgePage)
def my_pledges(call: Call):
    items, cursor = pledges.mine(call.user, limit=call.query.limit, cursor=call.query.cursor)
    return {"items": items, "next_cursor": cursor}


# --- deadline closure and settlement --------------------------------------------------------


@app.schedule(Rate(int(wiring("CLOSURE_RATE_MINUTES", "5")), unit=Rate.MINUTES), name="finalise")
def finalise(event):
    """Close campaigns past their deadline, remind owners, hand closed ones to settlement."""
    return finalisation.run(clock.now())


@app.on_sqs_message(queue=wiring("SETTLEMENT_QUEUE_NAME", "oze-local-settlement"), batch_size=1, name="settle")
def settle(event):
    """Settle one closed campaign's pledges, a batch per message."""
    for record in event:
        finalisation.settle_message(record.body, clock.now())
