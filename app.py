"""Ozé's API: the map of routes. Each view reads its call, asks chalicelib, answers."""

import os

from chalice import Chalice, Cron, Rate

import chalicelib as oze  # its domain modules, each imported by the first route that calls it
from chalicelib.http import FORM, HTML, Api, Call, Reply, UserCall, ViewerCall
from chalicelib.settings import get_settings, wiring

app = Chalice(app_name="oze")
# Routes name their models "area.Name" of chalicelib/models/<area>.py, loaded by their first call.
api = Api(app)

if "STAGE" in os.environ:
    get_settings()  # a misconfigured stage (a dev secret outside local) fails to start


# --- campaigns ---------------------------------------------------------------------------


@api.route("/campaigns", "GET", query="campaigns.CampaignQuery", response="campaigns.CampaignPage")
def list_campaigns(call: Call):
    q = call.query
    items, cursor = oze.campaigns.list_public(
        sort=q.sort, limit=q.limit, cursor=q.cursor, status=q.status, category=q.category, postcode=q.postcode
    )
    return oze.answers.campaigns(items, cursor)


@api.route(
    "/campaigns", "POST", auth="user", body="campaigns.CampaignCreate", response="campaigns.Campaign", status=201
)
def create_campaign(call: UserCall):
    return oze.answers.campaign(oze.campaigns.create(call.user, call.body), call.user)


@api.route("/campaigns/{campaign_id}", "GET", auth="optional", response="campaigns.Campaign")
def get_campaign(call: ViewerCall, campaign_id: str):
    return oze.answers.campaign(oze.campaigns.get(campaign_id, call.viewer), call.viewer)


@api.route(
    "/campaigns/{campaign_id}", "PATCH", auth="user", body="campaigns.CampaignPatch", response="campaigns.Campaign"
)
def edit_campaign(call: UserCall, campaign_id: str):
    return oze.answers.campaign(oze.campaigns.edit(campaign_id, call.user, call.body), call.user)


@api.route(
    "/campaigns/{campaign_id}/rewards",
    "POST",
    auth="user",
    body="campaigns.RewardCreate",
    response="campaigns.Reward",
    status=201,
)
def add_reward(call: UserCall, campaign_id: str):
    """A reward added to a draft: answers the reward created (its id, for its edits)."""
    return oze.answers.reward(oze.campaigns.add_reward(campaign_id, call.user, call.body))


@api.route(
    "/campaigns/{campaign_id}/rewards/{reward_id}",
    "PATCH",
    auth="user",
    body="campaigns.RewardPatch",
    response="campaigns.Campaign",
)
def edit_reward(call: UserCall, campaign_id: str, reward_id: str):
    return oze.answers.campaign(oze.campaigns.edit_reward(campaign_id, reward_id, call.user, call.body), call.user)


@api.route("/campaigns/{campaign_id}/rewards/{reward_id}", "DELETE", auth="user", response="campaigns.Campaign")
def delete_reward(call: UserCall, campaign_id: str, reward_id: str):
    return oze.answers.campaign(oze.campaigns.delete_reward(campaign_id, reward_id, call.user), call.user)


# --- media: uploaded straight to S3, then checked -----------------------------------------


@api.route(
    "/campaigns/{campaign_id}/media",
    "POST",
    auth="user",
    body="media.MediaRequest",
    response="media.MediaUpload",
    status=201,
)
def request_media_upload(call: UserCall, campaign_id: str):
    return oze.media.request_upload(oze.campaigns.get(campaign_id, call.user), call.user, call.body)


@api.route("/campaigns/{campaign_id}/media/{media_id}/complete", "POST", auth="user", response="campaigns.Campaign")
def complete_media(call: UserCall, campaign_id: str, media_id: str):
    campaign = oze.media.complete(oze.campaigns.get(campaign_id, call.user), call.user, media_id)
    return oze.answers.campaign(campaign, call.user)


