"""Alerting the duty clinician: raising an alert, delivering its notifications, escalating it,
and acknowledging it.

How an alert is never lost and never sent twice
-----------------------------------------------
1. ``raise_alert`` runs inside the submission's transaction and writes the ``Alert`` and its
   first ``Notification`` rows (an outbox).  If the submission rolls back, so does the alert.
2. After the commit, a task is queued with only the notification's id (``queue_delivery``).
   If the broker is down the queuing fails quietly: the rows are already safe.
3. ``deliver_notification`` claims the notification with a conditional update that only one
   worker can win, for a lease (``ALERT_CLAIM_SECONDS``), writes a ``DeliveryAttempt`` before
   sending and completes it after.  A second run of the same task finds nothing to claim.
4. ``sweep`` (Celery beat, every few seconds) re-queues whatever is due: notifications not yet
   sent, retries whose backoff has passed, and claims whose lease ran out because a worker died.
   It also escalates unacknowledged alerts whose ``escalate_at`` has passed.
5. The database holds all the state, so a Redis outage, a crashed web process or a lost message
   only delays an alert.

The one case where a message can go twice: a worker that dies after the mail server accepted a
message but before it recorded so.  Sending again is the safe side of that choice; the
Message-ID (and the webhook's Idempotency-Key) is the same both times so receivers can
de-duplicate.

Nothing here logs, queues or sends patient data: only ids, the case reference and the urgency.
"""

import datetime
import logging
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from clinic.models import Alert, Clinic, DeliveryAttempt, Heartbeat, Notification
from clinic.rota import escalation_chain
from clinic.transports import TRANSPORTS, AlertMessage, DeliveryError

logger = logging.getLogger(__name__)

ALERTING_URGENCIES = ("emergency", "urgent")

# Backoff before retrying the same channel after a temporary failure; after the last, the next
# channel (or the next person) is tried.
RETRY_DELAYS = (datetime.timedelta(seconds=5), datetime.timedelta(seconds=20),
                datetime.timedelta(seconds=60))

SWEEP_HEARTBEAT = "alert-sweep"


def escalation_delay(clinic: Clinic, urgency: str) -> datetime.timedelta:
    minutes = (clinic.emergency_escalation_minutes if urgency == "emergency"
               else clinic.urgent_escalation_minutes)
    return datetime.timedelta(minutes=minutes)


# --- Raising ----------------------------------------------------------------------------------


def raise_alert(submission, *, now: datetime.datetime | None = None) -> Alert | None:
    """Create the alert for an urgent or emergency submission, in the caller's transaction, and
    queue its first notifications once that transaction commits.  Returns None for a submission
    that needs no alert."""
    if submission.urgency not in ALERTING_URGENCIES:
        return None
    now = now or timezone.now()
    clinic = submission.clinic
    steps, closed = escalation_chain(clinic, now)
    alert = Alert.objects.create(
        submission=submission, clinic=clinic, urgency=submission.urgency, out_of_hours=closed,
        created_at=now, escalate_at=now + escalation_delay(clinic, submission.urgency),
    )
    if not steps:
        logger.critical("alert %s for %s has nobody to notify: the clinic %s has no duty "
                        "rota, out-of-hours or backup contacts", alert.pk, submission.reference,
                        clinic.pk)
        return alert
    _notify_step(alert, level=0, steps=steps, now=now)
    return alert


def _notify_step(alert: Alert, *, level: int, steps, now) -> list[Notification]:
    recipients = steps[level % len(steps)]
    Notification.objects.bulk_create(
        [Notification(alert=alert, clinician=c, level=level, next_attempt_at=now, created_at=now)
         for c in recipients],
        ignore_conflicts=True,  # a level is notified once, whoever gets there first
    )
    # ignore_conflicts leaves no primary keys behind; read back what exists for this level.
    created = list(Notification.objects.filter(alert=alert, level=level,
                                               status=Notification.Status.PENDING))
    ids = [n.pk for n in created]
    transaction.on_commit(lambda: queue_delivery(ids))
    return created


