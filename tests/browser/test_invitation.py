"""The invitation flow on a phone, in headless Chromium, checked by axe-core at every step: the
patient opens the link from their invitation, gives a wrong date of birth and is told how many
tries are left, gives the right one, finds the form filled in with what the clinic knows and
their appointment named, answers it, and gets their advice; the link then no longer works."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import Clinic
from intake.models import Appointment, Submission
from intake.services import appointments
from intake.services.invitations import token_of
from tests.browser.pages import (
    PHONE,
    assert_accessible,
    fill_answers,
    next_page,
    scroll_width,
    send,
)
from tests.factories import COMMITTED, ROUTINE

pytestmark = [
    pytest.mark.e2e,
    COMMITTED,
]


@pytest.fixture
def invitation_link() -> str:
    clinic = Clinic.objects.get(is_default=True)
    starts = (timezone.now() + datetime.timedelta(days=3)).replace(hour=10, minute=30)
    appointment = Appointment.objects.create(
        clinic=clinic, starts_at=starts, full_name="Ada Example",
        date_of_birth=datetime.date(1971, 3, 2), phone="07700 900123", email="ada@example.org")
    return f"/i/{token_of(appointments.invite(appointment))}/"


def enter_date_of_birth(page, day: str, month: str, year: str) -> None:
    page.get_by_label("Day").fill(day)
    page.get_by_label("Month").fill(month)
    page.get_by_label("Year").fill(year)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()


def test_a_patient_opens_their_invitation_on_a_phone(open_page, invitation_link):
    page = open_page(None, viewport=PHONE)
    page.goto(invitation_link)
    expect(page.get_by_role("heading", name="Check it is you")).to_be_visible()
    assert "Ada" not in page.content()
    assert_accessible(page)

    # A wrong date: told so, with the tries left, focusable from the summary.
    enter_date_of_birth(page, "3", "3", "1971")
    expect(page.locator("#error-summary")).to_contain_text("you have 4 more tries")
    expect(page.get_by_label("Day")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)

    enter_date_of_birth(page, "2", "3", "1971")
    assert page.url.endswith("/invitation/")
    expect(page.locator("#appointment")).to_contain_text("For your appointment at Bedford")
    expect(page.locator("#patient_full_name")).to_have_value("Ada Example")
    expect(page.locator("#patient_phone")).to_have_value("07700 900123")
    assert scroll_width(page) <= PHONE["width"]
    assert_accessible(page)

    next_page(page)
    while page.get_by_role("button", name="Continue").count():
        fill_answers(page, ROUTINE)
        next_page(page)
    send(page)
    assert page.url.endswith("/advice/")
    assert_accessible(page)
    submission = Submission.objects.get()
    assert submission.appointment is not None and submission.full_name == "Ada Example"

    # The link has done its job (410 Gone; asked outside the browser, whose every 4xx would
    # count as a fault of the page).
    used = Client().get(invitation_link)
    assert used.status_code == 410 and "already sent your answers" in used.content.decode()