@api.route("/campaigns/{campaign_id}/media/{media_id}", "DELETE", auth="user", response="campaigns.Campaign")
def remove_media(call: UserCall, campaign_id: str, media_id: str):
    return oze.answers.campaign(
        oze.media.remove(oze.campaigns.get(campaign_id, call.user), call.user, media_id), call.user
    )


@app.on_cw_event(oze.media.UPLOAD_EVENTS, name="media_uploaded")
def media_uploaded(event):
    """S3 "Object Created" under pending/ (EventBridge): the same check as complete."""
    return oze.media.on_object_created(event.detail)


@api.route("/campaigns/{campaign_id}/submit", "POST", auth="user", response="campaigns.Campaign")
def submit_campaign(call: UserCall, campaign_id: str):
    return oze.answers.campaign(oze.campaigns.submit(campaign_id, call.user), call.user)


@api.route("/campaigns/{campaign_id}/approve", "POST", auth="moderator", response="campaigns.Campaign")
def approve_campaign(call: UserCall, campaign_id: str):
    return oze.answers.campaign(oze.campaigns.approve(campaign_id, call.user), call.user)


@api.route(
    "/campaigns/{campaign_id}/reject",
    "POST",
    auth="moderator",
    body="campaigns.Rejection",
    response="campaigns.Campaign",
)
def reject_campaign(call: UserCall, campaign_id: str):
    return oze.answers.campaign(oze.campaigns.reject(campaign_id, call.user, call.body.reason), call.user)


@api.route("/campaigns/{campaign_id}/cancel", "POST", auth="user", response="campaigns.Campaign")
def cancel_campaign(call: UserCall, campaign_id: str):
    return oze.answers.campaign(oze.campaigns.cancel(campaign_id, call.user), call.user)


@api.route("/me/campaigns", "GET", auth="user", query="base.PageQuery", response="campaigns.CampaignPage")
def my_campaigns(call: UserCall):
    return oze.answers.campaigns(
        *oze.campaigns.list_mine(call.user, limit=call.query.limit, cursor=call.query.cursor), call.user
    )


@api.route(
    "/moderation/queue", "GET", auth="moderator", query="base.PageQuery", response="campaigns.QueuedCampaignPage"
)
def moderation_queue(call: UserCall):
    queue, cursor, accounts = oze.campaigns.moderation_queue(
        call.user, limit=call.query.limit, cursor=call.query.cursor
    )
    return oze.answers.moderation_queue(queue, cursor, accounts, call.user)


@api.route("/stats", "GET", response="campaigns.Stats")
def platform_stats(call: Call):
    return oze.answers.stats(oze.campaigns.stats())


# --- pledges -----------------------------------------------------------------------------


@api.route(
    "/campaigns/{campaign_id}/pledges",
    "POST",
    auth="user",
    body="pledges.PledgeCreate",
    response="pledges.Pledge",
    status=201,
    idempotent=True,
)
def make_pledge(call: UserCall, campaign_id: str):
    answer, replayed = oze.pledges.pledge(campaign_id, call.user, call.headers.get("idempotency-key"), call.body)
    return Reply(answer, 201, {"Idempotent-Replayed": "true"} if replayed else {})


@api.route(
    "/campaigns/{campaign_id}/pledges", "GET", auth="optional", query="base.PageQuery", response="pledges.BackerPage"
)
def list_backers(call: ViewerCall, campaign_id: str):
    items, cursor = oze.pledges.backers(campaign_id, call.viewer, limit=call.query.limit, cursor=call.query.cursor)
    return oze.answers.page(map(oze.answers.backer, items), cursor)


@api.route("/pledges/{pledge_id}/cancel", "POST", auth="user", response="pledges.Pledge")
def cancel_pledge(call: UserCall, pledge_id: str):
    return oze.answers.own_pledge(oze.pledges.cancel(pledge_id, call.user))


