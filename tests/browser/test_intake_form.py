"""The patient form at / driven in headless Chromium as patients use it, a page at a time: on a
phone, with and without JavaScript, with the keyboard alone, with mistakes, going back and
forth, losing the connection at Send, and with a double-click."""

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from intake import views
from intake.models import Submission
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    fill_answers,
    fill_case,
    fill_intake,
    fill_patient,
    go_to_page_with,
    next_page,
    scroll_width,
    send,
)
from tests.factories import COMMITTED, PATIENT, ROUTINE

pytestmark = [pytest.mark.e2e, COMMITTED]


def test_a_routine_submission_reaches_the_routine_advice(page, vignettes):
    fill_case(page, vignettes["v2-01"])
    send(page)

    expect(page).to_have_url(re.compile(r"/advice/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you. We will see you at your appointment.")
    submission = Submission.objects.get()
    assert submission.urgency == "routine"
    expect(page.locator(".reference")).to_have_text(submission.reference)


def test_an_emergency_shows_call_999_first_with_a_phone_link(page, vignettes):
    fill_case(page, vignettes["v2-07"])  # upper back pain and chest pain
    send(page)

    main = page.locator("main")
    first_heading = main.get_by_role("heading").first
    expect(first_heading).to_have_text("Call 999 now.")
    call = main.get_by_role("link", name=re.compile(r"^Call 999"))
    expect(call).to_have_attribute("href", "tel:999")
    # First thing on the page: the heading and the call link are in the top half of a phone.
    for element in (first_heading, call):
        box = element.bounding_box()
        assert box["y"] + box["height"] <= PHONE["height"] / 2
    # Nothing comes before the advice in the main content.
    assert main.evaluate("m => m.firstElementChild.classList.contains('advice')")
    assert Submission.objects.get().urgency == "emergency"


def test_an_error_is_summarised_linked_kept_and_then_fixed(page):
    fill_patient(page, {**PATIENT, "phone": ""})
    next_page(page)

    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()  # so a screen reader reads it first
    assert summary.bounding_box()["y"] < page.locator("h1").bounding_box()["y"], "at the top"
    phone_link = summary.get_by_role("link", name=re.compile("Enter a phone number"))
    expect(phone_link).to_have_attribute("href", "#patient_phone")
    expect(page.locator("#patient_phone")).to_have_accessible_description(
        re.compile("Enter a phone number"))
    phone_link.click()
    expect(page.locator("#patient_phone")).to_be_focused()
    expect(page.locator("#patient_full_name")).to_have_value("Ada Example")  # kept
    page.fill("#patient_phone", "+44 7700 900123")
    next_page(page)

    # The next page's problems are its own, the summary naming each question.
    fill_answers(page, {**ROUTINE, "pain_severity": 12})
    next_page(page)
    expect(summary).to_be_focused()
    severity_link = summary.get_by_role("link", name=re.compile("How bad has the pain been"))
    expect(severity_link).to_have_attribute("href", "#question-pain_severity")
    expect(summary.get_by_role("link")).to_have_count(1)
    expect(page.locator("#error-pain_severity")).to_contain_text("from 0 to 10")
    severity = page.locator("#answer-pain_severity")
    expect(severity).to_have_attribute("aria-invalid", "true")
    expect(severity).to_have_attribute("aria-describedby", re.compile(r"\berror-pain_severity\b"))
    severity_link.click()
    expect(severity).to_be_focused()
    expect(page.locator("label[for=answer-pain_severity]")).to_be_in_viewport()

    # Every answer was kept: the patient fixes only what was wrong.
    expect(severity).to_have_value("12")
    expect(page.locator("#answer-pain_location-between_shoulder_blades")).to_be_checked()
    assert not Submission.objects.exists()

    page.fill("#answer-pain_severity", "7")
    next_page(page)
    fill_intake_from_here(page, ROUTINE)
    send(page)
    # (The browser keeps the fragment of the error link it last followed.)
    expect(page).to_have_url(re.compile(r"/advice/(#[\w-]+)?$"))
    assert Submission.objects.get().answers["pain_severity"] == 7


def fill_intake_from_here(page, answers) -> None:
    while page.get_by_role("button", name="Continue").count():
        fill_answers(page, answers)
        next_page(page)


def test_a_conditional_question_appears_only_when_it_applies(page):
    go_to_page_with(page, "cancer_details")
    details = page.locator("#question-cancer_details")
    expect(details).to_be_hidden()

    page.check("#answer-history_of_cancer-true")
    expect(details).to_be_visible()
    expect(page.get_by_label(re.compile("What kind of cancer was it"))).to_be_enabled()
    # Shown because it applies: the "answer this only if" hint would only be noise now.
    expect(page.locator("#condition-cancer_details")).to_be_hidden()

    page.check("#answer-history_of_cancer-false")
    expect(details).to_be_hidden()
    expect(page.locator("#answer-cancer_details")).to_be_disabled()


def test_the_form_works_with_javascript_off(open_page):
    page = open_page("/", javascript=False)
    next_page(page)  # empty: the errors come from the server alone
    expect(page.locator("#error-summary")).to_be_visible()

    # A history of cancer with stable low back pain: "soon" (cancer_history, and the word
    # "cancer" in the patient's own text: free_text_mention).
    answers = {**ROUTINE, "pain_location": ["lower_back"], "history_of_cancer": True}
    go_to_page_with(page, "cancer_details", answers)
    # Every question is shown, a conditional one saying when to answer it.
    expect(page.locator("#question-cancer_details")).to_be_visible()
    expect(page.locator("#condition-cancer_details")).to_have_text(
        "Answer this only if you answered Yes to “Have you ever been told you have cancer?”.")
    fill_answers(page, answers)
    page.fill("#answer-cancer_details", "Breast cancer, treated in 2015.")
    next_page(page)
    send(page)
    expect(page).to_have_url(re.compile(r"/advice/$"))
    submission = Submission.objects.get()
    assert submission.urgency == "soon"
    assert submission.answers["cancer_details"] == \
        "Breast cancer, treated in 2015."


def test_a_360_pixel_phone_needs_no_sideways_scrolling(page, vignettes):
    assert scroll_width(page) <= PHONE["width"]
    fill_patient(page)
    next_page(page)
    next_page(page)  # the error state, with the longest messages
    assert scroll_width(page) <= PHONE["width"]

    # Every control is inside the screen and big enough to tap.
    controls = page.locator("main input:not([type=hidden]), main textarea, main button")
    for box in controls.evaluate_all(
        "els => els.filter(e => e.offsetParent !== null).map(e => {"
        " const r = e.getBoundingClientRect();"
        " return {id: e.id, left: r.left, right: r.right, width: r.width, height: r.height}; })"
    ):
        assert box["left"] >= 0 and box["right"] <= PHONE["width"], box
        assert min(box["width"], box["height"]) >= 24, f"too small to tap: {box}"
    # A choice can be tapped anywhere on its row, not only on the small box.
    option = page.locator("label[for=answer-pain_duration-1_to_3_weeks]").bounding_box()
    assert option["height"] >= 44 and option["width"] >= 200, option

    page.goto("/")
    fill_case(page, vignettes["v2-01"])
    assert scroll_width(page) <= PHONE["width"]  # check your answers
    send(page)
    expect(page.get_by_role("heading", level=1)).to_contain_text("We will see you")
    assert scroll_width(page) <= PHONE["width"]


@pytest.fixture
def slow_server(monkeypatch):
    """The live server takes half a second to store a submission, as it might on a bad day,
    so a second click lands while the first is still on its way."""
    store = views.submit_intake

    def slowly(**kwargs):
        time.sleep(0.5)
        return store(**kwargs)

    monkeypatch.setattr(views, "submit_intake", slowly)


def posts_to_the_form(page) -> list:
    sent = []
    page.on("request", lambda r: sent.append(r) if r.method == "POST" else None)
    return sent


def double_click_send(page) -> None:
    """Two clicks on the button 150 ms apart, as the mouse makes them (Chromium itself drops a
    second click that comes before the first has been sent), then wait for the advice."""
    button = page.locator("#send-answers")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.click(x, y)
    page.wait_for_timeout(150)
    page.mouse.click(x, y)  # without JavaScript, this cancels the first page load
    try:
        page.wait_for_url(re.compile(r"/advice/$"))
    except PlaywrightError as error:  # the first load, cancelled: wait for the second
        if "ERR_ABORTED" not in str(error):
            raise
        page.wait_for_url(re.compile(r"/advice/$"))


def test_a_double_click_on_send_makes_one_submission(page, slow_server):
    fill_intake(page, ROUTINE)
    posts = posts_to_the_form(page)
    double_click_send(page)

    expect(page.get_by_role("heading", level=1)).to_contain_text("We will see you")
    assert len(posts) == 1, "the button is disabled once the form is on its way"
    assert Submission.objects.count() == 1


def test_a_double_click_with_javascript_off_makes_one_submission(open_page, slow_server):
    page = open_page("/", javascript=False)
    fill_intake(page, ROUTINE)
    posts = posts_to_the_form(page)
    double_click_send(page)

    expect(page.get_by_role("heading", level=1)).to_contain_text("We will see you")
    assert len(posts) == 2, "without JavaScript both clicks send the form"
    # The draft's key makes the second the same submission as the first.
    submission = Submission.objects.get()
    expect(page.locator(".reference")).to_have_text(submission.reference)


# --- The keyboard alone -----------------------------------------------------------------------

FOCUSED = """() => {
  const e = document.activeElement;
  const style = getComputedStyle(e);
  return {
    key: e.id || e.getAttribute("href") || e.tagName,
    outline: style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth),
    shadow: style.boxShadow !== "none",
  };
}"""

# What Tab should stop on, in order: links, and each control except the radio buttons of a
# group after its first (a group is one stop; the arrow keys move within it).
TAB_STOPS = """() => {
  const seen = new Set();
  return [...document.querySelectorAll("a[href], input, textarea, button, select")]
    .filter(e => e.type !== "hidden" && !e.disabled && e.offsetParent !== null)
    .filter(e => {
      if (e.type !== "radio") { return true; }
      if (seen.has(e.name)) { return false; }
      seen.add(e.name);
      return true;
    })
    .map(e => e.id || e.getAttribute("href"));
}"""


def test_the_keyboard_alone_reaches_every_control_with_visible_focus(open_page):
    page = open_page("/", viewport=DESKTOP)
    expected = page.evaluate(TAB_STOPS)
    assert expected[0] == "#main", "the skip link comes first"
    assert expected[-3:] == ["continue", "tel:999", "tel:111"]  # then the footer's links

    reached = []
    for _ in range(len(expected) + 10):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        assert focused["outline"] >= 2 and focused["shadow"], f"focus not visible: {focused}"
        if reached and focused["key"] == reached[-1]:
            continue  # the day, month and year of the date of birth are a stop each
        reached.append(focused["key"])
        if len(reached) == len(expected):
            break
    assert reached == expected

    # The skip link is on the screen when it has focus, and goes to the main content.
    page.locator("a.skip-link").focus()
    box = page.locator("a.skip-link").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # Enter in a text box sends the page: empty, it comes back with its problems.
    page.locator("#patient_full_name").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#error-summary")).to_be_focused()

    # Space ticks a checkbox; the arrow keys choose within a group of radio buttons.
    go_to_page_with(page, "pain_location")
    page.locator("#answer-pain_location-neck").focus()
    page.keyboard.press("Space")
    expect(page.locator("#answer-pain_location-neck")).to_be_checked()
    page.locator("#answer-weakness_or_clumsiness-true").focus()
    page.keyboard.press("Space")
    expect(page.locator("#question-weakness_details")).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#answer-weakness_or_clumsiness-false")).to_be_checked()
    expect(page.locator("#question-weakness_details")).to_be_hidden()


UNLABELLED = """() =>
  [...document.querySelectorAll("input:not([type=hidden]), textarea, select")]
    .filter(e => e.labels.length === 0 || !e.labels[0].textContent.trim()).map(e => e.id)"""
OUTSIDE_A_GROUP = """() =>
  [...document.querySelectorAll("input[type=radio], input[type=checkbox]")]
    .filter(e => !e.closest("fieldset")?.querySelector(":scope > legend")?.textContent.trim())
    .map(e => e.id)"""


def test_every_control_is_labelled_and_every_group_has_a_legend(page):
    # As a screen reader user finds them: by the label, and by the group's legend.
    page.get_by_label("Full name").fill("Ada Example")
    expect(page.get_by_role("group", name="Date of birth").get_by_label("Day")).to_be_visible()
    fill_patient(page)
    while page.get_by_role("button", name="Continue").count():
        assert page.evaluate(UNLABELLED) == [], page.url
        assert page.evaluate(OUTSIDE_A_GROUP) == [], page.url
        if page.locator("#question-pain_location").count():
            break
        next_page(page)
    page.get_by_role("group", name=re.compile("Where is your pain")).get_by_label("Neck").check()
    expect(page.locator("#answer-pain_location-neck")).to_be_checked()
    severity = page.get_by_label(re.compile("How bad has the pain been"))
    expect(severity).to_have_accessible_description(re.compile("Pick a number from 0 to 10"))


def test_the_pages_load_only_their_own_scripts_and_styles(open_page):
    # Any violation would also fail the test through open_page; this pins the policy itself.
    page = open_page(None)
    response = page.goto("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.locator("script:not([src]), style, [style]").count() == 0
