"""A run of the delivery task takes the single notifications already due alongside its own, so
that a burst's deliveries share their commits and their messages go out at the same time; it
leaves alone what is held for a digest, what is not yet due and what another run has claimed,
and one message's failure holds up none of the others.

Real parts: PostgreSQL, a redis-server of the test's own (the queued tasks wait in it: no worker
runs, the test runs the delivery itself), aiosmtpd and the fake SMS provider on loopback.
"""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from clinic.alerting import delivery
from clinic.models import Clinician, Notification
from tests.factories import COMMITTED, notification_for, submit_emergency

pytestmark = [pytest.mark.postgres, COMMITTED]


def subjects_naming(smtp, references: list[str]) -> list[int]:
    """For each email the server accepted, which of ``references`` its subject names."""
    return [index for mail in smtp.messages for index, reference in enumerate(references)
            if reference in mail.message["Subject"]]


def history(notification: Notification) -> list[tuple[str, str]]:
    return [(a.channel, a.outcome) for a in notification.attempts.all()]


def test_a_run_takes_the_due_notifications_with_its_own_and_leaves_the_rest(
        client, broker, rota, smtp, alert_settings, monkeypatch):
    monkeypatch.setattr(delivery, "BATCH", 2)
    references = [submit_emergency(client) for _ in range(5)]
    oldest, second, held, later, own = (notification_for(r, rota.duty) for r in references)
    Notification.objects.filter(pk=held.pk).update(grouped=True)
    Notification.objects.filter(pk=later.pk).update(
        next_attempt_at=timezone.now() + datetime.timedelta(minutes=5))

    # Its own first, then the longest due, up to the batch.
    assert delivery.deliver_due(own.pk) == delivery.DeliveryOutcome(delivered=True)
    assert sorted(subjects_naming(smtp, references)) == [0, 4]
    status = {n.pk: n.status for n in Notification.objects.all()}
    assert [status[n.pk] for n in (oldest, second, held, later, own)] == [
        "delivered", "pending", "pending", "pending", "delivered"]

    # Another run on one already taken claims it no more, and takes what is still due.
    assert not delivery.deliver_due(oldest.pk).claimed
    status = {n.pk: n.status for n in Notification.objects.all()}
    assert [status[n.pk] for n in (oldest, second, held, later, own)] == [
        "delivered", "delivered", "pending", "pending", "delivered"]
    # Nothing is left for a third: the held one waits for its digest, the later one its time.
    assert not delivery.deliver_due(second.pk).claimed
    assert len(smtp.messages) == 3
    for sent in (oldest, second, own):
        sent.refresh_from_db()
        assert history(sent) == [("email", "sent")]
        assert sent.claimed_until is None and sent.delivered_at is not None
    assert history(held) == history(later) == []
    assert sorted(subjects_naming(smtp, references)) == [0, 1, 4]  # one email each


def test_a_runs_messages_go_at_once_and_a_failed_one_holds_up_no_other(
        client, broker, redis_server, rota, smtp, sms_gateway, sms_settings, alert_settings):
    Clinician.objects.filter(pk=rota.duty.pk).update(phone="+447700900555")
    first, second = submit_emergency(client), submit_emergency(client)
    pages = list(Notification.objects.filter(alert__submission__reference__in=[first, second])
                 .order_by("pk"))
    assert sorted(n.channel for n in pages) == ["email", "email", "sms", "sms"]
    smtp.handler.delay = 0.5  # each email takes half a second to be accepted
    sms_gateway.fail_with(400, code=21211, times=1)  # the first text is refused

    assert delivery.deliver_due(pages[0].pk).delivered

    # One run sent all four: the texts reached the gateway while the emails were still being
    # accepted, so nothing waited for anything else.
    assert len(smtp.messages) == 2 and sms_gateway.requests == 2
    [text] = sms_gateway.messages
    assert text.received_at < min(mail.received_at for mail in smtp.messages)
    by_channel = {}
    for page in pages:
        page.refresh_from_db()
        by_channel.setdefault(page.channel, []).append((page.status, history(page)))
    assert by_channel["email"] == [("delivered", [("email", "sent")])] * 2
    # The refused text moved on to the person's next channel, queued again; the other went.
    assert sorted(by_channel["sms"]) == [
        ("delivered", [("sms", "sent")]),
        ("pending", [("sms", "permanent_failure")]),
    ]
    refused = next(p for p in pages if p.channel == "sms" and p.status == "pending")
    assert refused.channel_index == 1 and refused.claimed_until is None
    queued = [m["decoded_body"][0] for m in redis_server.queued_task_messages("alerts")]
    assert [refused.pk] in queued


def test_a_run_waits_for_its_own_notification_while_another_transaction_holds_it(
        client, broker, rota, smtp, alert_settings):
    """The short update after queueing (or any other writer) may hold the row when the task
    starts: the run waits for it, as a conditional update does, rather than skip it as it skips
    the others' rows."""
    notification = notification_for(submit_emergency(client), rota.duty)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Notification.objects.filter(pk=notification.pk).update(
                    last_queued_at=timezone.now())
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(timeout=10)
    threading.Timer(0.3, release.set).start()
    outcome = delivery.deliver_due(notification.pk)
    holder.join(timeout=10)

    assert outcome == delivery.DeliveryOutcome(delivered=True)
    assert len(smtp.messages) == 1
    notification.refresh_from_db()
    assert history(notification) == [("email", "sent")]
