"""Alerting the duty clinician: raising an alert, delivering its notifications, escalating it,
and acknowledging it.

How an alert is never lost and never sent twice
-----------------------------------------------
1. ``new_alert`` makes the ``Alert`` and its first ``Notification`` rows, which are written
   with the submission, in the same statement (an outbox).  If the submission is not stored,
   neither is the alert.
2. After the commit, a task is queued with only the notification's id (``queue_delivery``).
   If the broker is down the queuing fails quietly: the rows are already safe.
3. ``deliver_notification`` claims the notification with a conditional update that only one
   worker can win, for a lease (``ALERT_CLAIM_SECONDS``), writes a ``DeliveryAttempt`` before
   sending and completes it after.  A second run of the same task finds nothing to claim.  A
   run takes the other single notifications already due with its own (up to
   ``delivery.BATCH``, rows another run is claiming skipped), so in a burst their claims and
   attempts share one commit, their messages go out at once and their outcomes share another
   commit; the tasks queued for them then find nothing left.
4. ``sweep`` (Celery beat, every few seconds) re-queues whatever is due: notifications not yet
   sent, retries whose backoff has passed, and claims whose lease ran out because a worker died.
   It also escalates unacknowledged alerts whose ``escalate_at`` has passed.
5. The database holds all the state, so a Redis outage, a crashed web process or a lost message
   only delays an alert.

The one case where a message can go twice: a worker that dies after the mail server accepted a
message but before it recorded so (in a batch, every message of the run that had gone).  Sending
again is the safe side of that choice; the Message-ID (and the webhook's Idempotency-Key) is the
same both times so receivers can de-duplicate.

How a burst of urgent alerts pages a clinician twice, not N times
-----------------------------------------------------------------
A flood of urgent intakes (or a flooding client) must not bury the duty clinician in pages, and
grouping must never slow the first page of anything.  So, per clinician:

- **Emergencies are never grouped or held**, and do not count towards a burst: every emergency
  pages at once.  **Escalations are never grouped** either (only level 0 is): an alert that
  nobody acknowledged reaches the next person on its own schedule.
- The first urgent alert for a clinician pages them at once and **opens a burst**: a window of
  ``ALERT_GROUP_MINUTES`` (default 10) from that page's creation.  An urgent alert for them that
  arrives while the window is open is **held**: its notification is written ``grouped``, due at
  the window's end.  (``_held_until`` decides, under a lock on the clinician's row, so two
  intakes committing at once cannot both open a burst; a concurrent intake waits until the other
  commits and then sees its page.  The lock is ``FOR NO KEY UPDATE``, which inserting a
  notification for the same person does not wait for: emergencies never queue behind it.)
- At the window's end the sweep queues one ``deliver_digest`` per clinician, which sends every
  held notification of theirs that is due as **one digest** ("4 more urgent cases in the last
  10 minutes: REF1, ...", each case's link and the queue's; no patient data).
- An urgent alert after the window has ended opens a new burst: it pages at once.  So does one
  after a first page that failed on every channel (it reached nobody).
- An alert is never held past its own escalation time: when the window would end after it (a
  window longer than the clinic's ``urgent_escalation_minutes``), it pages at once.
- Acknowledging an alert cancels its held notification, as it cancels any unsent one; the digest
  leaves it out.  Each held alert still escalates at its own ``escalate_at``.

A digest keeps the outbox's promises.  ``deliver_digest`` claims every due held notification of
the clinician with **one conditional update** that tags them with a fresh claim token and a
lease (after taking the clinician's row lock, so two runs never split one burst between them),
then sends one message covering exactly the rows carrying that token.  It writes **one
``DeliveryAttempt`` per notification** before sending, all with the claim token as their
``digest_token``, and completes them together: each notification keeps its own history (the
admin, the health check and retries work per notification as before) and the shared token says
which notifications travelled in one message.  A worker that dies mid-send leaves the rows
``sending`` with attempts without an outcome; after the lease the sweep queues the digest again
and a new claim takes them.  The digest's Message-ID (and Idempotency-Key) is derived from the
notifications it covers, so the same digest sent again after a crash carries the same one.
After a failure each notification retries and falls back to the next channel as a single one
does, and stays held: the next digest picks it up.  A notification is claimed either as a single
(``deliver``, ``grouped`` false) or in a digest (``grouped`` true), never both ways.

Acknowledged is not resolved
----------------------------
Acknowledging stops the escalation, but the patient still needs the call.  The clinician records
what came of it (``record_outcome``: advised A&E / 999, booked today, self-care, or no answer).
Any outcome but "no answer" resolves the alert.  Until one does, the alert has a
``follow_up_at``: ``ALERT_RESOLVE_MINUTES`` after the acknowledgement (or after the last "no
answer", which starts the clock again for another try).  When it passes, the sweep follows the
alert up (``follow_up``): the first time it pages the clinician who is calling again (whoever
acknowledged it, or recorded the last "no answer"), and each period after that it escalates to
the next step of the frozen plan, round again, until an outcome is recorded.  Each follow-up is
claimed with one conditional update on the alert (its ``follow_up_at``, ``follow_ups`` and
``level`` as they were), so two sweeps make it once, and is sent through the outbox like any
page (``Notification.reason`` says which kind it is; a clinician paged again at the same level
gets a new ``sequence``).  A follow-up page is needed until the alert is resolved (not merely
acknowledged): recording a closing outcome cancels any still unsent.

Sending a failed notification again (the admin's "Send again", ``send_again``) puts it back to
waiting on the person's first channel with one conditional update from ``failed``, so a double
click sends it once; the audit trail says who did it, and its attempts show the new tries.

Nothing here logs, queues or sends patient data: only ids, the case reference and the urgency.
"""

