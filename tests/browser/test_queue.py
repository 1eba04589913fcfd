"""The clinicians' pages in headless Chromium as a clinician uses them: signing in through the
real form, the queue updating itself while an emergency arrives through the real API, the case
opened with the keyboard and acknowledged; the queue with the keyboard alone, the focus kept
where the user put it while the queue updates, and axe-core on every page, on a phone and on a
desktop.

queue.js asks for the rows every 3 s and the issue promises a new case within 5 s: the test of
that promise waits for the real polls (about 3 s each).  The tests that only need polls to
happen (the focus kept, the stop noticed, the hidden emergency, the 304s) have the page ask
every second (``QUEUE_POLL_SECONDS``, ``quick_polls``)."""

import re
import time

import pytest
from playwright.sync_api import expect

from clinic.models import Alert, AuditEvent
from clinic.review import cases
from screening.models import Flag
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    SCREENS,
    assert_accessible,
    assert_focus_visible,
    press_tab_until,
    row,
    scroll_width,
    sign_in,
    signed_in,
    submit_by_http,
)
from tests.factories import CHEST_PAIN, COMMITTED, PATIENT, copies, make_case

pytestmark = [pytest.mark.e2e, COMMITTED]

ARRIVES_WITHIN_S = 5
PASSWORD = "clinician-password"  # the ``clinician`` fixture's
TIER_WORDS = {"emergency": "Emergency", "urgent": "Urgent", "soon": "Soon", "routine": "Routine"}


def submit_through_the_api(live_server, answers: dict = CHEST_PAIN) -> str:
    """A patient's submission by a plain HTTP POST to the live server, as the intake app sends
    it; its reference."""
    return submit_by_http(live_server, answers, PATIENT)


@pytest.fixture
def quick_polls(settings):
    """The queue page polls every second instead of every 3 s (the live server runs in this
    process, so the setting reaches the page it renders)."""
    settings.QUEUE_POLL_SECONDS = 1


def open_signed_in(open_page, viewport: dict) -> object:
    """The queue, asked for before signing in: the login page, then the queue once the
    clinician has signed in through the form."""
    return signed_in(open_page, "/queue/", viewport, "clinician", PASSWORD)


@SCREENS
def test_an_emergency_appears_unreloaded_is_opened_explained_and_acknowledged(
    open_page, live_server, clinician, viewport
):
    waiting = make_case("routine", name="Alan Turing", minutes_ago=20)
    page = open_signed_in(open_page, viewport)
    expect(page).to_have_url(re.compile(r"/queue/$"))
    expect(page.locator("#queue-rows tr")).to_have_count(1)
    expect(row(page, waiting.reference)).to_be_visible()
    page.evaluate("window.notReloaded = true")

    reference = submit_through_the_api(live_server)
    sent = time.monotonic()
    arrived = row(page, reference)
    expect(arrived).to_be_visible(timeout=ARRIVES_WITHIN_S * 1000)
    seconds = time.monotonic() - sent
    print(f"the emergency appeared {seconds:.2f} s after it was sent")
    assert seconds < ARRIVES_WITHIN_S
    assert page.evaluate("window.notReloaded"), "the page was reloaded"
    # At the top, the urgency as a word, and announced visibly and to screen readers.
    expect(page.locator("#queue-rows tr").first).to_have_attribute("data-reference", reference)
    expect(arrived.locator(".tier")).to_have_text("Emergency")
    expect(arrived).to_contain_text("Not acknowledged")
    expect(page.get_by_role("alert")).to_contain_text(
        f"new emergency case {reference} ({PATIENT['full_name']})")
    assert_accessible(page)
    assert scroll_width(page) <= viewport["width"]

    # Opened with the keyboard.
    link = arrived.get_by_role("link", name=reference)
    link.focus()
    assert_focus_visible(page)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/cases/{reference}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")

    # Why it was flagged: the flag, its explanation, and the answer that fired it highlighted.
    flag = Flag.objects.get(submission__reference=reference, rule_code="cardiac_chest_pain")
    why = page.get_by_role("region", name="Why it was flagged")
    expect(why).to_contain_text("cardiac_chest_pain")
    expect(why).to_contain_text(flag.explanation)
    expect(why.get_by_role("link", name=re.compile("pain, pressure, tightness"))).to_have_attribute(
        "href", "#answer-chest_pain")
    question = page.locator("#answer-chest_pain")
    answer = question.locator("xpath=following-sibling::dd[1]")
    expect(question).to_have_class("evidence")
    expect(question).to_contain_text("(flagged)")
    expect(answer).to_have_class("evidence")
    expect(answer).to_have_text("Yes")
    unflagged = page.locator("#answer-breathing_difficulty + dd")
    background = "e => getComputedStyle(e).backgroundColor"
    assert answer.evaluate(background) != unflagged.evaluate(background), "highlighted"
    assert_accessible(page)
    assert scroll_width(page) <= viewport["width"]

    with page.expect_navigation():
        page.get_by_role("button", name="Acknowledge alert").click()
    expect(page.get_by_role("status")).to_contain_text("Alert acknowledged")
    expect(page.get_by_role("button", name="Acknowledge alert")).to_have_count(0)
    assert Alert.objects.get(submission__reference=reference).acknowledged_by == clinician
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACKNOWLEDGE,
                                     submission__reference=reference, actor=clinician).exists()
    assert_accessible(page)

    with page.expect_navigation():
        page.get_by_role("link", name="Back to the queue").click()
    expect(row(page, reference)).to_contain_text("Acknowledged by clinician")
    assert_accessible(page)


