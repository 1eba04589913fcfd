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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
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
from core.db import prepared_cursor

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
            _mark_queued(queued, timezone.now())


def _mark_queued(ids: list[int], now: datetime.datetime) -> None:
    """Note when the notifications ``ids`` were queued (so the sweep does not queue them again
    before their lease), but not one a worker has claimed meanwhile: its claim holds the row
    until the claim commits, after the message is prepared, and it makes the mark moot.
    Waiting for it held the patient's answer, after an emergency, until the worker's claim had
    committed (seen under load as row-lock waits of this UPDATE).  PostgreSQL: a locked row is
    skipped, not waited for; SQLite has no row locks."""
    if connection.vendor != "postgresql":
        Notification.objects.filter(pk__in=ids).update(last_queued_at=now)
        return
    quote = connection.ops.quote_name
    table, pk = quote(Notification._meta.db_table), quote(Notification._meta.pk.column)
    column = quote(Notification._meta.get_field("last_queued_at").column)
    with prepared_cursor(connection) as cursor:
        # Names from the model's own metadata, every value a parameter.
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE {pk} IN "  # noqa: S608
            f"(SELECT {pk} FROM {table} WHERE {pk} = ANY(%s) FOR UPDATE SKIP LOCKED)",
            [now, ids])


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


# How many due notifications one run of the delivery task takes at most.  In a burst (fifty
# emergencies at once, each paging by text and email), a run takes the single notifications
# already due alongside its own: their claims and attempts go in one commit, their messages go
# out at the same time instead of one after another, and their outcomes in one more commit; the
# tasks queued for the others then find nothing left to claim.  The messages go in parallel,
# each bounded by the transports' timeout, well within the claim's lease.
BATCH = 10


def deliver(notification_id: int, *, now: datetime.datetime | None = None) -> DeliveryOutcome:
    """Try to deliver one notification on its current channel, and nothing else.  Safe to run
    any number of times, concurrently: only the run that claims the notification sends.  A held
    (grouped) notification is never claimed here, only in its digest."""
    return _deliver(notification_id, now=now, limit=1)


def deliver_due(notification_id: int, *,
                now: datetime.datetime | None = None) -> DeliveryOutcome:
    """What the delivery task runs: ``deliver`` for this notification, and with it up to
    ``BATCH - 1`` other single notifications that are due (oldest first).  The outcome is this
    notification's: not claimed when another run has it already."""
    return _deliver(notification_id, now=now, limit=BATCH)


def _deliver(notification_id: int, *, now, limit: int) -> DeliveryOutcome:
    now = now or timezone.now()
    # Everything up to the moment of sending in one transaction, one commit: the claims, the
    # messages with their acknowledgement links, the attempts on record.  Committed before
    # anything leaves this process, as a claim and an attempt must be.
    with transaction.atomic():
        claimed = _claim_singles(notification_id, now, limit=limit)
        needed, cancelled = [], []
        for notification in claimed:
            (needed if still_needed(notification) else cancelled).append(notification)
        _finish(cancelled, status=Notification.Status.CANCELLED)
        sendings = _prepare([([n], _message(n), f"notification {n.pk}") for n in needed])
    sent = _send(sendings)
    if not any(n.pk == notification_id for n in claimed):
        return DeliveryOutcome(claimed=False)
    return DeliveryOutcome(delivered=any(
        n.pk == notification_id for s in sent for n in s.notifications))


def _claim_singles(notification_id: int, now, *, limit: int) -> list[Notification]:
    """Claim ``notification_id`` if it can be claimed, and up to ``limit - 1`` more single
    notifications that are due, oldest first; returns those claimed, with what their messages
    need."""
    token = uuid.uuid4()
    claim = {"status": Notification.Status.SENDING, "claimed_until": _lease(now),
             "claim_token": token}
    singles = Notification.objects.filter(claimable(now), grouped=False)
    # Its own first, waiting for a row lock held by anyone else (a claim, or the short update
    # after queueing), as a conditional update does: only one run can win it.
    claimed = singles.filter(pk=notification_id).update(**claim)
    others = []
    if limit > 1:
        # Then the others, skipping rows locked now: a run waits only for its own, before it
        # holds any row, so two runs can never wait for each other in a circle.  A row skipped
        # here is its own task's to claim.
        others = list(singles.exclude(pk=notification_id).select_for_update(skip_locked=True)
                      .order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit - 1])
        if others:
            # The condition again, for databases without row locks (SQLite), where only the
            # rows this update finds claimable carry the token.
            claimed += singles.filter(pk__in=others).update(**claim)
    if not claimed:
        return []
    return list(Notification.objects.filter(pk__in=[notification_id, *others], claim_token=token)
                .order_by("pk").select_related("clinician", "alert__submission", "alert__clinic"))


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
            sendings = _prepare([(on_channel, _digest_message(on_channel, now),
                                  f"digest {token} ({len(on_channel)} notifications)")],
                                digest_token=token)
        if _send(sendings):
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