import datetime
import functools
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from clinic import audit
from clinic.alerting.delivery import claimable, queue_delivery, queue_digests, still_needed
from clinic.alerting.rules import notification_plans
from clinic.models import (
    FOLLOW_UP_REASONS,
    Alert,
    AuditEvent,
    CallOutcome,
    Clinic,
    Clinician,
    Heartbeat,
    Notification,
)
from clinic.rota import escalation_chain
from core.db import CompiledRead, New, Rows, insert_rows
from core.errors import Conflict, Invalid
from intake.models import Submission
from screening.urgency import PAGING, Urgency

logger = logging.getLogger(__name__)


SWEEP_HEARTBEAT = "alert-sweep"


def escalation_delay(clinic: Clinic, urgency: str) -> datetime.timedelta:
    minutes = (clinic.emergency_escalation_minutes if urgency == Urgency.EMERGENCY
               else clinic.urgent_escalation_minutes)
    return datetime.timedelta(minutes=minutes)


def resolve_delay() -> datetime.timedelta:
    """How long after an acknowledgement (or a "no answer") a call outcome is awaited before the
    sweep follows the alert up."""
    return datetime.timedelta(minutes=settings.ALERT_RESOLVE_MINUTES)


def group_window() -> datetime.timedelta:
    """How long a burst of urgent alerts for one clinician stays open (0: no grouping)."""
    return datetime.timedelta(minutes=settings.ALERT_GROUP_MINUTES)


# --- Raising ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewAlert:
    """The alert of a submission that is being stored, with its first notifications: for
    ``core.db.insert_new`` to write with the submission (``to_store``), in one statement, and
    for ``stored`` to queue once they are written."""

    alert: Alert
    notifications: Rows
    now: datetime.datetime

    def to_store(self) -> New:
        return New(self.alert, "submission", (self.notifications,))

    def stored(self) -> None:
        """Queue the notifications due now when the transaction commits (at once outside
        one): held ones wait for the sweep to queue their digest when their window ends, and
        delayed steps for the sweep to find them due."""
        due = _due_now(self.notifications.rows, self.notifications.written, self.now)
        transaction.on_commit(lambda: queue_delivery(due))


