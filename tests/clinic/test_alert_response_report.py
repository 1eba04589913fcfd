"""The alert response report for clinic leads: its figures against alerts made with known
acknowledgement times (the median and 90th percentile exactly), escalations and failed
deliveries by channel, scoped to the lead's clinics, audited, as a page with SVG charts and as
CSV; and nobody without the permission sees it.

Time is fixed: Wednesday 4 June 2025, 12:00 UTC, so with 2 weeks the report covers the weeks of
Monday 26 May and Monday 2 June.
"""

import csv
import datetime
import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from clinic.models import Alert, AuditEvent, Clinic, Clinician, DeliveryAttempt, Notification
from clinic.review import response
from core.roles import CLINICIANS_GROUP
from tests.factories import PATIENT, make_case

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 6, 4, 12, 0, tzinfo=datetime.UTC)
WEEK_2_JUNE = datetime.datetime(2025, 6, 2, 10, 0, tzinfo=datetime.UTC)
WEEK_26_MAY = datetime.datetime(2025, 5, 27, 10, 0, tzinfo=datetime.UTC)


@pytest.fixture
def lead(django_user_model):
    """Lee, a clinic lead at the default clinic: a clinician with
    ``clinic.view_alert_response``."""
    user = django_user_model.objects.create_user(username="lee", email="lee@example.org",
                                                 password="lead-password")
    user.groups.add(Group.objects.get(name=CLINICIANS_GROUP))
    user.user_permissions.add(Permission.objects.get(codename="view_alert_response"))
    Clinician.objects.create(name="Lee Lead", user=user, email=user.email).clinics.add(
        Clinic.objects.get(is_default=True))
    return user


def alert(urgency: str, created_at, *, acknowledged_after: int | None = None, level: int = 0,
          clinic: Clinic | None = None) -> Alert:
    """An alert (for a real submission) raised at ``created_at`` and acknowledged
    ``acknowledged_after`` seconds later (None: not yet)."""
    submission = make_case(urgency)
    Alert.objects.filter(submission=submission).update(
        created_at=created_at, level=level,
        acknowledged_at=(created_at + datetime.timedelta(seconds=acknowledged_after)
                         if acknowledged_after is not None else None))
    if clinic is not None:
        Alert.objects.filter(submission=submission).update(clinic=clinic)
        type(submission).objects.filter(pk=submission.pk).update(clinic=clinic)
    return Alert.objects.get(submission=submission)


def attempt(of: Alert, channel: str, at, outcome=DeliveryAttempt.Outcome.PERMANENT_FAILURE):
    """A delivery attempt of a page about ``of``, made ``at``."""
    pager, _ = Clinician.objects.get_or_create(name="Dr Pager", email="pager@clinic.test")
    notification, _ = Notification.objects.get_or_create(alert=of, clinician=pager, level=0)
    DeliveryAttempt.objects.create(notification=notification, channel=channel, outcome=outcome,
                                   started_at=at, error="refused")


@pytest.fixture
def alerts():
    """Week of 2 June: ten alerts (four emergencies) acknowledged after 1, 2, ... 10 minutes,
    two of them escalated, and one urgent alert nobody has acknowledged; two email deliveries
    that failed for good and a webhook one that failed for a while.  Week of 26 May: three
    urgent alerts acknowledged after 30 s, 90 s and 10 min.  At another clinic, Leeds, an
    emergency acknowledged after an hour and a failed email delivery."""
    made = [alert("emergency" if minute <= 4 else "urgent",
                  WEEK_2_JUNE + datetime.timedelta(minutes=minute),
                  acknowledged_after=60 * minute, level=1 if minute in (9, 10) else 0)
            for minute in range(1, 11)]
    made.append(alert("urgent", WEEK_2_JUNE + datetime.timedelta(hours=3)))
    for seconds in (30, 90, 600):
        alert("urgent", WEEK_26_MAY, acknowledged_after=seconds)
    attempt(made[0], "email", WEEK_2_JUNE)
    attempt(made[1], "email", WEEK_2_JUNE)
    attempt(made[2], "webhook", WEEK_2_JUNE, DeliveryAttempt.Outcome.TEMPORARY_FAILURE)
    attempt(made[3], "email", WEEK_2_JUNE, DeliveryAttempt.Outcome.SENT)
    leeds = Clinic.objects.create(name="Leeds", slug="leeds")
    far = alert("emergency", WEEK_2_JUNE, acknowledged_after=3600, clinic=leeds)
    attempt(far, "email", WEEK_2_JUNE)
    return made


