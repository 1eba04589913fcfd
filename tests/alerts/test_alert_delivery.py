"""An alert reaches the duty clinician through a real worker and a real mail server, says only
what it must, and is sent once: even when the worker dies in the middle of sending, and when
the same delivery task runs many times at once.

Real parts: PostgreSQL, a redis-server of the test's own, Celery worker (and beat) processes,
aiosmtpd and an HTTP receiver on loopback; the submission goes through POST /api/submissions/.
"""

import re
import threading

import pytest
from django.db import connection

from clinic.alerting import delivery
from clinic.models import Alert, Clinician, DeliveryAttempt, DutyShift, Notification
from clinic.tasks import deliver_notification
from support.real_services import wait_until
from tests.factories import (
    COMMITTED,
    END_OF_DAY,
    SITE_URL,
    notification_for,
    patient_data_in,
    submit_emergency,
    wait_for_status,
    wait_for_sweeps,
)

pytestmark = [pytest.mark.postgres, COMMITTED]


def test_the_alert_email_and_webhook_carry_the_reference_and_link_but_no_patient_data(
        client, broker, rota, smtp, webhooks, redis_server, celery_processes):
    # A second clinician on duty, reached only by webhook, to see that payload as well.
    pager = Clinician.objects.create(name="Pager", webhook_url=webhooks.url("pager"))
    DutyShift.objects.bulk_create(
        DutyShift(clinic=rota.clinic, clinician=pager, weekday=day, ends=END_OF_DAY)
        for day in range(7))

    reference = submit_emergency(client)

    alert = Alert.objects.get(submission__reference=reference)
    assert (alert.urgency, alert.level, alert.out_of_hours) == ("emergency", 0, False)
    by_email, by_webhook = notification_for(reference, rota.duty), notification_for(
        reference, pager)
    assert alert.notifications.count() == 2

    # Queued after the commit, before any worker runs: one task per notification, whose
    # arguments are the notification's id and nothing else.
    queued = redis_server.queued_task_messages("alerts")
    assert sorted((m["headers"]["task"], tuple(m["decoded_body"][0]), m["decoded_body"][1])
                  for m in queued) == sorted([
        ("clinic.deliver_notification", (by_email.pk,), {}),
        ("clinic.deliver_notification", (by_webhook.pk,), {}),
    ])
    assert all(m["properties"]["body_encoding"] == "base64" and m["content-type"]
               == "application/json" for m in queued)
    for message in queued:
        assert patient_data_in(message["raw"] + str(message["decoded_body"])) == []

    worker = celery_processes.worker()
    [mail] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    wait_until(lambda: webhooks.hooks, what="the pager's webhook", detail=celery_processes.logs)
    wait_for_status(by_email, Notification.Status.DELIVERED, detail=celery_processes.logs)
    wait_for_status(by_webhook, Notification.Status.DELIVERED, detail=celery_processes.logs)

    # The email: to the duty clinician, naming the urgency, the reference and the link.
    link = f"{SITE_URL}/cases/{reference}/"
    assert mail.recipients == ("duty@clinic.test",)
    assert mail.message["Subject"] == f"[EMERGENCY] Intake {reference} needs a clinician"
    assert mail.message_id == f"<alert-notification-{by_email.pk}@clinic.invalid>"
    assert f"Reference: {reference}" in mail.text
    assert link in mail.text
    assert "log in required" in mail.text
    assert patient_data_in(mail.raw.decode() + mail.text + mail.message["Subject"]) == []

    # The webhook: the same facts as JSON, keyed so the receiver can de-duplicate.
    [hook] = webhooks.hooks
    assert hook.path == "/hooks/pager"
    assert hook.headers["Content-Type"] == "application/json"
    assert hook.headers["Idempotency-Key"] == f"alert-notification-{by_webhook.pk}"
    page = hook.json()
    acknowledge_link = page.pop("acknowledge_link")
    short_text = page.pop("short_text")
    assert page == {
        "reference": reference, "urgency": "emergency", "link": link, "escalation_level": 0,
        "text": f"[EMERGENCY] Intake {reference} needs a clinician", "reason": "page",
        "patient_told": "call 999 now",
        "escalates_at": by_webhook.alert.escalate_at.isoformat(),
        "escalates_at_local": page["escalates_at_local"],
    }
    assert acknowledge_link.startswith(f"{SITE_URL}/alerts/")
    assert short_text.startswith(f"EMERGENCY {reference}. Patient told: call 999 now.")
    assert short_text.endswith(acknowledge_link) and len(short_text) <= 300
    assert patient_data_in(hook.body.decode()) == []

    # Each delivery is on record: one attempt, on its channel, sent.
    assert [(a.channel, a.outcome, a.finished_at is not None) for a in by_email.attempts.all()
            ] == [("email", "sent", True)]
    assert [(a.channel, a.outcome, a.finished_at is not None)
            for a in by_webhook.attempts.all()] == [("webhook", "sent", True)]

    # The worker's log names the notifications, never the patient.
    log = worker.output()
    assert f"notification {by_email.pk} delivered by email" in log
    assert patient_data_in(log) == []


