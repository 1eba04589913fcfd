"""Outages delay an alert but never lose it or double it: Redis down while submissions arrive,
and the mail server down while an alert is being delivered.

Real parts: PostgreSQL, a redis-server of the test's own (stopped and started again on the same
port), Celery worker and beat processes, aiosmtpd and an HTTP receiver on loopback.
"""

import datetime
import statistics
import threading
import time
from collections import Counter

import pytest
from django.db import connection

from clinic.alerting import delivery
from clinic.models import Alert, DeliveryAttempt, Notification
from intake.models import Submission
from support.real_services import wait_until
from tests.factories import (
    COMMITTED,
    PATIENT,
    ROUTINE,
    SITE_URL,
    patient_data_in,
    post_submission,
    submit_emergency,
    wait_for_status,
    wait_for_sweeps,
)

pytestmark = [pytest.mark.postgres, COMMITTED]

URGENT = {**ROUTINE, "fever_chills": True}
BURST = 50
# Far more than a request takes with the broker down (a refused connection fails at once, in
# milliseconds): a request that hangs fails the test instead of hanging it, and one that waits
# for the broker (kombu retrying until its 2 s connection timeout, as it did before
# CELERY_BROKER_TRANSPORT_OPTIONS["max_retries"] = 0) shows up in the median.
REQUEST_BOUND_SECONDS = 10
MEDIAN_REQUEST_BOUND_SECONDS = 1
HUNG_REQUEST_BOUND_SECONDS = 5


class HungRequest(AssertionError):
    pass


def test_redis_down_while_50_urgent_intakes_arrive_every_alert_is_delivered_once_it_returns(
        client, settings, broker, rota, smtp, redis_server, celery_processes):
    # One page per alert, so that every alert's delivery is counted on its own (grouping a
    # burst into a digest is tested in test_alert_digests.py).
    settings.ALERT_GROUP_MINUTES = 0
    celery_processes.worker(beat=True)
    redis_server.stop()

    references, durations = [], []
    for _ in range(BURST):
        started = time.monotonic()
        response = post_submission(client, {"patient": PATIENT, "answers": URGENT})
        durations.append(time.monotonic() - started)
        assert response.status_code == 201, response.content
        assert response.json()["urgency"] == "urgent"
        references.append(response.json()["reference"])
    print(f"\n{BURST} submissions with Redis down: median "
          f"{statistics.median(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms")
    assert max(durations) < REQUEST_BOUND_SECONDS
    assert statistics.median(durations) < MEDIAN_REQUEST_BOUND_SECONDS

    # Every submission and its alert are stored; nothing could be queued, nothing was sent.
    assert Submission.objects.filter(reference__in=references).count() == BURST
    assert Alert.objects.filter(submission__reference__in=references,
                                urgency="urgent").count() == BURST
    notifications = Notification.objects.filter(alert__submission__reference__in=references)
    assert notifications.count() == BURST
    assert set(notifications.values_list("status", "clinician", "last_queued_at")) == {
        (Notification.Status.PENDING, rota.duty.pk, None)}
    assert smtp.messages == []

    # Redis returns on the same port; the sweep (beat, every second) queues what waited.
    redis_server.start()
    smtp.wait_for_messages(BURST, timeout=60, detail=celery_processes.logs)
    wait_until(
        lambda: notifications.filter(status=Notification.Status.DELIVERED).count() == BURST,
        what=f"all {BURST} notifications to be delivered", detail=celery_processes.logs)
    wait_for_sweeps(3, detail=celery_processes.logs)  # later sweeps send nothing more

    mails = smtp.messages
    assert len(mails) == BURST
    assert {m.recipients for m in mails} == {("duty@clinic.test",)}
    assert len({m.message_id for m in mails}) == BURST
    subject_references = Counter(m.message["Subject"].split()[2] for m in mails)
    assert subject_references == Counter(references)  # each reference exactly once
    assert {m.message_id for m in mails} == {
        f"<alert-notification-{pk}@clinic.invalid>"
        for pk in notifications.values_list("pk", flat=True)}
    attempts = DeliveryAttempt.objects.filter(notification__in=notifications)
    assert attempts.count() == BURST
    assert set(attempts.values_list("channel", "outcome")) == {("email", "sent")}


def redis_cache(redis_server) -> dict:
    """The shared cache (the rate limits' counters) on the test's Redis, as in production."""
    return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": redis_server.url.rsplit("/", 1)[0] + "/1",
                        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}}}


KILLED_BURST, KILLED_AFTER = 30, 10


def test_redis_killed_during_a_burst_every_submission_is_201_and_alerted_exactly_once_after(
        client, settings, broker, rota, smtp, redis_server, celery_processes, caplog):
    """Redis is the broker and the throttle's cache; it is killed (SIGKILL) a third of the way
    through a burst of urgent intakes from one address."""
    settings.CACHES = redis_cache(redis_server)
    settings.ALERT_GROUP_MINUTES = 0  # one page per alert, as above
    celery_processes.worker(beat=True)

    references, durations = [], []
    for n in range(KILLED_BURST):
        if n == KILLED_AFTER:
            redis_server.stop()
        started = time.monotonic()
        response = post_submission(client, {"patient": PATIENT, "answers": URGENT})
        durations.append(time.monotonic() - started)
        assert response.status_code == 201, f"submission {n}: {response.content[:300]}"
        references.append(response.json()["reference"])
    print(f"\n{KILLED_BURST} submissions, Redis killed after {KILLED_AFTER}: median "
          f"{statistics.median(durations) * 1000:.0f} ms, max {max(durations) * 1000:.0f} ms")
    assert max(durations) < REQUEST_BOUND_SECONDS
    assert "the shared cache does not answer" in caplog.text

    redis_server.start()
    notifications = Notification.objects.filter(alert__submission__reference__in=references)
    assert notifications.count() == KILLED_BURST
    smtp.wait_for_messages(KILLED_BURST, timeout=90, detail=celery_processes.logs)
    wait_until(
        lambda: notifications.filter(status=Notification.Status.DELIVERED).count()
        == KILLED_BURST, what="every notification delivered", detail=celery_processes.logs)
    wait_for_sweeps(3, detail=celery_processes.logs)  # later sweeps send nothing more
    mails = smtp.messages
    assert Counter(m.message["Subject"].split()[2] for m in mails) == Counter(references)
    assert len({m.message_id for m in mails}) == KILLED_BURST


