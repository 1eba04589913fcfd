"""The one-tap acknowledgement link in headless Chromium (issue 15): an emergency intake is
submitted to the live server, which sends its page through a real SMTP server on loopback; the
clinician opens the link from that email signed out, signs in through the login form, lands on
the link's page, taps once, and is on the case with the alert acknowledged.  axe-core finds no
violation at all on the link's page or the case, on a phone and on a desktop."""

import datetime
import json
import re
import urllib.request

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import Alert, AuditEvent, Clinic, DutyShift, OpeningHours
from support.real_services import SmtpServer
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    assert_no_axe_violations,
    assert_no_sideways_scroll,
    signed_in,
)
from tests.factories import COMMITTED, patient_aged, routine_answers

pytestmark = [
    pytest.mark.e2e,
    COMMITTED,
]

CLINICIAN_PASSWORD = "clinician-password"  # the ``clinician`` fixture's
END_OF_DAY = datetime.time(23, 59, 59, 999999)


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def on_duty(clinician, live_server, smtp, settings):
    """The default clinic open round the clock with the ``clinician`` on duty; pages go by
    email to the test's SMTP server, with links to the live server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp.port
    settings.SITE_URL = live_server.url
    clinic = Clinic.objects.get(is_default=True)
    clinic.opening_hours.all().delete()
    for day in range(7):
        OpeningHours.objects.create(clinic=clinic, weekday=day, opens=datetime.time(0),
                                    closes=END_OF_DAY)
        DutyShift.objects.create(clinic=clinic, clinician=clinician.clinician, weekday=day,
                                 starts=datetime.time(0), ends=END_OF_DAY)
    return clinic


def submit_emergency(live_server) -> str:
    patient = patient_aged(60, timezone.localdate(), full_name="Mary Seacole")
    request = urllib.request.Request(  # noqa: S310 - the live server's own http:// address
        live_server.url + "/api/submissions/", method="POST",
        data=json.dumps({"patient": patient,
                         "answers": routine_answers(chest_pain=True)}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
        body = json.load(response)
    assert body["urgency"] == "emergency"
    return body["reference"]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_link_in_the_email_signs_in_and_acknowledges_in_one_tap(
        open_page, live_server, on_duty, smtp, clinician, viewport):
    reference = submit_emergency(live_server)
    [mail] = smtp.wait_for_messages(1)
    assert mail.recipients == ("clinician@example.org",)
    [link] = re.findall(rf"{re.escape(live_server.url)}(/alerts/[A-Za-z0-9_-]+/)",
                        mail.text.replace("\r\n", "\n"))

    page = signed_in(open_page, link, viewport, "clinician", CLINICIAN_PASSWORD)
    expect(page).to_have_url(re.compile(rf"{re.escape(link)}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Acknowledge the emergency alert for case {reference}")
    assert Alert.objects.get(submission__reference=reference).acknowledged_at is None
    assert_no_axe_violations(page)
    assert_no_sideways_scroll(page)

    with page.expect_navigation():
        page.get_by_role("button", name="Acknowledge alert").click()
    expect(page).to_have_url(re.compile(rf"/cases/{reference}/$"))
    expect(page.get_by_role("status")).to_contain_text("Alert acknowledged")
    expect(page.get_by_text("What came of the call?")).to_be_visible()
    assert_no_axe_violations(page)
    assert_no_sideways_scroll(page)
    alert = Alert.objects.get(submission__reference=reference)
    assert alert.acknowledged_by == clinician
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACKNOWLEDGE, reference=reference,
                                     detail="from the link in a page").count() == 1

    # Keyboard alone: the outcome is recorded from the case page.
    page.get_by_label("Patient called: booked today").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Record outcome").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Recorded: Patient called: booked today")
    assert Alert.objects.get(pk=alert.pk).resolved_at is not None
    assert_no_axe_violations(page)
