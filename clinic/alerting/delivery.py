"""Delivering an alert's notifications: the outbox's sending half (see ``clinic.alerting.alerts``
for the whole contract).

A notification is claimed with a conditional update that only one worker can win, for a lease
(``ALERT_CLAIM_SECONDS``); a ``DeliveryAttempt`` is written before sending and completed after;
after a failure it is retried with backoff, then on the person's next channel, then the alert
escalates.  Held (grouped) notifications go together, one digest per clinician.  The Celery tasks
at the end are thin wrappers taking ids; they live here, beside what they run, so that queueing
a delivery and running one need no import cycle.  Nothing here logs, queues or sends patient
data: only ids, the case reference and the urgency.
"""

import datetime
import hashlib
import itertools
import logging
import math
import uuid
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from clinic.alerting import links, wording
from clinic.alerting.transports import (
    TRANSPORTS,
    AlertMessage,
    DeliveryError,
    DigestCase,
    DigestMessage,
    Message,
)
from clinic.models import Alert, ChannelCheck, Clinician, DeliveryAttempt, Notification
from core.broker import broker_answers

logger = logging.getLogger(__name__)


def retry_delays() -> tuple[datetime.timedelta, ...]:
    """Backoff before retrying the same channel after a temporary failure, one a retry
    (``ALERT_RETRY_SECONDS``: 5 s, 20 s, 60 s); after the last, the next channel (or the next
    person) is tried."""
    return tuple(datetime.timedelta(seconds=seconds) for seconds in settings.ALERT_RETRY_SECONDS)


# --- Queueing ---------------------------------------------------------------------------------


def queue_delivery(notification_ids: list[int]) -> None:
    """Queue a delivery task per notification; called after commit."""
    _queue([(deliver_notification, pk, [pk], f"notification {pk}")
            for pk in notification_ids])


def queue_digests(held: dict[int, list[int]]) -> None:
    """Queue one digest task per clinician; ``held`` maps each clinician's id to the ids of
    their held notifications that are due (the task claims whatever is due when it runs)."""
    _queue([(deliver_digest_task, clinician_id, ids, f"the digest for clinician {clinician_id}")
            for clinician_id, ids in held.items()])


def _queue(jobs) -> None:
    """Queue each ``(task, argument, ids of the notifications it covers, what it is)``.  A
    broker that is down or hung is logged, not raised, and not waited for: the patient's
    request must not hang on it, and the sweep will queue the notifications again."""
    if jobs and not broker_answers():
        logger.warning("the broker does not answer; %s notification(s) left for the sweep",
                       sum(len(ids) for _, _, ids, _ in jobs))
        return
    done = 0
    try:
        for task, argument, _, _ in jobs:
            task.delay(argument)
            done += 1
    except Exception as error:  # the broker is down or unreachable
        logger.warning("could not queue %s (%s); the sweep will retry", jobs[done][3],
                       type(error).__name__)
    finally:
        queued = [pk for _, _, ids, _ in jobs[:done] for pk in ids]
        if queued:
            Notification.objects.filter(pk__in=queued).update(last_queued_at=timezone.now())


# --- Delivering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    delivered: bool = False
    claimed: bool = True


def claimable(now) -> Q:
    """Due, and nobody holds it: waiting and due, or claimed by a worker whose lease has run
    out (it died, or hung and was killed)."""
    return Q(status=Notification.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Notification.Status.SENDING, claimed_until__lt=now)


def _lease(now) -> datetime.datetime:
    return now + datetime.timedelta(seconds=settings.ALERT_CLAIM_SECONDS)


def deliver(notification_id: int, *, now: datetime.datetime | None = None) -> DeliveryOutcome:
    """Try to deliver one notification on its current channel.  Safe to run any number of
    times, concurrently: only the run that claims the notification sends.  A held (grouped)
    notification is never claimed here, only in its digest."""
    now = now or timezone.now()
    # Everything up to the moment of sending in one transaction, one commit: the claim, the
    # message with its acknowledgement link, the attempt on record.  Committed before anything
    # leaves this process, as a claim and an attempt must be.
    with transaction.atomic():
        claimed = Notification.objects.filter(claimable(now), pk=notification_id,
                                              grouped=False).update(
            status=Notification.Status.SENDING, claimed_until=_lease(now))
        if claimed != 1:
            return DeliveryOutcome(claimed=False)
        notification = Notification.objects.select_related(
            "clinician", "alert__submission", "alert__clinic").get(pk=notification_id)
        if not still_needed(notification):
            _finish([notification], status=Notification.Status.CANCELLED)
            return DeliveryOutcome()
        sending = _prepare([notification], _message(notification),
                           what=f"notification {notification.pk}")
    return DeliveryOutcome(delivered=_send(sending))