@api.route("/me/pledges", "GET", auth="user", query="base.PageQuery", response="pledges.MyPledgePage")
def my_pledges(call: UserCall):
    items, cursor = oze.pledges.mine(call.user, limit=call.query.limit, cursor=call.query.cursor)
    return oze.answers.page((oze.answers.my_pledge(p, campaign) for p, campaign in items), cursor)


# --- payments at the provider ------------------------------------------------------------


@api.route(
    "/payments/notifications/{provider}",
    "GET",
    query="payments.ProviderNotification",
    response="payments.NotificationReceipt",
)
def payment_notification(call: Call, provider: str):
    """The provider's notification (Mangopay's hooks are GETs): the payment it names is
    read again at the provider, never trusted."""
    return {"handled": oze.payments.notified(provider, call.query.model_dump(exclude_none=True))}


@api.route(
    "/payments/notifications/{provider}",
    "POST",
    query="payments.ProviderNotification",
    response="payments.NotificationReceipt",
)
def payment_notification_posted(call: Call, provider: str):
    return payment_notification(call, provider)


@api.route("/sandbox/payments/{payment_id}", "GET", produces=("text/html",))
def sandbox_payment_page(call: Call, payment_id: str):
    """The sandbox provider's hosted payment page (local and dev stages)."""
    return Reply(oze.sandbox_pages.page(payment_id), content_type=HTML)


@api.route(
    "/sandbox/payments/{payment_id}",
    "POST",
    body="payments.SandboxOutcome",
    consumes=FORM,
    produces=("text/html",),
    redirects=True,
)
def sandbox_payment_outcome(call: Call, payment_id: str):
    """Its buttons: pay or refuse; then back to the pledge's return_url."""
    pledge, page = oze.sandbox_pages.complete(payment_id, call.body.outcome)
    if pledge is not None and pledge.return_url:
        return Reply("", 303, {"Location": pledge.return_url}, content_type=HTML)
    return Reply(page, content_type=HTML)


@api.route("/sandbox/verifications/{verification_id}", "GET", produces=("text/html",))
def sandbox_verification_page(call: Call, verification_id: str):
    """The sandbox provider's hosted identity verification page (local and dev stages)."""
    return Reply(oze.sandbox_pages.verification_page(verification_id), content_type=HTML)


@api.route(
    "/sandbox/verifications/{verification_id}",
    "POST",
    body="payments.SandboxVerificationOutcome",
    consumes=FORM,
    produces=("text/html",),
    redirects=True,
)
def sandbox_verification_outcome(call: Call, verification_id: str):
    """Its buttons: verified or refused; then back to the account's return_url."""
    back, page = oze.sandbox_pages.complete_verification(verification_id, call.body.outcome)
    if back:
        return Reply("", 303, {"Location": back}, content_type=HTML)
    return Reply(page, content_type=HTML)


# --- owners: payout accounts and payouts ----------------------------------------------------


@api.route(
    "/me/payout-account",
    "POST",
    auth="user",
    body="owners.PayoutAccountCreate",
    response="owners.PayoutAccount",
    status=201,
)
def open_payout_account(call: UserCall):
    """Open the caller's payout account at the payment provider; verify on its page."""
    return oze.answers.payout_account(oze.owners.open_account(call.user, call.body))


@api.route("/me/payout-account", "GET", auth="user", response="owners.PayoutAccount")
def my_payout_account(call: UserCall):
    return oze.answers.payout_account(oze.owners.account_of(call.user))


@api.route(
    "/me/payout-account/bank-account",
    "POST",
    auth="user",
    body="owners.BankAccountCreate",
    response="owners.PayoutAccount",
)
def register_bank_account(call: UserCall):
    """The bank account payouts go to: sent to the provider, shown by its last 4 characters."""
    return oze.answers.payout_account(oze.owners.register_bank_account(call.user, call.body))


@api.route("/campaigns/{campaign_id}/payout", "GET", auth="user", response="payouts.Payout")
def campaign_payout(call: UserCall, campaign_id: str):
    """A succeeded campaign's money to its owner (its owner and moderators)."""
    return oze.answers.payout(oze.payouts.of_campaign(campaign_id, call.user))


