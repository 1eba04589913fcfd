"""axe-core finds no serious or critical accessibility problem on the patient's pages: the
form, the form with errors, and the advice page of every urgency tier (the urgent one both while
the clinic is open and while it is closed), on a phone and on a desktop."""

import datetime
import re
import zoneinfo

import pytest
from playwright.sync_api import expect

from intake import views
from intake.advice import advice_for
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    SCREENS,
    assert_accessible,
    fill_answers,
    fill_case,
    fill_patient,
    next_page,
    scroll_width,
    send,
)
from tests.factories import COMMITTED, PATIENT, ROUTINE

pytestmark = [pytest.mark.e2e, COMMITTED]

LONDON = zoneinfo.ZoneInfo("Europe/London")
# The default clinic is open Monday to Friday, 9:00 to 17:00, London time.
WEDNESDAY_MORNING = datetime.datetime(2026, 11, 25, 11, 0, tzinfo=LONDON)
SATURDAY_MORNING = datetime.datetime(2026, 11, 28, 11, 0, tzinfo=LONDON)



@pytest.fixture
def advice_at(monkeypatch):
    """``advice_at(moment)``: the advice page tells the advice for ``moment``, not for now (the
    live server runs in this process, so the patch reaches it)."""

    def at(moment: datetime.datetime) -> None:
        monkeypatch.setattr(
            views, "advice_for",
            lambda urgency, clinic, _now, **flags: advice_for(urgency, clinic, moment, **flags),
        )

    return at


@SCREENS
def test_every_page_of_the_form_is_accessible(open_page, viewport):
    page = open_page("/", viewport=viewport)
    assert_accessible(page)
    fill_patient(page)
    next_page(page)
    while page.get_by_role("button", name="Continue").count():
        assert_accessible(page)
        if page.locator("#question-history_of_cancer").count():
            # The conditional questions too, once shown.
            page.check("#answer-history_of_cancer-true")
            page.check("#answer-recent_trauma-true")
            assert_accessible(page)
            page.check("#answer-history_of_cancer-false")
            page.check("#answer-recent_trauma-false")
        fill_answers(page, ROUTINE)
        next_page(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before sending them")
    assert_accessible(page)


@SCREENS
def test_the_form_with_errors_is_accessible(open_page, viewport):
    page = open_page("/", viewport=viewport)
    fill_patient(page, {**PATIENT, "email": "not an email", "date_of_birth": ""})
    next_page(page)
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page)
    fill_patient(page)
    next_page(page)
    fill_answers(page, {**ROUTINE, "pain_severity": 11})
    next_page(page)
    expect(page.locator("#error-summary")).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize(
    ("vignette", "moment", "headline"),
    [
        ("v2-07", WEDNESDAY_MORNING, "Call 999 now."),
        # Urgent for a possible heart cause: the page also says when to call 999.
        ("v2-15", WEDNESDAY_MORNING, "We will phone you today."),
        ("v2-15", SATURDAY_MORNING, "Call 111 now for urgent advice."),
        ("v2-04", WEDNESDAY_MORNING, "Thank you. A clinician will look at your answers."),
        ("v2-01", WEDNESDAY_MORNING, "Thank you. We will see you at your appointment."),
    ],
    ids=["emergency", "urgent-open", "urgent-closed", "soon", "routine"],
)
def test_each_advice_page_is_accessible(
    open_page, advice_at, vignettes, vignette, moment, headline
):
    advice_at(moment)
    page = open_page("/")
    fill_case(page, vignettes[vignette])
    send(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(headline)
    assert_accessible(page)
    assert scroll_width(page) <= PHONE["width"]

    # The same page on a desktop (the session carries the submission's reference).
    desktop = page.context.new_page()
    desktop.set_viewport_size(DESKTOP)
    desktop.goto("/advice/")
    expect(desktop.get_by_role("heading", level=1)).to_have_text(headline)
    assert_accessible(desktop)
    assert re.search(r"[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}",
                     desktop.locator(".reference").inner_text())
