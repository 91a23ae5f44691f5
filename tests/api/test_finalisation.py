"""Deadline closure and settlement on the money paid (SPEC "Money (v2)"): each campaign
closes once, after its deadline and payment window; a succeeded campaign's paid pledges
are collected, a failed or cancelled one's refunded at the provider, each once and with
its one mail — across reruns, crashes, an unavailable provider and queues. Pending
payments expire at the sweep; a payment that lands after closure is refunded."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import aws, clock, escrow, finalisation, payments, storage
from chalicelib.adapters import mailer
from tests.conftest import STAGE_ENV, bearer
from tests.factories import MODERATOR, complete_payment, live_campaign, pledge

PAID = "Votre contribution à « Le rythme des maux » est enregistrée"
COLLECTED = "Votre contribution à « Le rythme des maux » est versée au projet"
REFUNDED = "Votre contribution à « Le rythme des maux » vous est remboursée"
WORKSHOP = {"title": "Atelier d'écriture", "description": "Une chanson écrite ensemble", "min_amount_cents": 3000}


def sent_mails():
    return [
        (message.destinations["ToAddresses"][0], message.subject)
        for message in ses_backends[DEFAULT_ACCOUNT_ID][STAGE_ENV["AWS_DEFAULT_REGION"]].sent_messages
    ]


def subjects():
    return [subject for _, subject in sent_mails()]


def shown(client, campaign_id):
    return client.http.get(f"/campaigns/{campaign_id}").json_body


def deadline(client, campaign_id):
    return clock.parse(shown(client, campaign_id)["ends_at"])


def closing(client, campaign_id):
    """The first run that closes the campaign: one second after its deadline and payment window."""
    return deadline(client, campaign_id) + payments.window() + timedelta(seconds=1)


def pledges_of(campaign_id):
    """Every stored pledge of a campaign, whatever its state, by contributor."""
    items = storage.every(storage.pledges.list_for_campaign, campaign_id, counted_only=False)
    return sorted((p._asdict() for p in items), key=lambda p: p["contributor_id"])


def statuses(campaign_id):
    return [p["status"] for p in pledges_of(campaign_id)]


def mine(client, contributor):
    """A contributor's pledges as they see them (GET /me/pledges)."""
    answer = client.http.get("/me/pledges?limit=100", headers=bearer(contributor))
    assert answer.status_code == 200, answer.body
    return answer.json_body["items"]


def payment_id(made):
    return made["payment"]["redirect_url"].rsplit("/", 1)[1]


def escrow_of(campaign_id):
    return storage.campaigns.get(campaign_id).escrow_id


def escrow_balance(campaign_id):
    """What the provider holds in the campaign's escrow."""
    return escrow.SandboxEscrow().escrow_balance(escrow_of(campaign_id))


def provider_refunds(campaign_id):
    """The refunds the provider made from the campaign's escrow."""
    return [m for m in escrow.SandboxEscrow().escrow_transactions(escrow_of(campaign_id)) if m.kind == "refund"]


def ledger(campaign_id, kind):
    return [entry for entry in storage.every(storage.ledger.entries, campaign_id) if entry.kind == kind]


def reconciled(campaign_id):
    """The ledger says what the provider holds (the daily reconciliation's check)."""
    return storage.ledger.escrow_balance(campaign_id) == escrow_balance(campaign_id)


def backed(client, goal_cents=100000, amounts=(60000, 50000), **campaign):
    campaign_id, _ = live_campaign(client, goal_cents=goal_cents, **campaign)
    for n, amount in enumerate(amounts):
        made = pledge(client, campaign_id, contributor=f"c{n}", name=f"Contributeur {n}", amount_cents=amount)
        assert (made.status_code, made.json_body["status"]) == (201, "paid"), made.body
    return campaign_id


# --- closure ----------------------------------------------------------------------------------