def new_alert(submission, *, now: datetime.datetime) -> NewAlert | None:
    """The alert for an urgent or emergency submission, not yet stored, with its first step's
    notifications; None for a submission that needs no alert.  For an urgent one, whether
    each person paged is in the middle of a burst (their notification then held for their
    digest) is decided under a lock on their rows (``_held_until``): it must be called in the
    transaction that stores it (``needs_transaction`` says when)."""
    if submission.urgency not in PAGING:
        return None
    clinic = submission.clinic
    steps, closed = escalation_chain(clinic, now)
    alert = Alert(
        submission=submission, clinic=clinic, urgency=submission.urgency, out_of_hours=closed,
        created_at=now, escalate_at=now + escalation_delay(clinic, submission.urgency),
        escalation_plan=[[{"clinician": c.pk, "name": c.name} for c in step] for step in steps],
    )
    rows = _notification_rows(alert, level=0, steps=steps, now=now) if steps else []
    if not steps:
        logger.critical("an alert for %s has nobody to notify: the clinic %s has no duty "
                        "rota, out-of-hours or backup contacts", submission.reference, clinic.pk)
    return NewAlert(alert, Rows(Notification, "alert", _NOTIFICATION_COLUMNS[1:], rows,
                                returning=("id", "clinician", "step")), now)


def needs_transaction(urgency: str) -> bool:
    """Whether an alert of ``urgency`` is raised under the burst lock (``_held_until``: an
    urgent one, while grouping is on), which its transaction holds until the alert is stored;
    any other is one statement with its submission and needs no transaction."""
    return urgency == Urgency.URGENT and bool(group_window())


def _notify_step(alert: Alert, *, level: int, steps, now,
                 reason: str = Notification.Reason.PAGE) -> None:
    """Notify one escalation step's people of a stored alert: a notification per step of each
    one's plan (``clinic.alerting.rules``), the ones due now queued after the commit."""
    rows = _notification_rows(alert, level=level, steps=steps, now=now, reason=reason)
    # A step is notified once, whoever gets there first: a row that is there already is
    # skipped, and the insert says which rows it wrote.
    written = insert_rows(Notification, _NOTIFICATION_COLUMNS,
                          [(alert.pk, *row) for row in rows],
                          ignore_conflicts=True, returning=("id", "clinician", "step"))
    if len(written) == len(rows):
        # Rows at a level are written only here, by the one transaction that moved the alert
        # to it (a conditional update): all new, they are all there is.
        due = _due_now(rows, written, now)
    else:
        # Someone was there first: queue whatever of this level is still waiting.
        due = [n.pk for n in Notification.objects.filter(
            alert=alert, level=level, status=Notification.Status.PENDING)
            if not n.grouped and n.next_attempt_at <= now]
    # Held ones wait for the sweep to queue their digest when their window ends, and delayed
    # steps for the sweep to find them due.
    transaction.on_commit(lambda: queue_delivery(due))


def _notification_rows(alert: Alert, *, level: int, steps, now,
                       reason: str = Notification.Reason.PAGE) -> list[tuple]:
    """The notifications of one escalation step's people, as rows of
    ``_NOTIFICATION_COLUMNS`` without the alert: one per step of each one's plan, the first
    step of an urgent page held for the person's digest if they are in the middle of a
    burst."""
    recipients = steps[level % len(steps)]
    held_until = _held_until(alert, recipients, now) if level == 0 else {}
    plans = notification_plans(recipients, alert.urgency)
    defaults = tuple(field.get_default() for field in _NOTIFICATION_DEFAULTED)
    return [(c.pk, level, index, step.channel, now, held_until.get(c.pk, now) + step.delay,
             c.pk in held_until, reason, *defaults)
            for c in recipients for index, step in enumerate(plans[c.pk])]


def _due_now(rows: list[tuple], written: list[tuple], now) -> list[int]:
    """The ids of the notifications of ``rows`` (``_notification_rows``'s) to queue now: not
    held, and due; ``written`` is what their INSERT returned, ``(id, clinician, step)``."""
    ids = {(clinician, step): pk for pk, clinician, step in written}
    return sorted(ids[clinician, step] for clinician, _, step, _, _, at, grouped, *_ in rows
                  if not grouped and at <= now)


# What a notification is written with: the fields ``_notification_rows`` sets, then every other
# one at its default.
_NOTIFICATION_SET = ("alert", "clinician", "level", "step", "channel", "created_at",
                     "next_attempt_at", "grouped", "reason")