@dataclass(frozen=True)
class DigestOutcome:
    claimed: int = 0  # held notifications this run took
    delivered: int = 0  # of those, sent in a digest


def deliver_digest(clinician_id: int, *,
                   now: datetime.datetime | None = None) -> DigestOutcome:
    """Send one clinician's held notifications that are due, together, as one digest.  Safe to
    run any number of times, concurrently: one conditional update tags everything this run
    takes with its claim token, and only rows carrying the token are sent."""
    now = now or timezone.now()
    token = uuid.uuid4()
    with transaction.atomic():
        # Claims for one person one at a time, so a burst is never split between two runs.
        list(Clinician.objects.select_for_update(no_key=True).filter(pk=clinician_id)
             .values_list("pk", flat=True))
        claimed = Notification.objects.filter(
            claimable(now), clinician_id=clinician_id, grouped=True,
        ).update(status=Notification.Status.SENDING, claimed_until=_lease(now),
                 claim_token=token)
    if not claimed:
        return DigestOutcome()
    held = list(Notification.objects.filter(claim_token=token)
                .select_related("clinician", "alert__submission", "alert__clinic"))
    _finish([n for n in held if n.alert.is_acknowledged], status=Notification.Status.CANCELLED)
    waiting = sorted((n for n in held if not n.alert.is_acknowledged),
                     key=lambda n: (n.channel, n.channel_index, n.alert.created_at, n.pk))
    delivered = 0
    # Usually all are on the same step's first channel; after a failure some may have moved on
    # to the next, and each is sent on the channel it has reached.
    for _, on_channel in itertools.groupby(waiting, key=lambda n: (n.channel, n.channel_index)):
        on_channel = list(on_channel)
        with transaction.atomic():
            sending = _prepare(on_channel, _digest_message(on_channel, now), digest_token=token,
                               what=f"digest {token} ({len(on_channel)} notifications)")
        if _send(sending):
            delivered += len(on_channel)
    return DigestOutcome(claimed=claimed, delivered=delivered)


@dataclass(frozen=True)
class _Sending:
    """A message about to go to one person on one channel, its attempts on record."""

    notifications: list[Notification]
    message: Message
    channel: str
    address: str
    attempts: list[DeliveryAttempt]
    what: str


def _prepare(notifications: list[Notification], message: Message, *, what: str,
             digest_token: uuid.UUID | None = None) -> _Sending | None:
    """Record an attempt per claimed notification on the channel they have reached, before
    anything is sent; None when the person has no channel left (given up on)."""
    first = notifications[0]
    channels = first.route
    if first.channel_index >= len(channels):
        for notification in notifications:
            _give_up_on_person(notification, timezone.now())
        return None
    channel, address = channels[first.channel_index]
    attempts = DeliveryAttempt.objects.bulk_create(
        [DeliveryAttempt(notification=n, channel=channel, digest_token=digest_token)
         for n in notifications])
    return _Sending(notifications, message, channel, address, attempts, what)


def _send(sending: _Sending | None) -> bool:
    """Send the prepared message, then record its outcome per notification and move each on
    after a failure, in one transaction.  Returns whether the message was sent."""
    if sending is None:
        return False
    notifications, channel, what = sending.notifications, sending.channel, sending.what
    try:
        provider_id = TRANSPORTS[channel].send(sending.address, sending.message)
    except DeliveryError as error:
        with transaction.atomic():
            _record(sending.attempts, DeliveryAttempt.Outcome.PERMANENT_FAILURE
                    if error.permanent else DeliveryAttempt.Outcome.TEMPORARY_FAILURE,
                    str(error))
            logger.warning("%s: %s delivery failed (%s)", what, channel, error)
            now = timezone.now()
            moved_on = [n.pk for n in notifications
                        if _after_failure(n, permanent=error.permanent, now=now)]
            clinician_id = notifications[0].clinician_id
            if moved_on and notifications[0].grouped:
                transaction.on_commit(lambda: queue_digests({clinician_id: moved_on}))
            elif moved_on:
                transaction.on_commit(lambda: queue_delivery(moved_on))
        return False
    with transaction.atomic():
        _record(sending.attempts, DeliveryAttempt.Outcome.SENT, provider_id=provider_id or "")
        _finish(notifications, status=Notification.Status.DELIVERED,
                delivered_at=timezone.now())
    logger.info("%s delivered by %s for alert %s", what, channel,
                ", ".join(str(n.alert_id) for n in notifications))
    return True