def test_a_campaign_closes_once_its_deadline_and_payment_window_are_past_not_before(client):
    campaign_id = backed(client)
    ends_at = deadline(client, campaign_id)
    assert payments.window() == timedelta(minutes=30)  # the stage's default
    for too_soon in (ends_at, ends_at + timedelta(seconds=1), ends_at + payments.window()):
        assert finalisation.run(too_soon)["closed"] == []
        assert shown(client, campaign_id)["status"] == "live"
    assert finalisation.run(ends_at + payments.window() + timedelta(seconds=1))["closed"] == [campaign_id]
    assert shown(client, campaign_id)["status"] == "succeeded"


def test_the_payment_window_is_the_stage_s_setting(client, monkeypatch):
    monkeypatch.setenv("PAYMENT_WINDOW_SECONDS", "600")
    campaign_id = backed(client)
    ends_at = deadline(client, campaign_id)
    assert finalisation.run(ends_at + timedelta(minutes=10))["closed"] == []
    assert finalisation.run(ends_at + timedelta(minutes=10, seconds=1))["closed"] == [campaign_id]


def test_deadline_across_the_autumn_clock_change(client, monkeypatch):
    """Approved on 20 October 2026 for 10 days: ends on 30 October at 23:59:59 in Paris,
    which is 22:59:59Z after the change of 25 October (23:59:59 CEST would be 21:59:59Z);
    it closes once the 30 minutes' payment window are past."""
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 10, 20, 10, 0, tzinfo=UTC))
    campaign_id, _ = live_campaign(client, duration_days=10)
    ends_at = deadline(client, campaign_id)
    assert ends_at == datetime(2026, 10, 30, 22, 59, 59, tzinfo=UTC)
    assert finalisation.run(datetime(2026, 10, 30, 23, 29, 59, tzinfo=UTC))["closed"] == []
    assert finalisation.run(datetime(2026, 10, 30, 23, 30, 0, tzinfo=UTC))["closed"] == [campaign_id]


@pytest.mark.parametrize(
    ("model", "goal", "amounts", "status", "settlement"),
    [
        ("all_or_nothing", 100000, (60000, 40000), "succeeded", "collected"),
        ("all_or_nothing", 100000, (60000, 39999), "failed", "refunded"),
        ("keep_it_all", 100000, (2500,), "succeeded", "collected"),
        ("keep_it_all", 100000, (), "failed", None),
    ],
)
def test_funding_models_decide_the_outcome_and_the_settlement(client, model, goal, amounts, status, settlement):
    campaign_id = backed(client, goal_cents=goal, amounts=amounts, funding_model=model)
    finalisation.run(closing(client, campaign_id))
    assert shown(client, campaign_id)["status"] == status
    assert statuses(campaign_id) == [settlement] * len(amounts)
    for n in range(len(amounts)):
        (seen,) = mine(client, f"c{n}")
        assert (seen["status"], seen["campaign"]["status"]) == (settlement, status)
        assert bool(seen["refunded_at"]) is (settlement == "refunded")
    # Collected: the escrow keeps the money for the owner's payout; refunded: it is empty.
    assert escrow_balance(campaign_id) == (sum(amounts) if status == "succeeded" else 0)
    assert reconciled(campaign_id)
    assert storage.settlement.get(campaign_id).settled


def test_a_failed_campaign_refunds_every_paid_pledge_at_the_provider(client):
    campaign_id = backed(client, goal_cents=1_000_000)
    before = shown(client, campaign_id)
    finalisation.run(closing(client, campaign_id))
    after = shown(client, campaign_id)
    assert after["status"] == "failed"
    assert (after["raised_cents"], after["pledge_count"]) == (before["raised_cents"], 2) == (110000, 2)  # as closed
    refunds = provider_refunds(campaign_id)
    assert sorted(r.amount_cents for r in refunds) == [50000, 60000]
    assert {r.status for r in refunds} == {"succeeded"}
    assert escrow_balance(campaign_id) == 0 and reconciled(campaign_id)
    stored = pledges_of(campaign_id)
    assert sorted(e.pledge_id for e in ledger(campaign_id, "refunded")) == sorted(p["id"] for p in stored)
    assert {p["refund_id"] for p in stored} == {r.id for r in refunds}


