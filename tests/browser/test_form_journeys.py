"""The form a page at a time, as patients go through it (issue 17): every clinical vignette
filled in page by page in Chromium comes out with the urgency the API gives the same answers;
going back and forth keeps the answers; losing the connection at Send and pressing Back keeps
them; "Check your answers" changes one and comes back."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from core.throttling import SubmissionThrottle
from intake.models import Submission
from tests.browser.pages import (
    PHONE,
    fill_answers,
    fill_case,
    fill_intake,
    fill_patient,
    next_page,
    send,
    set_answers,
)
from tests.factories import COMMITTED, ROUTINE, VIGNETTES, patient_aged, post_submission

pytestmark = [
    pytest.mark.e2e,
    COMMITTED,
]


@pytest.fixture
def unthrottled(monkeypatch):
    """Eighty intakes from one address: no 429 after the first few dozen."""
    monkeypatch.setattr(SubmissionThrottle, "THROTTLE_RATES", {"submissions": None})


@pytest.mark.parametrize("case", VIGNETTES, ids=[case["id"] for case in VIGNETTES])
def test_every_vignette_through_the_pages_gets_the_urgency_the_api_gives(open_page, client,
                                                                       unthrottled, case):
    page = open_page("/", javascript=False)
    # Forty answer sets: put in at once (the clicking is what the other journeys test).
    fill_case(page, case, fill=set_answers)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Check your answers before sending them")
    send(page)
    by_form = Submission.objects.latest("pk")
    by_api = post_submission(client, {
        "patient": patient_aged(case["age"], timezone.localdate()),
        "answers": case["answers"]}).json()
    assert by_form.urgency == by_api["urgency"] == case["expected_urgency"], case["id"]
    assert sorted(by_form.flags.values_list("rule_code", flat=True)) == sorted(
        flag["code"] for flag in by_api["flags"]), case["id"]


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_back_and_forth_keeps_the_answers(open_page, javascript):
    page = open_page("/", javascript=javascript)
    fill_patient(page)
    next_page(page)
    fill_answers(page, {**ROUTINE, "pain_severity": 6, "pain_location": ["neck", "lower_back"]})
    next_page(page)
    expect(page.locator("#progress")).to_have_text("Step 3 of 4")
    page.go_back()  # the browser's own Back
    expect(page.locator("#progress")).to_have_text("Step 2 of 4")
    expect(page.locator("#answer-pain_severity")).to_have_value("6")
    expect(page.locator("#answer-pain_location-neck")).to_be_checked()
    expect(page.locator("#answer-pain_location-lower_back")).to_be_checked()
    page.get_by_role("link", name="Back").click()  # the page's own Back link
    expect(page.locator("#progress")).to_have_text("Step 1 of 4")
    expect(page.locator("#patient_full_name")).to_have_value("Ada Example")
    expect(page.get_by_label("Year")).to_have_value("1971")


def test_offline_at_send_then_back_keeps_the_answers(chromium, live_server):
    # A context of the test's own: the request that fails offline is the point of the test.
    context = chromium.new_context(base_url=live_server.url, viewport=PHONE, locale="en-GB")
    try:
        page = context.new_page()
        page.goto("/")
        fill_intake(page, ROUTINE)
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Check your answers before sending them")
        context.set_offline(True)
        page.get_by_role("button", name="Send my answers").click()
        page.wait_for_url(re.compile(r"^chrome-error://"))  # "No internet"
        context.set_offline(False)  # back in signal: the patient presses Back
        page.go_back()
        # The last page, as they left it: their answers are there.
        expect(page.locator("#progress")).to_have_text("Step 4 of 4")
        expect(page.locator(f"#answer-sex-{ROUTINE['sex']}")).to_be_checked()
        next_page(page)
        expect(page.locator("main")).to_contain_text("Ada Example")
        assert not Submission.objects.exists()
        send(page)
        expect(page).to_have_url(re.compile(r"/advice/$"))
        assert Submission.objects.get().full_name == "Ada Example"
    finally:
        context.close()


def test_check_your_answers_changes_one_answer_and_comes_back(open_page):
    page = open_page("/")
    fill_intake(page, ROUTINE)
    summary = page.locator(".summary-list-row", has_text="How bad has the pain been")
    expect(summary).to_contain_text(str(ROUTINE["pain_severity"]))
    summary.get_by_role("link", name=re.compile("Change")).click()
    expect(page.locator("#answer-pain_severity")).to_have_value(str(ROUTINE["pain_severity"]))
    page.fill("#answer-pain_severity", "9")
    with page.expect_navigation():
        page.get_by_role("button", name="Save and return to check your answers").click()
    expect(page.locator(".summary-list-row", has_text="How bad has the pain been")
           ).to_contain_text("9")
    send(page)
    assert Submission.objects.get().answers["pain_severity"] == 9