def test_redis_hung_while_an_urgent_intake_arrives_the_request_is_answered_and_alerted_once(
        client, broker, rota, smtp, redis_server, celery_processes):
    celery_processes.worker(beat=True)
    # A first alert, so this process holds a connection to Redis, as a web process does.
    first = submit_emergency(client)
    smtp.wait_for_messages(1, detail=celery_processes.logs)

    redis_server.pause()  # connections stay open; nothing answers
    answered = {}

    def submit():
        try:
            started = time.monotonic()
            answered["response"] = post_submission(client, {"patient": PATIENT, "answers": URGENT})
            answered["seconds"] = time.monotonic() - started
        finally:
            connection.close()

    request = threading.Thread(target=submit, daemon=True)
    request.start()
    request.join(HUNG_REQUEST_BOUND_SECONDS)
    try:
        if request.is_alive():
            raise HungRequest(f"the request was still waiting for the hung broker after "
                              f"{HUNG_REQUEST_BOUND_SECONDS} s")
    finally:
        redis_server.resume()
    response = answered["response"]
    assert response.status_code == 201, response.content
    print(f"\nrequest with Redis hung: {answered['seconds'] * 1000:.0f} ms")
    second = response.json()["reference"]
    assert Alert.objects.filter(submission__reference=second).exists()

    mails = smtp.wait_for_messages(2, detail=celery_processes.logs)
    notification = Notification.objects.get(alert__submission__reference=second)
    wait_for_status(notification, Notification.Status.DELIVERED, detail=celery_processes.logs)
    wait_for_sweeps(2, detail=celery_processes.logs)
    mails = smtp.messages
    assert Counter(m.message["Subject"].split()[2] for m in mails) == Counter([first, second])
    assert [(a.channel, a.outcome) for a in notification.attempts.all()] == [("email", "sent")]


def test_with_the_mail_server_down_email_is_retried_with_backoff_then_the_webhook_is_used(
        client, broker, rota, smtp, webhooks, celery_processes, alert_settings):
    smtp.stop()  # nothing listens on its port now: every connection is refused
    celery_processes.worker()
    reference = submit_emergency(client)
    notification = Notification.objects.get(alert__submission__reference=reference)

    # The first try, by the worker: refused, on record, and due again after the first delay.
    def attempts():
        return list(DeliveryAttempt.objects.filter(notification=notification))

    wait_until(lambda: [a.outcome for a in attempts()] == ["temporary_failure"],
               what="the worker's first, failed attempt", detail=celery_processes.logs)
    notification.refresh_from_db()
    assert (notification.status, notification.channel_index, notification.tries_on_channel) == (
        Notification.Status.PENDING, 0, 1)

    # The retries, with the clock under the test's control: a moment before the backoff has
    # passed nothing is tried; at the time, the next try is made (and fails again).
    for tries, delay in enumerate(delivery.retry_delays(), start=1):
        last = attempts()[-1]
        assert last.channel == "email"
        assert last.error == "SMTP unavailable: ConnectionRefusedError"
        backoff = notification.next_attempt_at - last.finished_at
        assert abs(backoff - delay) < datetime.timedelta(seconds=1), backoff
        early = notification.next_attempt_at - datetime.timedelta(milliseconds=10)
        assert not delivery.deliver(notification.pk, now=early).claimed
        assert len(attempts()) == tries
        outcome = delivery.deliver(notification.pk, now=notification.next_attempt_at)
        assert (outcome.claimed, outcome.delivered) == (True, False)
        notification.refresh_from_db()

    # After the last retry, email is given up and the webhook, the next channel, is queued at
    # once; the worker delivers it.
    assert (notification.channel_index, notification.tries_on_channel) == (1, 0)
    wait_until(lambda: webhooks.hooks, what="the webhook to be called",
               detail=celery_processes.logs)
    wait_for_status(notification, Notification.Status.DELIVERED, detail=celery_processes.logs)

    assert [(a.channel, a.outcome) for a in attempts()] == [
        ("email", "temporary_failure")] * (1 + len(delivery.retry_delays())) + [
        ("webhook", "sent")]
    assert all(a.finished_at is not None for a in attempts())
    [hook] = webhooks.hooks
    assert hook.path == "/hooks/duty"
    assert hook.headers["Idempotency-Key"] == f"alert-notification-{notification.pk}"
    page = hook.json()
    assert {key: page[key] for key in ("reference", "urgency", "link", "escalation_level",
                                       "text", "patient_told")} == {
        "reference": reference, "urgency": "emergency",
        "link": f"{SITE_URL}/cases/{reference}/", "escalation_level": 0,
        "text": f"[EMERGENCY] Intake {reference} needs a clinician",
        "patient_told": "call 999 now",
    }
    assert patient_data_in(hook.body.decode()) == []
    assert smtp.messages == []