def test_a_refund_mail_ses_refuses_neither_undoes_nor_stops_the_refunds(client, monkeypatch):
    campaign_id = backed(client, goal_cents=1_000_000)
    real_send, refused = mailer.send, []

    def refusing_refund_mails(sender, to, subject, text, page):
        if "remboursée" in subject:
            refused.append(to)
            raise mailer.MailNotSent("MessageRejected: Email address is not verified.")
        return real_send(sender, to, subject, text, page)

    monkeypatch.setattr(mailer, "send", refusing_refund_mails)
    finalisation.run(closing(client, campaign_id))

    assert {p["status"] for p in pledges_of(campaign_id)} == {"refunded"}
    assert escrow_balance(campaign_id) == 0 and reconciled(campaign_id)
    assert storage.settlement.get(campaign_id).settled
    assert len(refused) == 2 and REFUNDED not in subjects()


# --- mails ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("goal", "owner_subjects", "pledge_subject"),
    [
        # and, its payout waiting for the owner's verified account: a reminder (once a week)
        (
            100000,
            [
                "Votre campagne « Le rythme des maux » a réussi",
                "Votre versement pour « Le rythme des maux » vous attend",
            ],
            COLLECTED,
        ),
        (1_000_000, ["Votre campagne « Le rythme des maux » est terminée"], REFUNDED),
    ],
    ids=["succeeded", "failed"],
)
def test_owner_and_contributors_get_one_mail_each_in_french(client, goal, owner_subjects, pledge_subject):
    campaign_id = backed(client, goal_cents=goal)
    assert sorted(sent_mails()) == [("c0@exemple.fr", PAID), ("c1@exemple.fr", PAID)]  # when each was paid
    after = closing(client, campaign_id)
    finalisation.run(after)
    finalisation.run(after + timedelta(hours=1))
    assert sorted(sent_mails()) == sorted(
        [
            ("c0@exemple.fr", PAID),
            ("c1@exemple.fr", PAID),
            *(("porteur@exemple.fr", subject) for subject in owner_subjects),
            ("c0@exemple.fr", pledge_subject),
            ("c1@exemple.fr", pledge_subject),
        ]
    )
    body = ses_backends[DEFAULT_ACCOUNT_ID][STAGE_ENV["AWS_DEFAULT_REGION"]].sent_messages[-1].body
    assert "€" in body and "Département" in body


def test_owners_are_reminded_once_a_week_before_the_deadline(client):
    campaign_id = backed(client, duration_days=30)
    ends_at = deadline(client, campaign_id)
    assert finalisation.run(ends_at - timedelta(days=8))["reminded"] == []
    assert finalisation.run(ends_at - timedelta(days=6))["reminded"] == [campaign_id]
    assert finalisation.run(ends_at - timedelta(days=5))["reminded"] == []
    assert subjects().count("Plus qu'une semaine pour « Le rythme des maux »") == 1


# --- cancellation, payments pending or late ---------------------------------------------------


def test_a_cancelled_campaign_refunds_its_paid_pledges_and_a_payment_it_never_heard_of(client):
    campaign_id = backed(client)
    # Paid at the provider, but its notification never came: settlement reads it again.
    unheard = pledge(client, campaign_id, contributor="c2", key="w", amount_cents=3_000, pay=None).json_body
    assert escrow.SandboxEscrow().complete(payment_id(unheard), "succeeded") is not None
    abandoned = pledge(client, campaign_id, contributor="c3", key="a", amount_cents=4_000, pay=None).json_body
    assert client.http.post(f"/campaigns/{campaign_id}/cancel", headers=MODERATOR).status_code == 200

    report = finalisation.run(clock.now())
    assert report["dispatched"] == [campaign_id]
    assert statuses(campaign_id) == ["refunded", "refunded", "refunded", "expired"]
    assert [p["status"] for p in mine(client, "c3")] == ["expired"]
    assert mine(client, "c3")[0]["id"] == abandoned["id"]
    assert all(p["refunded_at"] for n in range(3) for p in mine(client, f"c{n}"))
    assert escrow_balance(campaign_id) == 0 and reconciled(campaign_id)
    assert len(provider_refunds(campaign_id)) == 3
    assert [e.pledge_id for e in ledger(campaign_id, "paid") if e.pledge_id == unheard["id"]] == [unheard["id"]]
    assert subjects().count(REFUNDED) == 3
    assert ("porteur@exemple.fr", "Votre campagne « Le rythme des maux » est annulée") in sent_mails()
    assert storage.settlement.get(campaign_id).settled