def still_needed(notification: Notification) -> bool:
    """A page asks for an acknowledgement until there is one; a follow-up page asks for the
    call's outcome until one closes the alert."""
    alert = notification.alert
    if notification.is_follow_up:
        return not alert.is_resolved
    return not alert.is_acknowledged


def _message(notification: Notification) -> AlertMessage:
    alert = notification.alert
    deadline = wording.deadline_of(notification)
    return AlertMessage(
        notification_id=notification.pk, reference=alert.submission.reference,
        urgency=alert.urgency, link=_case_link(alert), level=notification.level,
        advice=wording.patient_told(alert), deadline=wording.local_deadline(alert, deadline),
        escalates_at=deadline.isoformat() if deadline else "", reason=notification.reason,
        # Already acknowledged: a follow-up asks for the outcome, on the case page.
        acknowledge_link="" if notification.is_follow_up
        else links.make_link(alert, notification=notification))


def _digest_message(notifications: list[Notification], now) -> DigestMessage:
    ids = ",".join(str(pk) for pk in sorted(n.pk for n in notifications))
    # The same notifications sent again (after a crash) make the same key.
    key = "alert-digest-" + hashlib.sha256(ids.encode()).hexdigest()[:24]
    oldest = min(n.alert.created_at for n in notifications)
    # "in the last M minutes": the window, or longer when retries made it so.
    minutes = max(1, math.ceil(settings.ALERT_GROUP_MINUTES),
                  math.ceil((now - oldest).total_seconds() / 60))
    return DigestMessage(
        key=key, minutes=minutes, queue_link=links.site_link(reverse("queue")),
        cases=tuple(DigestCase(
            n.alert.submission.reference, _case_link(n.alert),
            advice=wording.patient_told(n.alert),
            deadline=wording.local_deadline(n.alert, n.alert.escalate_at),
            escalates_at=n.alert.escalate_at.isoformat(),
            acknowledge_link=links.make_link(n.alert, notification=n)) for n in notifications),
    )


def _case_link(alert: Alert) -> str:
    return links.site_link(reverse("case-detail", args=[alert.submission.reference]))


def _record(attempts: list[DeliveryAttempt], outcome: str, error: str = "",
            **fields) -> None:
    DeliveryAttempt.objects.filter(pk__in=[a.pk for a in attempts]).update(
        outcome=outcome, error=error[:500], finished_at=timezone.now(), **fields)


def _finish(notifications: list[Notification], **fields) -> None:
    if notifications:
        Notification.objects.filter(pk__in=[n.pk for n in notifications]).update(
            claimed_until=None, **fields)


def _after_failure(notification: Notification, *, permanent: bool, now) -> bool:
    """Set the notification up for its next try after a failed one; True when that is on the
    person's next channel, at once (the caller queues it)."""
    tries = notification.tries_on_channel + 1
    delays = retry_delays()
    if not permanent and tries <= len(delays):
        _finish([notification], status=Notification.Status.PENDING, tries_on_channel=tries,
                next_attempt_at=now + delays[tries - 1])
        return False
    # This channel is done with: fall back to the person's next channel, at once.
    next_channel = notification.channel_index + 1
    if next_channel < len(notification.route):
        _finish([notification], status=Notification.Status.PENDING, channel_index=next_channel,
                tries_on_channel=0, next_attempt_at=now)
        return True
    _give_up_on_person(notification, now)
    return False


def _give_up_on_person(notification: Notification, now) -> None:
    """Every channel of this person failed: mark it, and escalate the alert now rather than
    wait for its escalation time."""
    _finish([notification], status=Notification.Status.FAILED)
    logger.error("notification %s failed on every channel; escalating alert %s now",
                 notification.pk, notification.alert_id)
    Alert.objects.filter(pk=notification.alert_id, acknowledged_at__isnull=True,
                         level=notification.level).update(escalate_at=now)
    if notification.is_follow_up:
        # A follow-up that reached nobody: the next follow-up (an escalation) is due now.
        Alert.objects.filter(pk=notification.alert_id, resolved_at__isnull=True,
                             follow_up_at__isnull=False, level=notification.level).update(
            follow_up_at=now)


# --- Delivery receipts ------------------------------------------------------------------------