_NOTIFICATION_DEFAULTED = tuple(field for field in Notification._meta.concrete_fields
                                if not field.primary_key and field.name not in _NOTIFICATION_SET)
_NOTIFICATION_COLUMNS = (*_NOTIFICATION_SET, *(f.name for f in _NOTIFICATION_DEFAULTED))


def _held_until(alert: Alert, clinicians, now) -> dict[int, datetime.datetime]:
    """For each of ``clinicians`` in the middle of a burst, when the urgent ``alert`` raised at
    ``now`` is due in their digest: the end of the window opened by their latest urgent first
    page.  Clinicians missing from the answer are paged at once."""
    if not needs_transaction(alert.urgency):  # nothing is held: no lock to take
        return {}
    window = group_window()
    ids = sorted(c.pk for c in clinicians)
    lock, first_pages = _burst_reads(len(ids))
    # One decision per clinician at a time, held until this transaction commits (see the module
    # docstring); locked in the order of their ids, so two intakes cannot deadlock.
    lock.rows(*ids)
    # Their latest first pages in the window: a separate statement, so that it sees what an
    # intake that held a lock committed while this one waited for it.
    latest = first_pages.rows(*ids, now - window, now)
    return {clinician_id: opened_at + window for clinician_id, opened_at in latest
            # Never hold an alert past the time it would escalate.
            if opened_at + window <= alert.escalate_at}


@functools.cache
def _burst_reads(people: int) -> tuple[CompiledRead, CompiledRead]:
    """``_held_until``'s two reads for a step of ``people`` clinicians (their ids in order,
    then the window's start and end), compiled once per process: the lock on their rows, and
    each one's latest urgent first page in the window."""
    ids = (int,) * people

    def first_pages(*arguments):
        pks, (since, until) = arguments[:people], arguments[people:]
        return (
            Notification.objects.filter(clinician_id__in=pks, level=0, step=0, grouped=False,
                                        alert__urgency=Urgency.URGENT, created_at__gt=since,
                                        created_at__lte=until)
            # A page that failed on every channel reached nobody: the next one tries at once.
            .exclude(status=Notification.Status.FAILED)
            .order_by().values_list("clinician_id").annotate(opened_at=Max("created_at")))

    return (CompiledRead(lambda *pks: Clinician.objects.select_for_update(no_key=True)
                         .filter(pk__in=pks).order_by("pk").values_list("pk"), arguments=ids,
                         prepared=True),
            CompiledRead(first_pages, arguments=(*ids, datetime.datetime, datetime.datetime),
                         prepared=True))


# --- Sweeping and escalating ------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    queued: int  # notifications queued, on their own or in a digest
    escalated: int
    digests: int = 0  # digest tasks queued (one per clinician)
    followed_up: int = 0  # acknowledged alerts with no outcome, paged again or escalated


def sweep(*, now: datetime.datetime | None = None) -> SweepReport:
    """Queue every notification that is due (held ones as one digest per clinician), escalate
    every overdue alert, and follow up every acknowledged alert whose call outcome is overdue.
    Run by Celery beat every ALERT_SWEEP_SECONDS; safe to run concurrently and repeatedly."""
    now = now or timezone.now()
    escalated = sum(1 for alert_id in _overdue_alert_ids(now) if escalate(alert_id, now=now))
    followed_up = sum(1 for alert_id in _follow_ups_due(now) if follow_up(alert_id, now=now))
    # Re-queue what is due and has not been queued in the last lease period, so a slow worker
    # does not get the same id queued every few seconds.
    stale = now - datetime.timedelta(seconds=settings.ALERT_CLAIM_SECONDS)
    due = list(
        Notification.objects.filter(claimable(now))
        .filter(Q(last_queued_at__isnull=True) | Q(last_queued_at__lt=stale)
                | Q(last_queued_at__lt=F("next_attempt_at")))
        .values_list("pk", "clinician_id", "grouped")[:500]
    )
    queue_delivery([pk for pk, _, grouped in due if not grouped])
    held: dict[int, list[int]] = {}
    for pk, clinician_id, grouped in due:
        if grouped:
            held.setdefault(clinician_id, []).append(pk)
    queue_digests(held)
    Heartbeat.objects.update_or_create(name=SWEEP_HEARTBEAT, defaults={"last_run_at": now})
    return SweepReport(queued=len(due), escalated=escalated, digests=len(held),
                       followed_up=followed_up)


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
        steps = _planned_steps(alert, now)
        if steps:
            _notify_step(alert, level=alert.level + 1, steps=steps, now=now,
                         reason=Notification.Reason.ESCALATION)
        else:
            logger.critical("alert %s cannot escalate: clinic %s has nobody to notify",
                            alert.pk, alert.clinic_id)
    logger.warning("alert %s escalated to level %s", alert.pk, alert.level + 1)
    return True


