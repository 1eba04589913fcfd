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

Nothing here logs, queues or sends patient data: only ids, the case reference and the urgency.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from clinic.alerting.delivery import claimable, queue_delivery, queue_digests
from clinic.alerting.rules import notification_plans
from clinic.models import Alert, Clinic, Clinician, Heartbeat, Notification
from clinic.rota import escalation_chain
from screening.urgency import PAGING, Urgency

logger = logging.getLogger(__name__)


SWEEP_HEARTBEAT = "alert-sweep"


def escalation_delay(clinic: Clinic, urgency: str) -> datetime.timedelta:
    minutes = (clinic.emergency_escalation_minutes if urgency == Urgency.EMERGENCY
               else clinic.urgent_escalation_minutes)
    return datetime.timedelta(minutes=minutes)


def group_window() -> datetime.timedelta:
    """How long a burst of urgent alerts for one clinician stays open (0: no grouping)."""
    return datetime.timedelta(minutes=settings.ALERT_GROUP_MINUTES)


# --- Raising ----------------------------------------------------------------------------------


def raise_alert(submission, *, now: datetime.datetime | None = None) -> Alert | None:
    """Create the alert for an urgent or emergency submission, in the caller's transaction
    (there must be one), and queue its first notifications once that transaction commits; an
    urgent alert for a clinician in the middle of a burst is held for their digest instead.
    Returns None for a submission that needs no alert."""
    if submission.urgency not in PAGING:
        return None
    now = now or timezone.now()
    clinic = submission.clinic
    steps, closed = escalation_chain(clinic, now)
    alert = Alert.objects.create(
        submission=submission, clinic=clinic, urgency=submission.urgency, out_of_hours=closed,
        created_at=now, escalate_at=now + escalation_delay(clinic, submission.urgency),
        escalation_plan=[[{"clinician": c.pk, "name": c.name} for c in step] for step in steps],
    )
    if not steps:
        logger.critical("alert %s for %s has nobody to notify: the clinic %s has no duty "
                        "rota, out-of-hours or backup contacts", alert.pk, submission.reference,
                        clinic.pk)
        return alert
    _notify_step(alert, level=0, steps=steps, now=now)
    return alert


def _notify_step(alert: Alert, *, level: int, steps, now) -> list[Notification]:
    """Notify one escalation step's people: a notification per step of each one's plan
    (``clinic.alerting.rules``), the ones due now queued after the commit."""
    recipients = steps[level % len(steps)]
    held_until = _held_until(alert, recipients, now) if level == 0 else {}
    plans = notification_plans(recipients, alert.urgency)
    Notification.objects.bulk_create(
        [Notification(alert=alert, clinician=c, level=level, step=index, channel=step.channel,
                      created_at=now, next_attempt_at=held_until.get(c.pk, now) + step.delay,
                      grouped=c.pk in held_until)
         for c in recipients for index, step in enumerate(plans[c.pk])],
        ignore_conflicts=True,  # a step is notified once, whoever gets there first
    )
    # ignore_conflicts leaves no primary keys behind; read back what exists for this level.
    created = list(Notification.objects.filter(alert=alert, level=level,
                                               status=Notification.Status.PENDING))
    # Held ones wait for the sweep to queue their digest when their window ends, and delayed
    # steps for the sweep to find them due.
    ids = [n.pk for n in created if not n.grouped and n.next_attempt_at <= now]
    transaction.on_commit(lambda: queue_delivery(ids))
    return created


def _held_until(alert: Alert, clinicians, now) -> dict[int, datetime.datetime]:
    """For each of ``clinicians`` in the middle of a burst, when the urgent ``alert`` raised at
    ``now`` is due in their digest: the end of the window opened by their latest urgent first
    page.  Clinicians missing from the answer are paged at once."""
    window = group_window()
    if alert.urgency != Urgency.URGENT or not window:
        return {}
    ids = sorted(c.pk for c in clinicians)
    # One decision per clinician at a time, held until this transaction commits (see the module
    # docstring); locked in the order of their ids, so two intakes cannot deadlock.
    list(Clinician.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
         .values_list("pk", flat=True))
    first_pages = (
        Notification.objects.filter(clinician_id__in=ids, level=0, step=0, grouped=False,
                                    alert__urgency=Urgency.URGENT, created_at__gt=now - window,
                                    created_at__lte=now)
        # A page that failed on every channel reached nobody: the next one tries at once.
        .exclude(status=Notification.Status.FAILED)
        .order_by().values_list("clinician_id").annotate(opened_at=Max("created_at"))
    )
    return {clinician_id: opened_at + window for clinician_id, opened_at in first_pages
            # Never hold an alert past the time it would escalate.
            if opened_at + window <= alert.escalate_at}


# --- Sweeping and escalating ------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    queued: int  # notifications queued, on their own or in a digest
    escalated: int
    digests: int = 0  # digest tasks queued (one per clinician)


def sweep(*, now: datetime.datetime | None = None) -> SweepReport:
    """Queue every notification that is due (held ones as one digest per clinician), and
    escalate every overdue alert.  Run by Celery beat every ALERT_SWEEP_SECONDS; safe to run
    concurrently and repeatedly."""
    now = now or timezone.now()
    escalated = sum(1 for alert_id in _overdue_alert_ids(now) if escalate(alert_id, now=now))
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
    return SweepReport(queued=len(due), escalated=escalated, digests=len(held))


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
            _notify_step(alert, level=alert.level + 1, steps=steps, now=now)
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
            acknowledged_at=now, acknowledged_by=by)
        if done:
            Notification.objects.filter(
                alert=alert, status=Notification.Status.PENDING
            ).update(status=Notification.Status.CANCELLED)
    alert.refresh_from_db()
    return bool(done)