def test_the_figures_match_the_alerts_exactly(lead, alerts):
    report = response.response_report(lead, weeks=2, now=NOW)

    assert [c.name for c in report.clinics] == ["Bedford"]
    assert (report.first_week, report.last_week) == (datetime.date(2025, 5, 26),
                                                     datetime.date(2025, 6, 2))
    (may, earlier), (june, later) = report.weeks
    assert (may, june) == (datetime.date(2025, 5, 26), datetime.date(2025, 6, 2))
    # Week of 2 June: 60, 120, ... 600 s: the median is the mean of the 5th and 6th (330 s),
    # the 90th percentile the 9th of ten (540 s).  The unacknowledged one is no time.
    assert later.alerts == {"emergency": 4, "urgent": 7}
    assert (later.total, later.acknowledged, later.unacknowledged) == (11, 10, 1)
    assert (later.median_seconds, later.p90_seconds) == (330, 540)
    assert later.escalated == 2
    assert later.failed == {"email": 2, "webhook": 1}
    # Week of 26 May: 30, 90, 600 s: median 90, 90th percentile the 3rd of three.
    assert earlier.alerts == {"emergency": 0, "urgent": 3}
    assert (earlier.median_seconds, earlier.p90_seconds, earlier.escalated) == (90, 600, 0)
    assert earlier.failed == {}
    # Both weeks: 13 times, 30 60 90 120 180 240 300 360 420 480 540 600 600; the 7th is the
    # median, the 12th (the smallest with 90% at or below it: ceil(11.7)) the percentile.
    overall = report.overall
    assert (overall.total, overall.acknowledged) == (14, 13)
    assert (overall.median_seconds, overall.p90_seconds) == (300, 600)
    assert overall.failed == {"email": 2, "webhook": 1}


def test_a_superuser_sees_every_clinic_and_can_pick_one(admin_user, alerts):
    everything = response.response_report(admin_user, weeks=2, now=NOW)
    assert [c.name for c in everything.clinics] == ["Bedford", "Leeds"]
    assert everything.overall.total == 15
    assert everything.overall.failed == {"email": 3, "webhook": 1}

    leeds = Clinic.objects.get(slug="leeds")
    only_leeds = response.response_report(admin_user, weeks=2, clinic_id=leeds.pk, now=NOW)
    assert only_leeds.overall.total == 1
    assert (only_leeds.overall.median_seconds, only_leeds.overall.p90_seconds) == (3600, 3600)


def test_no_alerts_give_no_times():
    assert response.percentile([], 0.9) is None
    assert response.percentile([5], 0.9) == 5
    assert response.minutes(None) == "none"
    assert response.minutes(330) == "5 min 30 s"


def test_the_page_draws_the_charts_and_audits_the_look(lead, alerts, client, monkeypatch):
    monkeypatch.setattr(response.timezone, "now", lambda: NOW)
    client.force_login(lead)

    page = client.get("/alert-response/?weeks=4")

    assert page.status_code == 200
    text = page.content.decode()
    assert text.count('<svg class="chart" role="img"') == 3
    assert "Week of 02 Jun 2025: 4 emergency" in text
    assert "Week of 02 Jun 2025: median time to acknowledge 5 min 30 s" in text
    assert "Week of 02 Jun 2025: 90th percentile time to acknowledge 9 min 0 s" in text
    assert "Week of 02 Jun 2025: 2 failed email deliveries" in text
    assert "<script" not in text and "style=" not in text
    for detail in (PATIENT["full_name"], PATIENT["phone"], alerts[0].submission.reference):
        assert detail not in text
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.VIEW_REPORT)
    assert event.actor == lead
    assert event.detail.startswith("alert response report: 4 weeks from ")


def test_the_csv_has_a_row_per_week_and_one_for_all_weeks(lead, alerts, client, monkeypatch):
    monkeypatch.setattr(response.timezone, "now", lambda: NOW)
    client.force_login(lead)

    download = client.get("/alert-response/?weeks=2&format=csv")

    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"] == (
        'attachment; filename="alert-response-2025-05-26.csv"')
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows == [
        ["week", "emergency", "urgent", "alerts", "acknowledged", "not acknowledged",
         "median seconds to acknowledge", "90th percentile seconds to acknowledge",
         "escalated", "failed email deliveries", "failed sms deliveries",
         "failed webhook deliveries", "failed slack deliveries", "failed teams deliveries"],
        ["2025-05-26", "0", "3", "3", "3", "0", "90", "600", "0", "0", "0", "0", "0", "0"],
        ["2025-06-02", "4", "7", "11", "10", "1", "330", "540", "2", "2", "0", "1", "0", "0"],
        ["all weeks", "4", "10", "14", "13", "1", "300", "600", "2", "2", "0", "1", "0", "0"],
    ]
    assert AuditEvent.objects.get(action=AuditEvent.Action.VIEW_REPORT).detail.startswith(
        "alert response report as CSV: 2 weeks from 2025-05-26")


def test_only_clinic_leads_see_the_report(clinician_client, client, staff_admin):
    assert clinician_client.get("/alert-response/").status_code == 403
    assert client.get("/alert-response/").status_code == 302  # to sign in
    staff = Client()
    staff.force_login(staff_admin)  # every permission, but not a clinician
    assert staff.get("/alert-response/").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.VIEW_REPORT).exists()
    assert 'href="/alert-response/"' not in clinician_client.get("/queue/").content.decode()