def _planned_steps(alert: Alert, now) -> list[list[Clinician]]:
    """The steps of the plan frozen on the alert when it was raised (as Grafana OnCall's
    escalation snapshot does), so who is paged at level N never depends on when the sweep ran
    or on rota edits since.  A clinician deactivated since is left out; an alert raised before
    plans were kept, or whose plan has nobody left, follows the rota as it is now, so an alert
    is never left with nobody to page."""
    planned = [[person["clinician"] for person in step] for step in alert.escalation_plan]
    active = {c.pk: c for c in Clinician.objects.filter(
        pk__in=[pk for step in planned for pk in step], is_active=True)}
    steps = [[active[pk] for pk in step if pk in active] for step in planned]
    steps = [step for step in steps if step]
    if steps:
        return steps
    return escalation_chain(alert.clinic, now)[0]


# --- Acknowledging ----------------------------------------------------------------------------


def acknowledge(alert: Alert, *, by, now: datetime.datetime | None = None) -> bool:
    """Record that ``by`` has seen the alert: escalation stops and unsent notifications (held
    ones included: the digest leaves them out) are cancelled.  Returns False when someone had
    already acknowledged it."""
    now = now or timezone.now()
    with transaction.atomic():
        done = Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now, acknowledged_by=by, follow_ups=0,
            # Acknowledged is not resolved: the call's outcome is awaited from now.
            follow_up_at=None if alert.resolved_at else now + resolve_delay())
        if done:
            Notification.objects.filter(
                alert=alert, status=Notification.Status.PENDING
            ).update(status=Notification.Status.CANCELLED)
            # The queue's row now says who acknowledged it.
            Submission.objects.filter(pk=alert.submission_id).update(changed_at=now)
    alert.refresh_from_db()
    return bool(done)



# --- Following up: acknowledged, but no call outcome -------------------------------------------


def _follow_ups_due(now) -> list[int]:
    return list(Alert.objects.filter(follow_up_at__lte=now, resolved_at__isnull=True)
                .values_list("pk", flat=True)[:500])