def test_a_pending_pledge_left_unpaid_expires_at_the_sweep_and_gives_its_unit_back(client):
    campaign_id, rewards = live_campaign(client, rewards=[{**WORKSHOP, "quantity": 1}])
    reward_id = rewards["Atelier d'écriture"]
    left = pledge(client, campaign_id, key="l", amount_cents=3000, reward_id=reward_id, pay=None).json_body
    assert left["status"] == "pending_payment"
    assert shown(client, campaign_id)["rewards"][0]["remaining"] == 0  # held while it waits
    refused = pledge(client, campaign_id, contributor="autre", key="x", amount_cents=3000, reward_id=reward_id)
    assert refused.status_code == 409

    expires_at = clock.parse(left["payment"]["expires_at"])
    assert finalisation.run(expires_at - timedelta(seconds=1))["expired"] == []
    assert finalisation.run(expires_at + timedelta(seconds=1))["expired"] == [left["id"]]
    (seen,) = mine(client, "contributrice")
    assert (seen["status"], seen["payment"], seen["failure_reason"]) == ("expired", None, "délai de paiement dépassé")
    campaign = shown(client, campaign_id)
    assert (campaign["rewards"][0]["remaining"], campaign["raised_cents"], campaign["pledge_count"]) == (1, 0, 0)
    assert finalisation.run(expires_at + timedelta(minutes=5))["expired"] == []  # once
    assert shown(client, campaign_id)["rewards"][0]["remaining"] == 1
    again = pledge(client, campaign_id, contributor="autre", key="y", amount_cents=3000, reward_id=reward_id)
    assert (again.status_code, again.json_body["status"]) == (201, "paid")


def test_a_payment_whose_notification_was_lost_is_found_by_the_sweep_and_counts(client):
    campaign_id, _ = live_campaign(client, goal_cents=10_000)
    made = pledge(client, campaign_id, amount_cents=10_000, pay=None).json_body
    assert escrow.SandboxEscrow().complete(payment_id(made), "succeeded") is not None  # never delivered
    assert mine(client, "contributrice")[0]["status"] == "pending_payment"
    report = finalisation.run(closing(client, campaign_id))
    assert (report["expired"], report["closed"]) == ([made["id"]], [campaign_id])
    assert shown(client, campaign_id)["status"] == "succeeded"
    assert [p["status"] for p in mine(client, "contributrice")] == ["collected"]
    assert escrow_balance(campaign_id) == 10_000 and reconciled(campaign_id)
    assert subjects().count(PAID) == subjects().count(COLLECTED) == 1


def test_a_campaign_waits_for_the_payments_the_sweep_could_not_read(client, monkeypatch):
    """Paid within the window, its notification late, and the provider unreachable when the
    campaign is due: closing now would refund a payment that counts, and fail a campaign
    that reached its goal. It closes at the next run that reads the payment."""
    campaign_id, _ = live_campaign(client, goal_cents=10_000)
    made = pledge(client, campaign_id, amount_cents=10_000, pay=None).json_body
    assert escrow.SandboxEscrow().complete(payment_id(made), "succeeded") is not None  # not delivered yet
    real_read = escrow.SandboxEscrow.read_payment

    def unreachable(self, payment_id):
        raise escrow.ProviderError("the provider answered 503", retryable=True)

    monkeypatch.setattr(escrow.SandboxEscrow, "read_payment", unreachable)
    moment = closing(client, campaign_id)
    assert finalisation.run(moment)["closed"] == []
    assert shown(client, campaign_id)["status"] == "live"
    assert mine(client, "contributrice")[0]["status"] == "pending_payment"

    assert finalisation.run(moment + timedelta(minutes=5))["closed"] == []  # still unreadable

    monkeypatch.setattr(escrow.SandboxEscrow, "read_payment", real_read)
    report = finalisation.run(moment + timedelta(minutes=10))
    assert (report["expired"], report["closed"]) == ([made["id"]], [campaign_id])
    assert shown(client, campaign_id)["status"] == "succeeded"
    assert [p["status"] for p in mine(client, "contributrice")] == ["collected"]
    assert escrow_balance(campaign_id) == 10_000 and reconciled(campaign_id)