def test_a_worker_killed_mid_send_leaves_a_trace_and_the_alert_is_sent_once(
        client, broker, rota, smtp, celery_processes):
    smtp.hold()  # the mail server takes the message's DATA and then waits before answering
    first = celery_processes.worker("first")
    reference = submit_emergency(client)
    notification = notification_for(reference, rota.duty)

    wait_until(lambda: smtp.handler.held == 1, what="the worker to be inside the SMTP DATA",
               detail=celery_processes.logs)
    # The attempt is on record before the send, with no outcome yet.
    [interrupted] = DeliveryAttempt.objects.filter(notification=notification)
    assert (interrupted.channel, interrupted.outcome, interrupted.finished_at) == (
        "email", "", None)

    first.kill()  # SIGKILL to the worker's whole process group, mid-transaction
    # The server sees the client vanish before it answered 250: the transaction is abandoned,
    # and nothing was delivered.
    wait_until(lambda: smtp.handler.abandoned == 1, what="the SMTP server to see the client go")
    assert smtp.messages == []
    smtp.release()
    notification.refresh_from_db()
    assert notification.status == Notification.Status.SENDING  # still claimed by the dead worker

    # A new worker, and beat: once the dead worker's claim runs out, the sweep hands it on.
    celery_processes.worker("second", beat=True)
    [mail] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    wait_for_status(notification, Notification.Status.DELIVERED, detail=celery_processes.logs)
    wait_for_sweeps(2, detail=celery_processes.logs)

    assert len(smtp.messages) == 1
    assert mail.message_id == f"<alert-notification-{notification.pk}@clinic.invalid>"
    assert reference in mail.message["Subject"]
    attempts = list(DeliveryAttempt.objects.filter(notification=notification))
    assert [(a.pk, a.outcome, a.finished_at is None) for a in attempts] == [
        (interrupted.pk, "", True),  # the interrupted one: started, never finished
        (attempts[1].pk, "sent", False),
    ]
    assert smtp.handler.entered == 2


def test_the_same_delivery_run_many_times_at_once_sends_once(
        client, broker, rota, smtp, redis_server, celery_processes):
    smtp.handler.delay = 0.5  # a slow server, so the runs overlap the send
    reference = submit_emergency(client)  # queued; no worker runs yet
    notification = notification_for(reference, rota.duty)
    for _ in range(9):
        deliver_notification.delay(notification.pk)
    assert len(redis_server.queued_task_messages("alerts")) == 10

    # Two worker processes take the ten copies of the task between them.
    workers = celery_processes.workers("w1", "w2")
    smtp.wait_for_messages(1, detail=celery_processes.logs)

    def all_ten_done():
        logs = "".join(w.output() for w in workers)
        return len(re.findall(r"Task clinic\.deliver_notification\[[^]]+\] succeeded", logs))

    wait_until(lambda: all_ten_done() == 10, what="all ten tasks to finish",
               detail=celery_processes.logs)
    wait_for_status(notification, Notification.Status.DELIVERED)
    assert len(smtp.messages) == 1
    assert smtp.handler.entered == 1
    assert [(a.channel, a.outcome) for a in notification.attempts.all()] == [("email", "sent")]


def test_deliveries_racing_in_threads_claim_the_notification_once(
        client, broker, rota, smtp, alert_settings):
    """Eight runs of the delivery service released at the same instant, each on its own
    database connection: the conditional update lets exactly one of them send."""
    smtp.handler.delay = 0.5
    reference = submit_emergency(client)  # its task waits in Redis: no worker runs here
    notification = notification_for(reference, rota.duty)
    barrier = threading.Barrier(8)
    outcomes = []

    def run():
        try:
            barrier.wait(timeout=10)
            outcomes.append(delivery.deliver(notification.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a delivery run hung"

    assert len(outcomes) == 8
    assert sorted((o.claimed, o.delivered) for o in outcomes) == [(False, False)] * 7 + [
        (True, True)]
    assert len(smtp.messages) == 1
    assert smtp.handler.entered == 1
    notification.refresh_from_db()
    assert notification.status == Notification.Status.DELIVERED
    assert [(a.channel, a.outcome) for a in notification.attempts.all()] == [("email", "sent")]