def follow_up(alert_id: int, *, now: datetime.datetime | None = None) -> bool:
    """Follow up an acknowledged alert whose call outcome is overdue: page the clinician who is
    calling again the first time, escalate to the next step of the plan after that (see the
    module docstring).  The conditional update means two sweeps follow it up once."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = Alert.objects.select_related("clinic").get(pk=alert_id)
        if alert.follow_up_at is None or alert.follow_up_at > now or alert.is_resolved:
            return False
        caller = _caller(alert) if alert.follow_ups == 0 else None
        level = alert.level if caller is not None else alert.level + 1
        moved = Alert.objects.filter(
            pk=alert.pk, follow_up_at=alert.follow_up_at, follow_ups=alert.follow_ups,
            level=alert.level, resolved_at__isnull=True,
        ).update(follow_ups=alert.follow_ups + 1, follow_up_at=now + resolve_delay(),
                 level=level)
        if moved != 1:
            return False
        if caller is not None:
            sequence = Notification.objects.filter(
                alert=alert, reason=Notification.Reason.FOLLOW_UP).count() + 1
            notification = Notification.objects.create(
                alert=alert, clinician=caller, level=level, reason=Notification.Reason.FOLLOW_UP,
                sequence=sequence, created_at=now, next_attempt_at=now)
            transaction.on_commit(lambda: queue_delivery([notification.pk]))
        else:
            steps = _planned_steps(alert, now)
            if steps:
                _notify_step(alert, level=level, steps=steps, now=now,
                             reason=Notification.Reason.FOLLOW_UP_ESCALATION)
            else:
                logger.critical("alert %s cannot be followed up: clinic %s has nobody to "
                                "notify", alert.pk, alert.clinic_id)
    logger.warning("alert %s has no call outcome: %s", alert.pk,
                   "paged again" if caller is not None else f"escalated to level {level}")
    return True


def _caller(alert: Alert) -> Clinician | None:
    """Who is calling the patient: whoever recorded the last "no answer", else whoever
    acknowledged the alert, if they are an active clinician who can be paged."""
    last_try = (CallOutcome.objects.filter(alert=alert, outcome=CallOutcome.Outcome.NO_ANSWER)
                .order_by("-recorded_at", "-pk").values_list("recorded_by", flat=True).first())
    user_id = last_try or alert.acknowledged_by_id
    if user_id is None:
        return None
    return Clinician.objects.filter(user_id=user_id, is_active=True).first()


def record_outcome(alert: Alert, *, outcome: str, by,
                   now: datetime.datetime | None = None) -> CallOutcome:
    """Record what came of the call to the patient (the alert must be acknowledged).  Any
    outcome but "no answer" resolves the alert: follow-ups stop and unsent follow-up pages are
    cancelled.  "No answer" keeps it open and starts its follow-up clock again.  Raises
    ``Invalid`` for an outcome it does not know, ``Conflict`` once the alert is resolved."""
    if outcome not in CallOutcome.Outcome.values:
        raise Invalid({"outcome": [f"Choose one of {', '.join(CallOutcome.Outcome.values)}."]})
    now = now or timezone.now()
    with transaction.atomic():
        locked = Alert.objects.select_for_update().get(pk=alert.pk)
        if locked.is_resolved:
            raise Conflict("This alert is resolved already: a call outcome was recorded at "
                           f"{locked.resolved_at:%H:%M, %d %b %Y} (UTC). Anything more "
                           "belongs in the review note.")
        if not locked.is_acknowledged:
            raise Conflict("Acknowledge the alert before recording the call's outcome.")
        recorded = CallOutcome.objects.create(alert=alert, outcome=outcome, recorded_by=by,
                                              recorded_at=now)
        if recorded.resolves:
            Alert.objects.filter(pk=alert.pk).update(resolved_at=now, follow_up_at=None)
            Notification.objects.filter(
                alert=alert, status=Notification.Status.PENDING,
                reason__in=FOLLOW_UP_REASONS,
            ).update(status=Notification.Status.CANCELLED)
        else:
            Alert.objects.filter(pk=alert.pk).update(follow_up_at=now + resolve_delay(),
                                                     follow_ups=0)
    alert.refresh_from_db()
    return recorded


# --- Sending a failed notification again (the admin) ------------------------------------------


def send_again(notification_id: int, *, by, now: datetime.datetime | None = None) -> bool:
    """Put a notification that failed on every channel back to waiting on the person's first
    channel, queue it, and audit who asked.  False when it had not failed (a second click, or
    someone else was quicker) or is no longer needed (the alert was acknowledged, or resolved
    for a follow-up): nothing is sent then."""
    now = now or timezone.now()
    notification = Notification.objects.select_related(
        "alert__submission", "clinician").get(pk=notification_id)
    if not still_needed(notification):
        return False
    with transaction.atomic():
        moved = Notification.objects.filter(
            pk=notification.pk, status=Notification.Status.FAILED,
        ).update(status=Notification.Status.PENDING, channel_index=0, tries_on_channel=0,
                 next_attempt_at=now, claimed_until=None, last_queued_at=None, grouped=False)
        if not moved:
            return False
        audit.record(by, AuditEvent.Action.SEND_AGAIN, submission=notification.alert.submission,
                     detail=f"notification {notification.pk} (level {notification.level}) to "
                            f"{notification.clinician.name}")
        transaction.on_commit(lambda: queue_delivery([notification.pk]))
    return True
