"""Cover and the rota check with the real parts: a cover for today takes an alert away from the
clinician the weekly rota puts on duty (through POST /api/submissions/, ``new_alert``, a real
Celery worker and a real SMTP server), and the daily rota check, run by a real worker, emails
the clinic's admins about a gap and names no patient.

Real parts: PostgreSQL, a redis-server of the test's own, a Celery worker, aiosmtpd on loopback.
"""

import datetime

import pytest
from django.utils import timezone

from clinic.hours import local_time
from clinic.models import Alert, Clinician, DutyCover, Leave, Notification
from clinic.tasks import check_rota_coverage
from tests.factories import COMMITTED, SITE_URL, patient_data_in, submit_emergency, wait_for_status

pytestmark = [pytest.mark.postgres, COMMITTED]


def test_a_cover_for_today_takes_the_alert_away_from_the_weekly_clinician(
        client, broker, rota, smtp, celery_processes):
    today = local_time(rota.clinic, timezone.now()).date()
    cover = Clinician.objects.create(name="Dr Cover", email="cover@clinic.test")
    # No times: Dr Cover takes over Dr Duty's shifts (round the clock here) today and
    # tomorrow, so the test does not depend on the hour it runs at.
    DutyCover.objects.create(clinic=rota.clinic, clinician=cover, instead_of=rota.duty,
                             first_day=today, last_day=today + datetime.timedelta(days=1))

    reference = submit_emergency(client)

    alert = Alert.objects.get(submission__reference=reference)
    # The plan frozen on the alert comes from the effective rota: the cover, then the backups.
    assert [[person["name"] for person in step] for step in alert.escalation_plan] == [
        ["Dr Cover"], ["Dr Backup"], ["Dr Second"]]
    [notification] = alert.notifications.all()
    assert notification.clinician == cover

    celery_processes.worker()
    [mail] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    wait_for_status(notification, Notification.Status.DELIVERED, detail=celery_processes.logs)
    assert mail.recipients == ("cover@clinic.test",)
    assert mail.message["Subject"] == f"[EMERGENCY] Intake {reference} needs a clinician"
    assert f"{SITE_URL}/cases/{reference}/" in mail.text
    assert smtp.to("duty@clinic.test") == []
    assert not Notification.objects.filter(clinician=rota.duty).exists()


def test_the_daily_rota_check_run_by_a_worker_emails_the_clinics_admins_about_a_gap(
        client, broker, rota, smtp, celery_processes):
    today = local_time(rota.clinic, timezone.now()).date()
    # Dr Duty, the only one on the rota, is away for the whole of the next week.
    Leave.objects.create(clinician=rota.duty, first_day=today - datetime.timedelta(days=1),
                         last_day=today + datetime.timedelta(days=8))
    rota.clinic.coverage_email = "rota@clinic.test"
    rota.clinic.save()
    # An alert with a patient behind it, to see that none of it leaks into the rota email.
    submit_emergency(client)
    celery_processes.worker()
    smtp.wait_for_messages(1, detail=celery_processes.logs)  # the alert, to Dr Night

    check_rota_coverage.delay()

    smtp.wait_for_messages(2, detail=celery_processes.logs)
    [mail] = smtp.to("rota@clinic.test")
    assert mail.message["Subject"] == (
        f"Rota check, {rota.clinic.name}: 1 problem in the next 7 days")
    assert "Open with nobody on duty" in mail.text
    assert "the clinic is open and nobody is on duty" in mail.text
    assert f"{SITE_URL}/admin/clinic/clinic/{rota.clinic.pk}/rota/" in mail.text
    assert patient_data_in(mail.raw.decode() + mail.text) == []
    assert not any(ref in mail.text for ref in Alert.objects.values_list(
        "submission__reference", flat=True))