def test_a_payment_the_provider_never_finds_holds_the_closure_a_day_at_most(client, monkeypatch, caplog):
    campaign_id = backed(client)
    lost = payment_id(pledge(client, campaign_id, contributor="c2", key="p", amount_cents=3_000, pay=None).json_body)
    real_read = escrow.SandboxEscrow.read_payment

    def not_found(self, asked):
        if asked == lost:
            raise escrow.ProviderError("Mangopay 404: not found", retryable=False)
        return real_read(self, asked)

    monkeypatch.setattr(escrow.SandboxEscrow, "read_payment", not_found)
    moment = closing(client, campaign_id)
    for later in (timedelta(0), timedelta(hours=23, minutes=59)):
        assert finalisation.run(moment + later)["closed"] == []
    assert "a closure waits for payments to be read" in caplog.text
    assert finalisation.run(moment + timedelta(days=1))["closed"] == [campaign_id]
    assert "closed with payments the provider could not read" in caplog.text
    assert shown(client, campaign_id)["status"] == "succeeded"
    assert statuses(campaign_id) == ["collected", "collected", "pending_payment"]  # settlement reads it again
    assert not storage.settlement.get(campaign_id).settled


def test_a_payment_within_the_window_counts_and_one_completed_after_closure_is_refunded(client, monkeypatch):
    """Both pledges are made a minute before the deadline: the one paid 10 minutes after
    it counts; the one paid after closure is refunded, outside the campaign's totals."""
    campaign_id, _ = live_campaign(client, goal_cents=10_000)
    ends_at = deadline(client, campaign_id)
    moment = [ends_at - timedelta(minutes=1)]
    monkeypatch.setattr(clock, "now", lambda: moment[0])
    in_time = pledge(client, campaign_id, contributor="a", key="a", amount_cents=10_000, pay=None).json_body
    late = pledge(client, campaign_id, contributor="b", key="b", amount_cents=7_000, pay=None).json_body
    assert clock.parse(late["payment"]["expires_at"]) < ends_at + payments.window()

    moment[0] = ends_at + timedelta(minutes=10)
    complete_payment(client, in_time["payment"]["redirect_url"], "succeeded")
    assert [p["status"] for p in mine(client, "a")] == ["paid"]

    moment[0] = closing(client, campaign_id)
    report = finalisation.run(moment[0])
    assert (report["expired"], report["closed"]) == ([late["id"]], [campaign_id])
    assert [p["status"] for p in mine(client, "b")] == ["expired"]

    moment[0] += timedelta(minutes=3)
    complete_payment(client, late["payment"]["redirect_url"], "succeeded")  # the payer comes back to the page
    (seen,) = mine(client, "b")
    assert seen["status"] == "refunded" and clock.parse(seen["refunded_at"]) == moment[0]
    campaign = shown(client, campaign_id)
    assert (campaign["status"], campaign["raised_cents"], campaign["pledge_count"]) == ("succeeded", 10_000, 1)
    assert [p["status"] for p in mine(client, "a")] == ["collected"]
    assert escrow_balance(campaign_id) == 10_000 and reconciled(campaign_id)
    assert [e.pledge_id for e in ledger(campaign_id, "refunded")] == [late["id"]]
    assert [m for m in sent_mails() if m[1] == REFUNDED] == [("b@exemple.fr", REFUNDED)]