def _prepare(messages: list[tuple[list[Notification], Message, str]], *,
             digest_token: uuid.UUID | None = None) -> list[_Sending]:
    """For each ``(claimed notifications, the message for them, what it is)``: record an
    attempt per notification on the channel they have reached, before anything is sent (one
    insert for all); a person with no channel left is given up on, and has no sending."""
    sendings = []
    for notifications, message, what in messages:
        first = notifications[0]
        channels = first.route
        if first.channel_index >= len(channels):
            for notification in notifications:
                _give_up_on_person(notification, timezone.now())
            continue
        channel, address = channels[first.channel_index]
        attempts = [DeliveryAttempt(notification=n, channel=channel, digest_token=digest_token)
                    for n in notifications]
        sendings.append(_Sending(notifications, message, channel, address, attempts, what))
    DeliveryAttempt.objects.bulk_create([a for s in sendings for a in s.attempts])
    return sendings


def _send(sendings: list[_Sending]) -> list[_Sending]:
    """Send the prepared messages, at the same time when there are several, then record their
    outcomes and move each failed notification on, in one transaction.  Returns those sent.

    A crash between sending and recording leaves the attempts without an outcome and the
    notifications claimed: after the lease the sweep queues them again, and they are sent again
    with the same key (the module docstring of ``clinic.alerting.alerts``)."""
    if not sendings:
        return []
    results = _transmit(sendings)
    now = timezone.now()
    sent, moved_on, held = [], [], {}
    with transaction.atomic():
        for sending, result in zip(sendings, results, strict=True):
            if isinstance(result, DeliveryError):
                _record(sending.attempts, DeliveryAttempt.Outcome.PERMANENT_FAILURE
                        if result.permanent else DeliveryAttempt.Outcome.TEMPORARY_FAILURE,
                        str(result))
                logger.warning("%s: %s delivery failed (%s)", sending.what, sending.channel,
                               result)
                for notification in sending.notifications:
                    if _after_failure(notification, permanent=result.permanent, now=now):
                        if notification.grouped:
                            held.setdefault(notification.clinician_id, []).append(
                                notification.pk)
                        else:
                            moved_on.append(notification.pk)
            elif not isinstance(result, BaseException):
                for attempt in sending.attempts:
                    attempt.outcome, attempt.finished_at = DeliveryAttempt.Outcome.SENT, now
                    attempt.provider_id = result or ""
                sent.append(sending)
        DeliveryAttempt.objects.bulk_update(
            [a for s in sent for a in s.attempts], ["outcome", "finished_at", "provider_id"])
        _finish([n for s in sent for n in s.notifications],
                status=Notification.Status.DELIVERED, delivered_at=now)
        if moved_on:
            transaction.on_commit(lambda: queue_delivery(moved_on))
        if held:
            transaction.on_commit(lambda: queue_digests(held))
    for sending in sent:
        logger.info("%s delivered by %s for alert %s", sending.what, sending.channel,
                    ", ".join(str(n.alert_id) for n in sending.notifications))
    # A transport that failed in a way it does not know: its attempts stay without an outcome
    # and its notifications claimed, so the sweep tries them again after the lease; the others'
    # outcomes are on record.  The error is the task's.
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, DeliveryError):
            raise result
    return sent


def _transmit(sendings: list[_Sending]) -> list[str | BaseException | None]:
    """Each sending's transport's answer (the provider's id for the message, or the error), in
    order; several are sent at once, one thread each (the transports touch no database)."""
    def send(sending: _Sending) -> str | BaseException | None:
        try:
            return TRANSPORTS[sending.channel].send(sending.address, sending.message)
        except Exception as error:
            return error

    if len(sendings) == 1:
        return [send(sendings[0])]
    with ThreadPoolExecutor(max_workers=len(sendings)) as pool:
        return list(pool.map(send, sendings))


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
    deliver_due(notification_id)


@shared_task(name="clinic.deliver_digest", ignore_result=True)
def deliver_digest_task(clinician_id: int) -> None:
    deliver_digest(clinician_id)