@api.route("/reconciliation", "GET", auth="moderator", response="payments.Reconciliation")
def latest_reconciliation(call: UserCall):
    """The latest daily reconciliation of the escrows at the provider against the ledger."""
    return oze.answers.reconciliation(oze.reconciliation.latest(call.user))


# --- public accountability: news, audit trail, exports, open data, personal data ----------


@api.route(
    "/campaigns/{campaign_id}/updates",
    "POST",
    auth="user",
    body="updates.NewsCreate",
    response="updates.News",
    status=201,
)
def post_news(call: UserCall, campaign_id: str):
    """Post a news item on one's live or ended campaign; its contributors get it by e-mail."""
    return oze.answers.news(oze.updates.post(campaign_id, call.user, call.body))


@api.route(
    "/campaigns/{campaign_id}/updates", "GET", auth="optional", query="base.PageQuery", response="updates.NewsPage"
)
def list_news(call: ViewerCall, campaign_id: str):
    """A campaign's news, newest first (those for backers only: to its owner, moderators and contributors)."""
    items, cursor = oze.updates.news(campaign_id, call.viewer, limit=call.query.limit, cursor=call.query.cursor)
    return oze.answers.page(map(oze.answers.news, items), cursor)


@api.route("/campaigns/{campaign_id}/unsubscribe", "GET", query="updates.UnsubscribeQuery", produces=("text/html",))
def unsubscribe_from_news(call: Call, campaign_id: str):
    """Unsubscribe from a campaign's news: the link of its e-mails, answered with a page."""
    return Reply(oze.updates.unsubscribe(campaign_id, call.query.token), content_type=HTML)


@api.route("/audit", "GET", auth="moderator", query="audit.AuditQuery", response="audit.AuditPage")
def audit_trail(call: UserCall):
    """The audit trail, newest first, optionally of one campaign."""
    q = call.query
    items, cursor = oze.audit.trail(call.user, campaign_id=q.campaign_id, limit=q.limit, cursor=q.cursor)
    return oze.answers.page(map(oze.answers.audit_entry, items), cursor)


@api.route(
    "/exports/closed-campaigns",
    "GET",
    auth="moderator",
    query="exports.ExportQuery",
    response="exports.ClosedCampaignsExport",
    produces=("text/csv", "application/json"),
)
def export_closed_campaigns(call: UserCall):
    """The accountant's export of the campaigns closed between two days, in CSV or JSON."""
    q = call.query
    export = oze.exports.closed_campaigns(call.user, q.from_, q.to)
    if q.format == "json":
        return export
    disposition = f'attachment; filename="{oze.exports.csv_filename(q.from_, q.to)}"'
    return Reply(oze.exports.as_csv(export), headers={"Content-Disposition": disposition}, content_type=oze.exports.CSV)


@api.route(
    "/exports/subsidies-due",
    "GET",
    auth="moderator",
    query="exports.FormatQuery",
    response="exports.SubsidiesDue",
    produces=("text/csv", "application/json"),
)
def export_subsidies_due(call: UserCall):
    """The top-ups due to owners of succeeded campaigns, for the public accountant."""
    export = oze.subsidies.due(call.user)
    if call.query.format == "json":
        return export
    disposition = 'attachment; filename="oze-subventions-dues.csv"'
    return Reply(
        oze.subsidies.as_csv(export), headers={"Content-Disposition": disposition}, content_type=oze.exports.CSV
    )


@api.route(
    "/subsidies/{campaign_id}/paid",
    "POST",
    auth="moderator",
    body="exports.SubsidyPayment",
    response="exports.SubsidyPaid",
)
def mark_subsidy_paid(call: UserCall, campaign_id: str):
    """The public accountant paid it: recorded with the payment mandate's reference."""
    return oze.subsidies.mark_paid(campaign_id, call.user, call.body.mandate_ref)


