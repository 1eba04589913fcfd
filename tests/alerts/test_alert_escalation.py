"""An alert nobody acknowledges is escalated to the backup at the clinic's configured time, and
not after someone acknowledges it; a submission that rolls back leaves no alert and sends
nothing.

The clock is the test's: the sweep and the delivery of an escalation are run here with ``now``
set before and after the alert's escalation time.  The first notification goes through the real
worker and mail server, as do the queued tasks (a task queued for a notification that is not
yet due is simply not claimed by the worker, whose clock is the real one).
"""

import datetime
import time

import pytest

from clinic.alerting import alerts, delivery
from clinic.models import Alert, AuditEvent, Notification
from intake.models import IdempotencyRecord, Submission
from support.real_services import wait_until
from tests.factories import (
    ANSWERS,
    COMMITTED,
    PATIENT,
    SECOND,
    notification_for,
    post_submission,
    submit_emergency,
    wait_for_status,
)

pytestmark = [pytest.mark.postgres, COMMITTED]



def test_an_unacknowledged_alert_escalates_to_the_backup_at_its_time_and_not_after_acknowledgement(
        client, clinician, clinician_client, broker, rota, smtp, celery_processes,
        alert_settings):
    rota.clinic.emergency_escalation_minutes = 2  # the clinic's own setting, not the default 5
    rota.clinic.save()
    celery_processes.worker()
    reference = submit_emergency(client)
    alert = Alert.objects.get(submission__reference=reference)
    assert alert.escalate_at == alert.created_at + datetime.timedelta(minutes=2)
    first_escalation = alert.escalate_at

    # The duty clinician is told at once, by the worker.
    [first] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    assert first.recipients == ("duty@clinic.test",)
    wait_for_status(notification_for(reference, rota.duty), Notification.Status.DELIVERED)

    # A second before the escalation time: nothing happens.
    report = alerts.sweep(now=first_escalation - SECOND)
    assert report.escalated == 0
    alert.refresh_from_db()
    assert alert.level == 0
    assert not Notification.objects.filter(alert=alert, clinician=rota.backup).exists()

    # At the escalation time: the alert moves to the backup, with the next escalation set.
    report = alerts.sweep(now=first_escalation)
    assert report.escalated == 1
    alert.refresh_from_db()
    assert alert.level == 1
    assert alert.escalate_at == first_escalation + datetime.timedelta(minutes=2)
    to_backup = Notification.objects.get(alert=alert, level=1)
    assert (to_backup.clinician, to_backup.status, to_backup.next_attempt_at) == (
        rota.backup, Notification.Status.PENDING, first_escalation)
    # A second sweep at the same moment does not escalate again.
    assert alerts.sweep(now=first_escalation).escalated == 0

    # Delivered at that time, through the real mail server.
    outcome = delivery.deliver(to_backup.pk, now=first_escalation)
    assert outcome.delivered
    [_, escalation] = smtp.wait_for_messages(2)
    assert escalation.recipients == ("backup@clinic.test",)
    assert escalation.message["Subject"] == (
        f"[EMERGENCY] Intake {reference} needs a clinician (escalated: not yet acknowledged)")

    # The duty clinician acknowledges through the API.
    response = clinician_client.post(f"/api/submissions/{reference}/acknowledge/")
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician
    assert alert.acknowledged_at is not None
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACKNOWLEDGE,
                                     reference=reference, actor=clinician).count() == 1

    # Acknowledged is not resolved: the call's outcome is recorded too, or the alert would be
    # followed up (tests/alerts/test_alert_links_and_call_outcomes.py).
    response = clinician_client.post(f"/api/submissions/{reference}/call-outcome/",
                                     {"outcome": "booked_today"},
                                     content_type="application/json")
    assert response.status_code == 200, response.content

    # Long past every escalation time: no escalation, no new notification, no message.
    notifications_before = Notification.objects.filter(alert=alert).count()
    for later in (alert.escalate_at, alert.escalate_at + datetime.timedelta(hours=1),
                  alert.escalate_at + datetime.timedelta(days=1)):
        report = alerts.sweep(now=later)
        assert (report.escalated, report.queued) == (0, 0)
    alert.refresh_from_db()
    assert alert.level == 1
    assert Notification.objects.filter(alert=alert).count() == notifications_before
    time.sleep(1)  # the worker is still running: anything it was given would arrive by now
    assert [m.recipients for m in smtp.messages] == [("duty@clinic.test",),
                                                     ("backup@clinic.test",)]
    assert not smtp.to("second@clinic.test")
    assert not smtp.to("night@clinic.test")  # in hours, the out-of-hours contact is left alone


def test_a_submission_that_rolls_back_leaves_no_alert_and_sends_nothing(
        client, broker, rota, smtp, redis_server, celery_processes, monkeypatch):
    raised = []

    def new_alert_and_remember(submission, **kwargs):
        planned = real_new_alert(submission, **kwargs)
        raised.append(planned)
        return planned

    def fail(*args, **kwargs):
        raise RuntimeError("the idempotency record could not be written")

    # The alert is written with the submission, then something later in the same transaction
    # (a client's Idempotency-Key asks for one) fails.
    real_new_alert = alerts.new_alert
    monkeypatch.setattr(alerts, "new_alert", new_alert_and_remember)
    monkeypatch.setattr(IdempotencyRecord.objects, "create", fail)
    client.raise_request_exception = False
    response = post_submission(client, {"patient": PATIENT, "answers": ANSWERS},
                               **{"Idempotency-Key": "the-first-try"})
    assert response.status_code == 500

    assert len(raised) == 1
    assert raised[0].alert.pk is not None  # an alert row was written in the transaction...
    assert not Alert.objects.filter(pk=raised[0].alert.pk).exists()  # ...and rolled back
    assert not Submission.objects.exists()
    assert not Alert.objects.exists()
    assert not Notification.objects.exists()
    assert redis_server.queued_task_messages("alerts") == []  # nothing was queued

    # The same intake without the failure is alerted, so the silence above is not an accident
    # of the set-up; the worker sends that one alert and nothing for the rolled-back one.
    monkeypatch.undo()
    celery_processes.worker()
    reference = submit_emergency(client)
    [mail] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    assert reference in mail.message["Subject"]
    wait_until(lambda: redis_server.queued_task_messages("alerts") == [],
               what="the queue to be empty")
    time.sleep(1)
    assert len(smtp.messages) == 1
    assert Alert.objects.count() == 1