# --- exactly once: crashes, an unavailable provider, queues -------------------------------------


def test_a_crash_half_way_is_finished_by_the_rerun_refunding_each_pledge_once(client, monkeypatch):
    """A failed campaign of 7 paid pledges, 3 a batch; the function dies after the 4th
    refund is recorded, with the rest of that batch refunded at the provider but not yet
    recorded. The rerun asks the provider again for those only: one refund each."""
    campaign_id = backed(client, goal_cents=1_000_000, amounts=[20000 + n for n in range(7)])
    after = closing(client, campaign_id)
    asked = []
    real_refund = escrow.SandboxEscrow.refund

    def refund(self, payment):
        asked.append(payment.pledge_id)
        return real_refund(self, payment)

    monkeypatch.setattr(escrow.SandboxEscrow, "refund", refund)
    recorded, lock = [], threading.Lock()
    real_record = storage.pledges.refund

    def crash_after_four(pledge, entries, **options):
        with lock:
            if len(recorded) == 4:
                raise RuntimeError("Lambda timed out")
            done = real_record(pledge, entries, **options)
            recorded.append(pledge.id)
            return done

    monkeypatch.setattr(storage.pledges, "refund", crash_after_four)
    monkeypatch.setenv("SETTLEMENT_BATCH_COUNT", "3")  # checkpoints after 3 and 6 pledges
    with pytest.raises(RuntimeError):
        finalisation.run(after)
    refunded_before = {p["id"]: p["refunded_at"] for p in pledges_of(campaign_id) if p["status"] == "refunded"}
    assert len(refunded_before) == 4
    assert len(asked) == len(set(asked)) == 6  # the second batch all refunded at the provider
    assert not storage.settlement.get(campaign_id).settled

    monkeypatch.setattr(storage.pledges, "refund", real_record)
    finalisation.run(after + timedelta(minutes=1))  # settlement is not stalled yet: left alone
    assert len(asked) == 6
    finalisation.run(after + timedelta(minutes=11))  # the stalled settlement is handed on again
    stored = pledges_of(campaign_id)
    assert [p["status"] for p in stored] == ["refunded"] * 7
    assert all(p["refunded_at"] == refunded_before[p["id"]] for p in stored if p["id"] in refunded_before)
    assert len(asked) == 9 and set(asked) == {p["id"] for p in stored}  # again for the 2 unrecorded only
    refunds = provider_refunds(campaign_id)
    assert sorted(r.payment_id for r in refunds) == sorted(p["payment_id"] for p in stored)  # one each
    assert sorted(e.pledge_id for e in ledger(campaign_id, "refunded")) == sorted(p["id"] for p in stored)
    assert escrow_balance(campaign_id) == 0 and reconciled(campaign_id)
    assert subjects().count(REFUNDED) == 7
    assert storage.settlement.get(campaign_id).settled


def test_an_unavailable_provider_leaves_refunds_to_a_later_pass(client, monkeypatch, caplog):
    """The provider down (or its rate limit reached): the first refund it cannot answer
    halts the pass, instead of each pledge waiting for its own timeout."""
    campaign_id = backed(client, goal_cents=1_000_000, amounts=[10000, 20000, 30000, 40000, 10000])
    real_refund = escrow.SandboxEscrow.refund
    asked = []

    def unreachable(self, payment):
        asked.append(payment.pledge_id)
        raise escrow.ProviderError("the provider answered 503", retryable=True)

    monkeypatch.setattr(escrow.SandboxEscrow, "refund", unreachable)
    monkeypatch.setenv("REFUND_CONCURRENCY", "1")
    moment = closing(client, campaign_id)
    assert finalisation.run(moment)["closed"] == [campaign_id]
    assert shown(client, campaign_id)["status"] == "failed"
    assert statuses(campaign_id) == ["paid"] * 5  # nothing refunded, nothing recorded
    assert len(asked) == 1
    assert escrow_balance(campaign_id) == 110000 and reconciled(campaign_id)
    assert not storage.settlement.get(campaign_id).settled
    assert "a pledge waits for the next pass" in caplog.text
    assert subjects().count(REFUNDED) == 0

    monkeypatch.setattr(escrow.SandboxEscrow, "refund", real_refund)
    finalisation.run(moment + timedelta(minutes=11))
    assert statuses(campaign_id) == ["refunded"] * 5
    assert escrow_balance(campaign_id) == 0 and reconciled(campaign_id)
    assert subjects().count(REFUNDED) == 5
    assert storage.settlement.get(campaign_id).settled