@SCREENS
def test_every_tier_is_a_word_and_axe_passes_every_clinician_page(
    open_page, clinician, viewport
):
    made = {urgency: make_case(urgency, minutes_ago=minutes) for urgency, minutes in
            [("routine", 90), ("soon", 60), ("urgent", 30), ("emergency", 5)]}
    cases.acknowledge_case(clinician, made["emergency"].reference)
    cases.claim_case(clinician, made["urgent"].reference)
    reviewed = make_case("soon", name="Grace Hopper")
    cases.review_case(clinician, reviewed.reference, note="Called her: physio next week.")

    page = open_page("/queue/", viewport=viewport)
    assert_accessible(page)
    sign_in(page, "clinician", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.locator("#error-summary")).to_be_focused()  # read out first
    assert_accessible(page)
    sign_in(page, "clinician", PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Review queue")

    for urgency, submission in made.items():
        expect(row(page, submission.reference).locator(".tier")).to_have_text(TIER_WORDS[urgency])
    expect(row(page, made["emergency"].reference)).to_contain_text("Acknowledged by clinician")
    expect(row(page, made["urgent"].reference)).to_contain_text("Being called by clinician")
    page.get_by_text("Filter and search").click()
    expect(page.get_by_label("Urgency")).to_be_visible()
    assert_accessible(page)
    assert scroll_width(page) <= viewport["width"]

    for reference in (made["emergency"].reference, made["urgent"].reference,
                      made["routine"].reference, reviewed.reference):
        page.goto(f"/cases/{reference}/")
        expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
        assert_accessible(page)
        assert scroll_width(page) <= viewport["width"]


def test_the_queue_works_with_the_keyboard_alone(open_page, clinician):
    emergency = make_case("emergency", minutes_ago=5)
    routine = make_case("routine", minutes_ago=50)
    page = open_signed_in(open_page, DESKTOP)

    def tab_to(description: str, found: str) -> None:
        press_tab_until(page, found, description, most=25)

    tab_to("The skip link", "e.classList.contains('skip-link')")
    tab_to("The filters", "e.tagName === 'SUMMARY'")
    page.keyboard.press("Enter")
    expect(page.locator("details.filters")).to_have_attribute("open", "")
    tab_to("The urgency filter", "e.id === 'filter-urgency'")
    page.keyboard.type("Emergency")
    expect(page.get_by_label("Urgency")).to_have_value("emergency")
    tab_to("Apply", "e.textContent === 'Apply'")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator("#queue-rows tr")).to_have_count(1)
    expect(row(page, emergency.reference)).to_be_visible()
    expect(row(page, routine.reference)).to_have_count(0)
    expect(page.locator("caption")).to_contain_text("Filtered")
    expect(page.get_by_label("Urgency")).to_have_value("emergency")
    tab_to("The case's link", f"e.textContent === '{emergency.reference}'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {emergency.reference}")
    tab_to("Acknowledge alert", "e.textContent === 'Acknowledge alert'")


