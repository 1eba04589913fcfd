"""Acting from the page, end to end (issue 15): the link in the email a real worker sent through
a real mail server acknowledges the emergency in one tap, once; an acknowledged alert whose call
nobody records pages the clinician again, then escalates to the next step of its plan, until an
outcome resolves it; and an urgent email sent while the clinic is closed says the patient was
told to call 111, as the patient's page did.

The first page of each alert goes through the real worker (PostgreSQL, Redis, SMTP); the
follow-ups are made by the sweep and delivered here with the test's clock (``now``) set past
each deadline, as tests/alerts/test_alert_escalation.py does, through the same mail server.
"""

import datetime
import re
import zoneinfo

import pytest
from django.utils import timezone

from clinic.alerting import alerts, delivery
from clinic.models import Alert, AlertLink, AuditEvent, CallOutcome, Notification
from intake.advice import advice_for
from tests.factories import (
    COMMITTED,
    PATIENT,
    SECOND,
    SITE_URL,
    URGENT_FEVER,
    notification_for,
    patient_data_in,
    post_submission,
    submit_emergency,
    wait_for_status,
)

pytestmark = [pytest.mark.postgres, COMMITTED]

LINK = re.compile(rf"{re.escape(SITE_URL)}(/alerts/[A-Za-z0-9_-]+/)")


def text_of(mail) -> str:
    return mail.text.replace("\r\n", "\n")


def test_the_link_in_the_email_acknowledges_an_emergency_alert_once(
        client, clinician, clinician_client, broker, rota, smtp, celery_processes,
        alert_settings):
    celery_processes.worker()
    reference = submit_emergency(client)
    [mail] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    assert mail.recipients == ("duty@clinic.test",)
    [path] = LINK.findall(text_of(mail))
    alert = Alert.objects.get(submission__reference=reference)
    assert AlertLink.objects.filter(alert=alert).count() == 1

    # Opening the link (as a mail scanner would) acknowledges nothing: it offers one button.
    page = clinician_client.get(path)
    assert page.status_code == 200
    assert b"Acknowledge alert" in page.content
    alert.refresh_from_db()
    assert alert.acknowledged_at is None

    # One tap: acknowledged, audited like the case page's button, and on to the case.
    tapped = clinician_client.post(path)
    assert tapped.status_code == 302
    assert tapped.url == f"/cases/{reference}/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician
    assert alert.follow_up_at is not None  # acknowledged is not resolved
    [acknowledged] = AuditEvent.objects.filter(action=AuditEvent.Action.ACKNOWLEDGE,
                                               reference=reference)
    assert (acknowledged.actor, acknowledged.detail) == (clinician, "from the link in a page")
    case = clinician_client.get(tapped.url)
    assert b"Alert acknowledged: escalation has stopped." in case.content
    assert b"What came of the call?" in case.content

    # A second use is refused with a page that says so and leads to the case.
    again = clinician_client.post(path)
    assert again.status_code == 410
    assert b"This link has been used already" in again.content
    assert f'href="/cases/{reference}/"'.encode() in again.content
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACKNOWLEDGE,
                                     reference=reference).count() == 1
    link = AlertLink.objects.get(alert=alert)
    assert (link.used_by, link.used_at is not None) == (clinician, True)
    wait_for_status(notification_for(reference, rota.duty), Notification.Status.DELIVERED)