def test_sqs_redelivery_of_the_same_message_doubles_nothing(client, monkeypatch):
    queue_url = aws.client("sqs").get_queue_url(QueueName="oze-test-settlement")["QueueUrl"]
    monkeypatch.setenv("SETTLEMENT_QUEUE_URL", queue_url)
    campaign_id = backed(client)
    finalisation.run(closing(client, campaign_id))
    messages = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"campaign_id": campaign_id}]
    assert statuses(campaign_id) == ["paid", "paid"]  # settled by the queue's function, not here
    event = client.events.generate_sqs_event(queue_name="oze-test-settlement", message_bodies=[messages[0]["Body"]])
    for _ in range(2):
        assert client.lambda_.invoke("settle", event).payload is None
    assert statuses(campaign_id) == ["collected", "collected"]
    assert subjects().count(COLLECTED) == 2
    assert shown(client, campaign_id)["raised_cents"] == 110000
    assert escrow_balance(campaign_id) == 110000 and reconciled(campaign_id)


def test_sqs_redelivery_refunds_a_failed_campaign_once(client, monkeypatch):
    queue_url = aws.client("sqs").get_queue_url(QueueName="oze-test-settlement")["QueueUrl"]
    monkeypatch.setenv("SETTLEMENT_QUEUE_URL", queue_url)
    campaign_id = backed(client, goal_cents=1_000_000)
    finalisation.run(closing(client, campaign_id))
    (message,) = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    event = client.events.generate_sqs_event(queue_name="oze-test-settlement", message_bodies=[message["Body"]])
    for _ in range(2):
        assert client.lambda_.invoke("settle", event).payload is None
    assert statuses(campaign_id) == ["refunded", "refunded"]
    assert len(provider_refunds(campaign_id)) == len(ledger(campaign_id, "refunded")) == 2
    assert escrow_balance(campaign_id) == 0 and reconciled(campaign_id)
    assert subjects().count(REFUNDED) == 2


def test_a_large_campaign_settles_across_several_messages(client, monkeypatch):
    queue_url = aws.client("sqs").get_queue_url(QueueName="oze-test-settlement")["QueueUrl"]
    monkeypatch.setenv("SETTLEMENT_QUEUE_URL", queue_url)
    monkeypatch.setenv("SETTLEMENT_BATCH_COUNT", "2")
    campaign_id = backed(client, amounts=[20000 + n for n in range(5)])
    finalisation.run(closing(client, campaign_id))
    sqs = aws.client("sqs")
    handled = 0
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages"):
        event = client.events.generate_sqs_event(queue_name="oze-test-settlement", message_bodies=[messages[0]["Body"]])
        client.lambda_.invoke("settle", event)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
        handled += 1
    assert handled == 3  # 2 + 2 + 1 pledges
    assert statuses(campaign_id) == ["collected"] * 5
    assert storage.settlement.get(campaign_id).settled


def test_the_scheduled_function_takes_its_time_from_the_clock(client, monkeypatch):
    campaign_id = backed(client)
    after = closing(client, campaign_id)
    monkeypatch.setattr(clock, "now", lambda: after)
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[], region="eu-west-3"
    )
    result = client.lambda_.invoke("finalise", event).payload
    assert result["closed"] == [campaign_id]
    assert set(result) == {"expired", "closed", "reminded", "dispatched", "paid_out"}
    assert client.http.get("/stats").json_body["campaigns_by_status"]["succeeded"] == 1