def queue_delivery(notification_ids: list[int]) -> None:
    """Queue a delivery task per notification; called after commit.  A broker that is down or
    hung is logged, not raised, and not waited for: the patient's request must not hang on it,
    and the sweep will queue the notifications again."""
    from clinic.tasks import deliver_notification

    if notification_ids and not _broker_answers():
        logger.warning("the broker does not answer; %s notification(s) left for the sweep",
                       len(notification_ids))
        return
    queued = []
    try:
        for notification_id in notification_ids:
            deliver_notification.delay(notification_id)
            queued.append(notification_id)
    except Exception as error:  # the broker is down or unreachable
        logger.warning("could not queue notification %s (%s); the sweep will retry",
                       notification_id, type(error).__name__)
    finally:
        if queued:
            Notification.objects.filter(pk__in=queued).update(last_queued_at=timezone.now())


def _broker_answers() -> bool:
    """Whether Redis answers a PING within half a second.  Publishing to a Redis that accepts
    connections but does not answer would block until it does; Celery's socket_timeout would
    bound that, but it applies to the worker too, which can then stop consuming after a
    timed-out ack (celery/celery#2415), so the web side asks first."""
    from clinic.celery import app

    url = app.conf.broker_url or ""
    if app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return True
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False
    return True


# --- Delivering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool = False
    claimed: bool = True


def deliver(notification_id: int, *, now: datetime.datetime | None = None) -> DeliveryOutcome:
    """Try to deliver one notification on its current channel.  Safe to run any number of
    times, concurrently: only the run that claims the notification sends."""
    now = now or timezone.now()
    lease = datetime.timedelta(seconds=settings.ALERT_CLAIM_SECONDS)
    claimable = Q(status=Notification.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Notification.Status.SENDING, claimed_until__lt=now)
    claimed = Notification.objects.filter(claimable, pk=notification_id).update(
        status=Notification.Status.SENDING, claimed_until=now + lease)
    if claimed != 1:
        return DeliveryOutcome(claimed=False)
    notification = Notification.objects.select_related(
        "clinician", "alert__submission").get(pk=notification_id)
    if notification.alert.is_acknowledged:
        _finish(notification, status=Notification.Status.CANCELLED)
        return DeliveryOutcome()
    channels = notification.clinician.channels
    if notification.channel_index >= len(channels):
        _give_up_on_person(notification, now)
        return DeliveryOutcome()
    channel = channels[notification.channel_index]
    address = notification.clinician.email if channel == "email" else (
        notification.clinician.webhook_url)

    # The attempt is on record before anything leaves this process.
    attempt = DeliveryAttempt.objects.create(notification=notification, channel=channel)
    try:
        TRANSPORTS[channel].send(address, _message(notification))
    except DeliveryError as error:
        _record(attempt, DeliveryAttempt.Outcome.PERMANENT_FAILURE if error.permanent
                else DeliveryAttempt.Outcome.TEMPORARY_FAILURE, str(error))
        logger.warning("notification %s: %s delivery failed (%s)", notification.pk, channel,
                       error)
        _after_failure(notification, permanent=error.permanent, now=timezone.now())
        return DeliveryOutcome()
    _record(attempt, DeliveryAttempt.Outcome.SENT)
    _finish(notification, status=Notification.Status.DELIVERED, delivered_at=timezone.now())
    logger.info("notification %s delivered by %s for alert %s", notification.pk, channel,
                notification.alert_id)
    return DeliveryOutcome(delivered=True)


def _message(notification: Notification) -> AlertMessage:
    alert = notification.alert
    path = reverse("case-detail", args=[alert.submission.reference])
    return AlertMessage(notification_id=notification.pk, reference=alert.submission.reference,
                        urgency=alert.urgency, link=settings.SITE_URL.rstrip("/") + path,
                        level=notification.level)


def _record(attempt: DeliveryAttempt, outcome: str, error: str = "") -> None:
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(
        outcome=outcome, error=error[:500], finished_at=timezone.now())


def _finish(notification: Notification, **fields) -> None:
    Notification.objects.filter(pk=notification.pk).update(claimed_until=None, **fields)