def test_polling_leaves_the_focus_where_the_user_put_it(open_page, live_server, clinician,
                                                       quick_polls):
    ada = make_case("urgent", name="Ada Lovelace", minutes_ago=10)
    page = open_signed_in(open_page, DESKTOP)

    # Typing in the search box while a case arrives: the focus and the text stay.
    page.get_by_text("Filter and search").click()
    search = page.get_by_label("Reference or patient name")
    search.press_sequentially("Love")
    first = submit_through_the_api(live_server)
    expect(row(page, first)).to_be_visible(timeout=ARRIVES_WITHIN_S * 1000)
    expect(search).to_be_focused()
    search.press_sequentially("lace")
    expect(search).to_have_value("Lovelace")

    # On a case's link when its row is replaced and another case arrives above it: the focus
    # moves to the same case's link in the new row, still drawn.
    link = row(page, ada.reference).get_by_role("link", name=ada.reference)
    link.focus()
    cases.claim_case(clinician, ada.reference)
    second = submit_through_the_api(live_server)
    expect(row(page, ada.reference)).to_contain_text("Being called by clinician",
                                                     timeout=ARRIVES_WITHIN_S * 1000)
    expect(row(page, second)).to_be_visible()
    expect(link).to_be_focused()
    assert_focus_visible(page)

    # When that case leaves the queue, the focus stays in the table, not at the top of the page.
    cases.review_case(clinician, ada.reference, note="")
    expect(row(page, ada.reference)).to_have_count(0, timeout=ARRIVES_WITHIN_S * 1000)
    expect(page.locator("#queue-table")).to_be_focused()
    assert_focus_visible(page)


def test_the_queue_says_when_it_has_stopped_updating(open_page, clinician, quick_polls):
    page = open_signed_in(open_page, PHONE)
    status = page.locator("#queue-status")
    expect(status).to_contain_text("last updated", timeout=ARRIVES_WITHIN_S * 1000)

    page.context.clear_cookies()  # signed out, as when the session runs out

    expect(page.get_by_role("alert")).to_contain_text(
        "stopped updating because you are signed out: reload the page to sign in",
        timeout=ARRIVES_WITHIN_S * 1000)
    expect(status).to_contain_text("Not updating since")


def test_an_emergency_hidden_by_the_filters_is_still_announced(open_page, live_server,
                                                               clinician, quick_polls):
    page = open_signed_in(open_page, DESKTOP)
    page.get_by_text("Filter and search").click()
    page.get_by_label("Urgency").select_option("routine")
    with page.expect_navigation():
        page.get_by_role("button", name="Apply").click()
    reference = submit_through_the_api(live_server)
    announcer = page.locator("#queue-announcer")
    expect(announcer).to_contain_text(reference, timeout=ARRIVES_WITHIN_S * 1000)
    expect(announcer).to_contain_text("hidden by your filters")
    expect(row(page, reference)).to_have_count(0)
    expect(announcer.get_by_role("link", name=reference)).to_have_attribute(
        "href", f"/cases/{reference}/")


def test_show_more_appends_the_next_cases_and_polls_are_answered_304(open_page, clinician,
                                                                      quick_polls):
    copies(make_case("routine", minutes_ago=60), 59)
    order = list(cases.queue(clinician).values_list("reference", flat=True))
    statuses = []
    page = open_signed_in(open_page, DESKTOP)
    page.on("response", lambda response: "/queue/rows/" in response.url
            and statuses.append(response.status))
    expect(page.locator("#queue-rows tr")).to_have_count(50)
    page.evaluate("window.notReloaded = true")

    more = page.get_by_role("link", name="Show 50 more cases")
    more.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#queue-rows tr")).to_have_count(60)
    assert page.evaluate("window.notReloaded"), "the page was reloaded"
    assert page.locator("#queue-rows tr").evaluate_all(
        "rows => rows.map(r => r.dataset.reference)") == order
    # The focus on the first new case; nothing more to show.
    expect(row(page, order[50]).get_by_role("link", name=order[50])).to_be_focused()
    expect(more).to_be_hidden()

    # The polls ask for all 60 and, nothing having changed, get 304 (the rows stay).
    expect(page.locator("#queue-status")).to_contain_text("last updated",
                                                          timeout=ARRIVES_WITHIN_S * 1000)
    # Two polls answered 304 (where a fixed 7 s wait was): the rows are kept across
    # a poll that changed nothing, and the one after it came, so the polling went on.
    for _ in range(2):
        page.wait_for_event("response", lambda response: "/queue/rows/" in response.url
                            and response.status == 304, timeout=10_000)
    assert 304 in statuses, statuses
    expect(page.locator("#queue-status")).not_to_contain_text("Not updating")
    expect(page.locator("#queue-rows tr")).to_have_count(60)
    assert_accessible(page)