def test_an_acknowledged_alert_with_no_call_recorded_pages_again_then_escalates(
        client, clinician, clinician_client, broker, rota, smtp, celery_processes,
        alert_settings):
    alert_settings.ALERT_RESOLVE_MINUTES = 20
    celery_processes.worker()
    reference = submit_emergency(client)
    smtp.wait_for_messages(1, detail=celery_processes.logs)
    response = clinician_client.post(f"/api/submissions/{reference}/acknowledge/")
    assert response.status_code == 200, response.content
    alert = Alert.objects.get(submission__reference=reference)
    due = alert.follow_up_at
    assert due == alert.acknowledged_at + datetime.timedelta(minutes=20)

    # A second before the deadline: nothing.
    assert alerts.sweep(now=due - SECOND).followed_up == 0

    # At the deadline: the clinician who acknowledged is paged again, once.
    assert alerts.sweep(now=due).followed_up == 1
    assert alerts.sweep(now=due).followed_up == 0
    [again] = Notification.objects.filter(alert=alert, reason=Notification.Reason.FOLLOW_UP)
    assert (again.clinician, again.level, again.sequence) == (rota.duty, 0, 1)
    assert delivery.deliver(again.pk, now=due).delivered
    [_, reminder] = smtp.wait_for_messages(2)
    assert reminder.recipients == ("duty@clinic.test",)
    assert reminder.message["Subject"] == (
        f"[EMERGENCY] Intake {reference}: no call outcome recorded yet")
    assert f"{SITE_URL}/cases/{reference}/" in text_of(reminder)
    assert patient_data_in(reminder.raw.decode() + text_of(reminder)) == []

    # Another period with no outcome: escalated to the next step of the frozen plan.
    alert.refresh_from_db()
    second_due = alert.follow_up_at
    assert second_due == due + datetime.timedelta(minutes=20)
    assert alerts.sweep(now=second_due).followed_up == 1
    assert alerts.sweep(now=second_due).followed_up == 0
    [escalation] = Notification.objects.filter(
        alert=alert, reason=Notification.Reason.FOLLOW_UP_ESCALATION)
    assert (escalation.clinician, escalation.level) == (rota.backup, 1)
    assert delivery.deliver(escalation.pk, now=second_due).delivered
    [*_, escalated] = smtp.wait_for_messages(3)
    assert escalated.recipients == ("backup@clinic.test",)
    assert escalated.message["Subject"] == (
        f"[EMERGENCY] Intake {reference} needs a clinician (escalated: no call outcome "
        "recorded)")

    # "No answer" keeps it open, with a new period from now and the caller paged first.
    response = clinician_client.post(f"/api/submissions/{reference}/call-outcome/",
                                     {"outcome": "no_answer"}, content_type="application/json")
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert (alert.resolved_at, alert.follow_ups) == (None, 0)
    assert alert.follow_up_at > timezone.now() + datetime.timedelta(minutes=19)

    # An outcome that resolves it stops the follow-ups for good.
    response = clinician_client.post(f"/api/submissions/{reference}/call-outcome/",
                                     {"outcome": "booked_today"},
                                     content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["alert"]["resolved_at"] is not None
    assert [o["outcome"] for o in response.json()["alert"]["call_outcomes"]] == [
        "no_answer", "booked_today"]
    alert.refresh_from_db()
    assert alert.follow_up_at is None
    for later in (second_due + datetime.timedelta(hours=1), second_due + datetime.timedelta(
            days=1)):
        assert alerts.sweep(now=later).followed_up == 0
    assert Notification.objects.filter(alert=alert).count() == 3
    assert list(CallOutcome.objects.filter(alert=alert).values_list("recorded_by", flat=True)
                ) == [clinician.pk, clinician.pk]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.CALL_OUTCOME,
                                     reference=reference).count() == 2

    # The case page shows every step.
    page = clinician_client.get(f"/cases/{reference}/").content.decode()
    for step in ("Alert raised", "Paged: Dr Duty", "email to Dr Duty: sent",
                 "Acknowledged by clinician", "Paged again: no call outcome recorded: Dr Duty",
                 "Escalated: no call outcome recorded: Dr Backup",
                 "Call outcome: No answer: try again",
                 "Call outcome: Patient called: booked today"):
        assert step in page, step


def test_the_urgent_email_out_of_hours_names_111(
        client, broker, rota, smtp, celery_processes, alert_settings):
    rota.clinic.opening_hours.all().delete()  # closed all week: out-of-hours advice
    rota.clinic.timezone = "Europe/London"
    rota.clinic.save()
    celery_processes.worker()
    response = post_submission(client, {"patient": PATIENT, "answers": URGENT_FEVER})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["urgency"] == "urgent"
    assert "Call 111 now" in body["advice"]  # what the patient's page said
    reference = body["reference"]
    alert = Alert.objects.get(submission__reference=reference)
    assert alert.out_of_hours

    mails = smtp.wait_for_messages(2, detail=celery_processes.logs)  # on duty + out of hours
    night = next(m for m in mails if m.recipients == ("night@clinic.test",))
    text = text_of(night)
    assert night.message["Subject"] == f"[URGENT] Intake {reference} needs a clinician"
    assert ("The patient was told: the clinic is closed, call 111 now for urgent medical "
            "advice.") in text
    assert advice_for("urgent", rota.clinic, alert.created_at).call_number == "111"
    assert "will phone them today" not in text
    # The deadline, in the clinic's local time.
    local = alert.escalate_at.astimezone(zoneinfo.ZoneInfo("Europe/London"))
    assert f"If nobody acknowledges it by {local:%H:%M} {local.tzname()}," in text
    assert LINK.search(text)
    assert patient_data_in(night.raw.decode() + text) == []