def _after_failure(notification: Notification, *, permanent: bool, now) -> None:
    tries = notification.tries_on_channel + 1
    if not permanent and tries <= len(RETRY_DELAYS):
        _finish(notification, status=Notification.Status.PENDING, tries_on_channel=tries,
                next_attempt_at=now + RETRY_DELAYS[tries - 1])
        return
    # This channel is done with: fall back to the person's next channel, at once.
    next_channel = notification.channel_index + 1
    if next_channel < len(notification.clinician.channels):
        _finish(notification, status=Notification.Status.PENDING, channel_index=next_channel,
                tries_on_channel=0, next_attempt_at=now)
        transaction.on_commit(lambda: queue_delivery([notification.pk]))
        return
    _give_up_on_person(notification, now)


def _give_up_on_person(notification: Notification, now) -> None:
    """Every channel of this person failed: mark it, and escalate the alert now rather than
    wait for its escalation time."""
    _finish(notification, status=Notification.Status.FAILED)
    logger.error("notification %s failed on every channel; escalating alert %s now",
                 notification.pk, notification.alert_id)
    Alert.objects.filter(pk=notification.alert_id, acknowledged_at__isnull=True,
                         level=notification.level).update(escalate_at=now)


# --- Sweeping and escalating ------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    queued: int
    escalated: int


def sweep(*, now: datetime.datetime | None = None) -> SweepReport:
    """Queue every notification that is due, and escalate every overdue alert.  Run by Celery
    beat every ALERT_SWEEP_SECONDS; safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    escalated = sum(1 for alert_id in _overdue_alert_ids(now) if escalate(alert_id, now=now))
    # Re-queue what is due and has not been queued in the last lease period, so a slow worker
    # does not get the same id queued every few seconds.
    stale = now - datetime.timedelta(seconds=settings.ALERT_CLAIM_SECONDS)
    due = list(
        Notification.objects.filter(
            Q(status=Notification.Status.PENDING, next_attempt_at__lte=now)
            | Q(status=Notification.Status.SENDING, claimed_until__lt=now)
        ).filter(Q(last_queued_at__isnull=True) | Q(last_queued_at__lt=stale)
                 | Q(last_queued_at__lt=F("next_attempt_at")))
        .values_list("pk", flat=True)[:500]
    )
    queue_delivery(due)
    Heartbeat.objects.update_or_create(name=SWEEP_HEARTBEAT, defaults={"last_run_at": now})
    return SweepReport(queued=len(due), escalated=escalated)


def _overdue_alert_ids(now) -> list[int]:
    return list(Alert.objects.filter(acknowledged_at__isnull=True, escalate_at__lte=now)
                .values_list("pk", flat=True)[:500])


def escalate(alert_id: int, *, now: datetime.datetime | None = None) -> bool:
    """Move an unacknowledged, overdue alert to its next step and notify that step.  The
    conditional update means two sweeps escalate it once."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_related("clinic", "submission").get(pk=alert_id)
        moved = Alert.objects.filter(
            pk=alert.pk, level=alert.level, acknowledged_at__isnull=True, escalate_at__lte=now
        ).update(level=alert.level + 1,
                 escalate_at=now + escalation_delay(alert.clinic, alert.urgency))
        if moved != 1:
            return False
        steps, _ = escalation_chain(alert.clinic, now)
        if steps:
            _notify_step(alert, level=alert.level + 1, steps=steps, now=now)
        else:
            logger.critical("alert %s cannot escalate: clinic %s has nobody to notify",
                            alert.pk, alert.clinic_id)
    logger.warning("alert %s escalated to level %s", alert.pk, alert.level + 1)
    return True


# --- Acknowledging ----------------------------------------------------------------------------


def acknowledge(alert: Alert, *, by, now: datetime.datetime | None = None) -> bool:
    """Record that ``by`` has seen the alert: escalation stops and unsent notifications are
    cancelled.  Returns False when someone had already acknowledged it."""
    now = now or timezone.now()
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=by)
        if done:
            Notification.objects.filter(
                alert=alert, status=Notification.Status.PENDING
            ).update(status=Notification.Status.CANCELLED)
    alert.refresh_from_db()
    return bool(done)

