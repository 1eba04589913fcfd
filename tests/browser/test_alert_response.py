"""The alert response report in headless Chromium (issue 15): a clinic lead signs in from the
queue's link, reads the summary, the three server-drawn SVG charts named by their captions and
their tables, and downloads the CSV; axe-core finds no violation at all, on a phone and on a
desktop, and the page does not scroll sideways on the 360 px phone.  A plain clinician gets a
403."""

import csv
import datetime
import io
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import Alert, AuditEvent, Clinic, Clinician, DeliveryAttempt, Notification
from core.roles import CLINICIANS_GROUP
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    assert_no_axe_violations,
    assert_no_sideways_scroll,
    signed_in,
)
from tests.factories import COMMITTED, make_case

pytestmark = [pytest.mark.e2e, COMMITTED]

LEAD_PASSWORD = "lead-password"


@pytest.fixture
def lead(django_user_model):
    """Lee, a clinic lead: a clinician at the default clinic who may see the alert response
    report (``clinic.view_alert_response``)."""
    user = django_user_model.objects.create_user(username="lee", email="lee@example.org",
                                                 password=LEAD_PASSWORD)
    user.groups.add(Group.objects.get(name=CLINICIANS_GROUP))
    user.user_permissions.add(Permission.objects.get(codename="view_alert_response"))
    Clinician.objects.create(name="Lee Lead", user=user, email=user.email).clinics.add(
        Clinic.objects.get(is_default=True))
    return user


@pytest.fixture
def this_weeks_alerts(live_server):
    """This week: an emergency acknowledged after 2 minutes, urgent alerts after 4 and 10
    minutes (median 4 min, 90th percentile 10 min), one escalated urgent alert nobody has
    acknowledged, and a failed email delivery."""
    now = timezone.now()
    monday = timezone.localtime(now).date() - datetime.timedelta(
        days=timezone.localtime(now).weekday())
    raised = max(timezone.make_aware(datetime.datetime.combine(monday, datetime.time(0))),
                 now - datetime.timedelta(minutes=30))
    made = []
    for urgency, minutes, level in (("emergency", 2, 0), ("urgent", 4, 0), ("urgent", 10, 0),
                                    ("urgent", None, 1)):
        submission = make_case(urgency)
        Alert.objects.filter(submission=submission).update(
            created_at=raised, level=level,
            acknowledged_at=raised + datetime.timedelta(minutes=minutes) if minutes else None)
        made.append(Alert.objects.get(submission=submission))
    pager = Clinician.objects.create(name="Dr Pager", email="pager@clinic.test")
    notification = Notification.objects.create(alert=made[0], clinician=pager, level=0)
    DeliveryAttempt.objects.create(notification=notification, channel="email",
                                   outcome=DeliveryAttempt.Outcome.PERMANENT_FAILURE,
                                   started_at=raised, error="recipient refused: 550")
    return made


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_clinic_lead_reads_the_alert_response_report(open_page, lead, this_weeks_alerts,
                                                       viewport):
    page = signed_in(open_page, "/queue/", viewport, "lee", LEAD_PASSWORD)
    with page.expect_navigation():
        page.get_by_role("link", name="Alert response").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Alert response")
    summary = page.locator("#report-summary")
    expect(summary).to_contain_text("4 alerts at Bedford")
    expect(summary).to_contain_text("3 acknowledged, 1 not (yet) acknowledged, 1 escalated.")
    expect(summary).to_contain_text("median 4 min 0 s, 90th percentile 10 min 0 s.")

    # Three charts, SVG images named by their captions, drawn without script or inline style.
    expect(page.get_by_role("img")).to_have_count(3)
    alerts = page.get_by_role("img", name=re.compile("Alerts raised: stacked bars"))
    times = page.get_by_role("img", name=re.compile("Median .* and 90th percentile"))
    failures = page.get_by_role("img", name=re.compile("Delivery attempts that failed"))
    for chart in (alerts, times, failures):
        expect(chart).to_have_js_property("tagName", "svg")
    expect(alerts.locator("rect.bar--emergency title")).to_contain_text(": 1 emergency")
    expect(alerts.locator("rect.bar--urgent title")).to_contain_text(": 3 urgent")
    expect(times.locator("rect.bar--median title")).to_contain_text(
        "median time to acknowledge 4 min 0 s")
    expect(times.locator("rect.bar--p90 title")).to_contain_text(
        "90th percentile time to acknowledge 10 min 0 s")
    expect(failures.locator("rect.bar--channel-email title")).to_contain_text(
        ": 1 failed email deliveries")

    # The tables: the same figures, this week last.
    alerts_table = page.get_by_role("region", name="Table of alerts per week")
    expect(alerts_table.locator("tbody tr").last.locator("td")).to_have_text(
        ["1", "3", "1", "1"])
    times_table = page.get_by_role("region", name="Table of the time to acknowledge per week")
    expect(times_table.locator("tbody tr").last.locator("td")).to_have_text(
        ["3", "4 min 0 s", "10 min 0 s"])

    assert_no_axe_violations(page)
    assert_no_sideways_scroll(page)
    assert AuditEvent.objects.filter(actor=lead,
                                     action=AuditEvent.Action.VIEW_REPORT).exists()


def test_the_report_downloads_as_csv(open_page, lead, this_weeks_alerts):
    page = signed_in(open_page, "/alert-response/", DESKTOP, "lee", LEAD_PASSWORD)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()

    assert re.fullmatch(r"alert-response-\d{4}-\d{2}-\d{2}\.csv",
                        download.value.suggested_filename)
    with open(download.value.path(), encoding="utf-8") as saved:
        rows = list(csv.reader(io.StringIO(saved.read())))
    assert rows[0][:3] == ["week", "emergency", "urgent"]
    # Failed deliveries by channel: email, text, webhook, Slack, Teams.
    assert rows[-1] == ["all weeks", "1", "3", "4", "3", "1", "240", "600", "1", "1", "0", "0",
                        "0", "0"]


def test_a_clinician_who_is_not_a_lead_gets_a_403(open_page, clinician):
    page = signed_in(open_page, "/queue/", DESKTOP, "clinician", "clinician-password")
    expect(page.get_by_role("link", name="Alert response")).to_have_count(0)

    # Through the page's own cookies, not a navigation: the browser-problems watcher counts
    # every HTTP error a page loads as a fault of the page.
    response = page.request.get("/alert-response/")

    assert response.status == 403