RECEIPT_FAILED = frozenset({"failed", "undelivered"})
RECEIPT_DELIVERED = "delivered"


@dataclass(frozen=True)
class ReceiptOutcome:
    matched: int = 0  # attempts and test pages the receipt is about
    moved_on: int = 0  # notifications that fell back to the next channel because of it


def record_sms_receipt(*, provider_id: str, status: str, error_code: str = "", to: str = "",
                       now: datetime.datetime | None = None) -> ReceiptOutcome:
    """Record the provider's delivery receipt for the text message ``provider_id`` on the
    attempts (and test pages) that sent it.  ``delivered`` verifies the number it went to
    (``to``, while it is still the clinician's).  ``failed`` or ``undelivered`` turns a sent
    attempt into a permanent failure and moves its notification on to the person's next
    channel (or escalates), as a failed send would, unless the alert has been acknowledged.
    Safe to run again, and for receipts arriving out of order: each attempt turns from sent to
    failed once (a conditional update), and a notification moves on only while its latest try
    is that text."""
    now = now or timezone.now()
    failed = status in RECEIPT_FAILED
    error = f"receipt: {status}" + (f" (error {error_code})" if error_code else "")
    with transaction.atomic():
        attempts = DeliveryAttempt.objects.filter(provider_id=provider_id, channel="sms")
        checks = ChannelCheck.objects.filter(provider_id=provider_id, channel="sms")
        matched = (attempts.update(receipt=status, receipt_at=now)
                   + checks.update(receipt=status, receipt_at=now))
        clinician_ids = (set(attempts.values_list("notification__clinician_id", flat=True))
                         | set(checks.values_list("clinician_id", flat=True)))
        if status == RECEIPT_DELIVERED and to:
            Clinician.objects.filter(pk__in=clinician_ids, phone=to).update(
                verified_phone=to, phone_verified_at=now)
        if not failed:
            return ReceiptOutcome(matched=matched)
        sent = DeliveryAttempt.Outcome.SENT
        checks.filter(outcome=sent).update(
            outcome=DeliveryAttempt.Outcome.PERMANENT_FAILURE, error=error)
        turned = list(attempts.filter(outcome=sent).select_for_update()
                      .values_list("pk", "notification_id"))
        DeliveryAttempt.objects.filter(pk__in=[pk for pk, _ in turned]).update(
            outcome=DeliveryAttempt.Outcome.PERMANENT_FAILURE, error=error)
        moved_on = _fall_back_after_receipt(turned, now)
    logger.warning("text message receipt %s for %s attempt(s): %s", status, len(turned),
                   error)
    return ReceiptOutcome(matched=matched, moved_on=moved_on)


def _fall_back_after_receipt(turned: list[tuple[int, int]], now) -> int:
    """Move on the notifications whose latest try is one of the ``(attempt, notification)``
    pairs just turned failed and that were taken as delivered, as after a permanent failure;
    queue what is due after the commit.  Runs in the receipt's transaction, with the
    notifications locked."""
    latest = {}
    for notification_id, pk in (DeliveryAttempt.objects
                                .filter(notification_id__in=[n for _, n in turned])
                                .order_by("started_at", "pk")
                                .values_list("notification_id", "pk")):
        latest[notification_id] = pk  # the last one wins
    ids = [notification_id for pk, notification_id in turned
           if latest.get(notification_id) == pk]
    notifications = [notification for notification in Notification.objects
                     .select_for_update(of=("self",))
                     .filter(pk__in=ids, status=Notification.Status.DELIVERED)
                     .select_related("clinician", "alert")
                     if still_needed(notification)]
    _finish(notifications, delivered_at=None)
    singles, held = [], {}
    for notification in notifications:
        if _after_failure(notification, permanent=True, now=now):
            if notification.grouped:
                held.setdefault(notification.clinician_id, []).append(notification.pk)
            else:
                singles.append(notification.pk)
    if singles:
        transaction.on_commit(lambda: queue_delivery(singles))
    if held:
        transaction.on_commit(lambda: queue_digests(held))
    return len(notifications)


# --- Tasks ------------------------------------------------------------------------------------
# Each is safe to run twice (the work is claimed with a conditional update) and is queued only
# after the transaction that made the work commits.


@shared_task(name="clinic.deliver_notification", ignore_result=True)
def deliver_notification(notification_id: int) -> None:
    deliver(notification_id)


@shared_task(name="clinic.deliver_digest", ignore_result=True)
def deliver_digest_task(clinician_id: int) -> None:
    deliver_digest(clinician_id)