@api.route("/open-data/campaigns", "GET", query="base.PageQuery", response="exports.OpenDataPage")
def open_data_campaigns(call: Call):
    """Closed campaigns as open data (Licence Ouverte 2.0), without personal data."""
    return oze.exports.open_data(limit=call.query.limit, cursor=call.query.cursor)


@api.route("/me/data", "GET", auth="user", response="privacy.MyData")
def my_data(call: UserCall):
    """Every personal datum held about the caller (GDPR access)."""
    return oze.privacy.my_data(call.user)


@api.route("/me", "DELETE", auth="user", response="privacy.Erasure")
def erase_me(call: UserCall):
    """Erase the caller's identity from their campaigns and pledges; amounts stay (GDPR erasure)."""
    return oze.privacy.erase(call.user)


# --- matching funds (abondement) --------------------------------------------------------------


@api.route(
    "/matching-funds",
    "POST",
    auth="moderator",
    body="matching.FundCreate",
    response="matching.MatchingFund",
    status=201,
)
def create_matching_fund(call: UserCall):
    return oze.answers.fund(oze.matching.create_fund(call.user, call.body))


@api.route("/matching-funds", "GET", query="base.PageQuery", response="matching.MatchingFundPage")
def list_matching_funds(call: Call):
    items, cursor = oze.matching.list_funds(limit=call.query.limit, cursor=call.query.cursor)
    return oze.answers.page(map(oze.answers.fund, items), cursor)


@api.route(
    "/matching-funds/{fund_id}", "PATCH", auth="moderator", body="matching.FundFields", response="matching.MatchingFund"
)
def edit_matching_fund(call: UserCall, fund_id: str):
    return oze.answers.fund(oze.matching.edit_fund(fund_id, call.user, call.body))


@api.route(
    "/campaigns/{campaign_id}/matching",
    "POST",
    auth="moderator",
    body="matching.MatchingRequest",
    response="campaigns.Campaign",
)
def attach_matching_fund(call: UserCall, campaign_id: str):
    return oze.answers.campaign(oze.matching.attach(campaign_id, call.user, call.body), call.user)


# --- the contract ---------------------------------------------------------------------------


@api.route("/openapi.json", "GET")
def openapi_document(call: Call):
    """The OpenAPI 3.1 document of this API, generated from these routes and their models."""
    from chalicelib import openapi  # needed by this route only: kept out of every cold start

    return openapi.document(api)


# --- deadline closure and settlement --------------------------------------------------------


@app.schedule(Rate(int(wiring("CLOSURE_RATE_MINUTES", "5")), unit=Rate.MINUTES), name="finalise")
def finalise(event):
    """Close campaigns past their deadline, remind owners, hand closed ones to settlement."""
    return oze.finalisation.run(oze.clock.now())


@app.schedule(Cron(0, 5, "*", "*", "?", "*"), name="reconcile")
def reconcile(event):
    """Each open escrow at the provider against the ledger, daily (05:00 UTC)."""
    return oze.answers.reconciliation(oze.reconciliation.run(oze.clock.now()))


# The stream's ARN is known once the table exists: `make package` points this trigger at it.
TABLE_STREAM = "arn:aws:dynamodb:eu-west-3:123456789012:table/oze-local/stream/local"


@app.on_dynamodb_record(stream_arn=wiring("TABLE_STREAM_ARN", TABLE_STREAM), batch_size=100, name="figures")
def count_figures(event):
    """The platform figures that pledges move, counted from the table's changes."""
    return oze.figures.count(event.to_dict()["Records"])


@app.on_sqs_message(queue=wiring("SETTLEMENT_QUEUE_NAME", "oze-local-settlement"), batch_size=1, name="settle")
def settle(event):
    """Settle one closed campaign's pledges, a batch per message."""
    for record in event:
        oze.finalisation.settle_message(record.body, oze.clock.now())
