"""The escalation plan is frozen on the alert when it is raised (issue 13; Grafana OnCall's
escalation snapshot): who is paged at each level does not depend on when the sweep runs or on
rota edits made since, and the case page shows the plan."""

import datetime

import pytest

from clinic.alerting import alerts
from clinic.models import Alert, Clinic, Clinician, DutyContact, DutyShift
from tests.factories import open_round_the_clock, raise_urgent

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(clinician) -> Clinic:
    """The default clinic, open round the clock, Dr Duty (the ``clinician`` user) always on
    duty, Dr Backup the first backup."""
    clinic = Clinic.objects.get(is_default=True)
    open_round_the_clock(clinic)
    duty = Clinician.objects.get(user=clinician)
    duty.name = "Dr Duty"
    duty.save()
    DutyShift.objects.bulk_create(
        DutyShift(clinic=clinic, clinician=duty, weekday=day, starts=datetime.time(0),
                  ends=datetime.time(23, 59, 59)) for day in range(7))
    backup = Clinician.objects.create(name="Dr Backup", email="backup@clinic.test")
    DutyContact.objects.create(clinic=clinic, clinician=backup, role=DutyContact.Role.BACKUP,
                               position=1)
    return clinic


def paged_at(alert: Alert, level: int) -> list[str]:
    return sorted(alert.notifications.filter(level=level).values_list("clinician__name",
                                                                      flat=True))


def test_the_plan_is_frozen_when_the_alert_is_raised(clinic):
    alert = raise_urgent()
    assert [[p["name"] for p in step] for step in alert.escalation_plan] == [
        ["Dr Duty"], ["Dr Backup"]]

    # The rota changes before the alert escalates: a new first backup.
    DutyContact.objects.filter(role=DutyContact.Role.BACKUP).delete()
    DutyContact.objects.create(clinic=clinic, role=DutyContact.Role.BACKUP, position=1,
                               clinician=Clinician.objects.create(name="Dr New",
                                                                  email="new@clinic.test"))
    assert alerts.escalate(alert.pk, now=alert.escalate_at + datetime.timedelta(seconds=1))

    assert paged_at(alert, 1) == ["Dr Backup"]


def test_a_clinician_deactivated_since_is_skipped_and_nobody_left_falls_back_to_the_rota(
    clinic,
):
    alert = raise_urgent()
    Clinician.objects.filter(name="Dr Backup").update(is_active=False)

    assert alerts.escalate(alert.pk, now=alert.escalate_at + datetime.timedelta(seconds=1))

    assert paged_at(alert, 1) == ["Dr Duty"]  # the plan's only step left, again


def test_the_case_page_shows_the_plan_and_the_step_paged_now(clinic, clinician_client):
    alert = raise_urgent()

    page = clinician_client.get(f"/cases/{alert.submission.reference}/").content.decode()

    assert "Escalation plan" in page
    assert "<li>Dr Duty <strong>(paged now)</strong></li>" in page
    assert "<li>Dr Backup</li>" in page
