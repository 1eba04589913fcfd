"""Outcomes in headless Chromium (issue 14): a clinician opens a case from the queue and marks
it reviewed with what happened and their judgement of the screening (two taps and a flag), with
the mouse and with the keyboard alone; a clinical lead reads the screening performance page
(the case judged too low first, the SVG charts and their tables, the CSV), which a plain
clinician may not see.  axe-core finds no violation at all on either page, on a phone and on a
desktop, and neither page scrolls sideways on the 360 px phone."""

import csv
import io
import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from playwright.sync_api import expect

from clinic.models import AuditEvent, Clinic, Clinician
from clinic.review import cases
from core.roles import CLINICIANS_GROUP
from intake.models import Submission
from screening.models import Flag, Rule
from tests.browser.pages import (
    DESKTOP,
    PHONE,
    SCREENS,
    assert_focus_visible,
    assert_no_axe_violations,
    assert_no_sideways_scroll,
    press_tab_until,
    row,
    signed_in,
    submit_by_http,
)
from tests.factories import COMMITTED, patient_aged, routine_answers

pytestmark = [pytest.mark.e2e, COMMITTED]

# Soon: one heart-related feature (cardiac_feature) and pain spreading to an arm
# (radiating_arm_pain).
LEFT_ARM = routine_answers(pain_radiates_to=["left_arm"])
CLINICIAN_PASSWORD = "clinician-password"  # the ``clinician`` fixture's
LEAD_PASSWORD = "lead-password"
MARKED_REVIEWED = "Marked reviewed: the case has left the open queue."
WEEKLY_CHART = "Stacked bars, one per week"
RULES_CHART = "The share of intakes each rule fired on"


@pytest.fixture
def lead(django_user_model):
    """Lena, a clinical lead: a clinician at the default clinic who may also see how the
    screening performs (``screening.view_performance``)."""
    user = django_user_model.objects.create_user(
        username="lena", email="lena@example.org", password=LEAD_PASSWORD)
    user.groups.add(Group.objects.get(name=CLINICIANS_GROUP))
    user.user_permissions.add(Permission.objects.get(content_type__app_label="screening",
                                                     codename="view_performance"))
    profile = Clinician.objects.create(name="Lena Lead", user=user, email=user.email)
    profile.clinics.add(Clinic.objects.get(is_default=True))
    return user


def submit(live_server, answers: dict, age: int = 45) -> str:
    """A patient's submission, POSTed to the live server's API as the intake app sends it; its
    reference."""
    patient = patient_aged(age, timezone.localdate(), full_name="Mary Seacole")
    return submit_by_http(live_server, answers, patient)


def review_form(page):
    return page.locator("form.review-form")


def assert_reviewed(reference: str, user, outcome: str, judgement: str, flag: str) -> None:
    submission = Submission.objects.get(reference=reference)
    assert (submission.status, submission.reviewed_by, submission.outcome,
            submission.triage_judgement, submission.judged_flag) == (
        Submission.Status.REVIEWED, user, outcome, judgement, flag)
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVIEW, reference=reference)
    assert event.actor == user
    assert f"outcome {outcome}" in event.detail
    assert f"judged {judgement} ({flag})" in event.detail


# --- Review with an outcome --------------------------------------------------------------


@SCREENS
def test_a_clinician_marks_a_case_reviewed_with_what_happened_and_a_judgement_of_a_flag(
    open_page, live_server, clinician, viewport
):
    reference = submit(live_server, LEFT_ARM)
    fired = Flag.objects.get(submission__reference=reference, rule_code="cardiac_feature")
    assert Submission.objects.get(reference=reference).urgency == "soon"
    page = signed_in(open_page, "/queue/", viewport, "clinician", CLINICIAN_PASSWORD)

    with page.expect_navigation():
        row(page, reference).get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
    form = review_form(page)
    expect(form).to_be_visible()
    what_happened = page.get_by_role("group", name=re.compile(r"^What happened\?"))
    urgency_right = page.get_by_role("group",
                                     name=re.compile(r"^Was the screening's urgency right\?"))
    expect(what_happened.get_by_role("radio")).to_have_count(len(Submission.Outcome.choices))
    expect(urgency_right.get_by_role("radio")).to_have_count(len(Submission.Judgement.choices))
    which_flag = page.get_by_label("Which flag?")
    expect(which_flag).to_have_value("")  # "No particular flag" until one is chosen
    # The form and its choices are on the screen without sideways scrolling: checked with axe
    # and the scroll width before anything is chosen, as the clinician first sees it.
    assert_no_axe_violations(page)
    assert_no_sideways_scroll(page)
    if viewport is PHONE:  # two taps: each choice is a target at least 44 px tall
        for option in form.locator("label.option").all():
            assert option.bounding_box()["height"] >= 44, option.inner_text()

    what_happened.get_by_label("Seen at the appointment").check()
    urgency_right.get_by_label("Too high").check()
    which_flag.select_option(label=fired.display_title)
    expect(which_flag).to_have_value("cardiac_feature")
    page.get_by_label("Review note").fill("Called her: the arm pain is from the neck.")
    assert_no_axe_violations(page)
    assert_no_sideways_scroll(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Mark reviewed").click()

    expect(page).to_have_url(re.compile(r"/queue/$"))
    expect(page.get_by_role("status")).to_contain_text(MARKED_REVIEWED)
    expect(row(page, reference)).to_have_count(0)
    assert_reviewed(reference, clinician, "appointment", "too_high", "cardiac_feature")
    assert Submission.objects.get(reference=reference).review_note == (
        "Called her: the arm pain is from the neck.")


def test_a_clinician_reviews_with_an_outcome_using_the_keyboard_alone(
    open_page, live_server, clinician
):
    reference = submit(live_server, LEFT_ARM)
    page = signed_in(open_page, "/queue/", DESKTOP, "clinician", CLINICIAN_PASSWORD)

    def tab_to(description: str, found: str) -> None:
        press_tab_until(page, found, description, most=30)

    def arrow_to(value: str, most: int = 5) -> None:
        """Press the down arrow in a radio group until the radio for ``value`` is focused (and,
        so, chosen), the focus drawn at every stop."""
        for _ in range(most):
            if page.evaluate("document.activeElement.value") == value:
                return
            page.keyboard.press("ArrowDown")
            assert_focus_visible(page)
        pytest.fail(f"the radio for {value} is not reached in {most} presses of the arrow")

    tab_to("The case's link", f"e.textContent === '{reference}'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")

    # A radio group is one Tab stop; the arrow keys choose within it, Space chooses the
    # focused one.
    tab_to("What happened?", "e.name === 'outcome'")
    page.keyboard.press("Space")
    arrow_to("appointment")
    expect(page.get_by_label("Seen at the appointment")).to_be_checked()
    tab_to("Was the screening's urgency right?", "e.name === 'triage_judgement'")
    page.keyboard.press("Space")
    arrow_to("too_high")
    expect(page.get_by_label("Too high")).to_be_checked()
    expect(page.get_by_label("Seen at the appointment")).to_be_checked()  # still
    tab_to("Which flag?", "e.id === 'judged-flag'")
    page.keyboard.type("One heart")  # a closed select's type-ahead
    expect(page.get_by_label("Which flag?")).to_have_value("cardiac_feature")
    tab_to("Mark reviewed", "e.textContent === 'Mark reviewed'")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text(MARKED_REVIEWED)
    expect(row(page, reference)).to_have_count(0)
    assert_reviewed(reference, clinician, "appointment", "too_high", "cardiac_feature")


# --- The screening performance page --------------------------------------------------------


@pytest.fixture
def two_reviewed_cases(live_server, lead):
    """Three intakes screened with rule set version 2, two of them reviewed by Lena: a routine
    one judged too low (the heart rule that should have fired, she sent the patient to A&E)
    and a left-arm one judged right about ``cardiac_feature``.  Their references, by name."""
    missed = submit(live_server, routine_answers(), age=62)
    fine = submit(live_server, LEFT_ARM)
    unreviewed = submit(live_server, routine_answers())
    cases.review_case(lead, missed, note="Crushing pain at the review call: 999.",
                      outcome="emergency_department", judgement="too_low",
                      judged_flag="cardiac_feature_risk")
    cases.review_case(lead, fine, note="", outcome="appointment", judgement="right",
                      judged_flag="cardiac_feature")
    return {"missed": missed, "fine": fine, "unreviewed": unreviewed}


def rule_codes_of(reference: str) -> set[str]:
    """The codes of every rule of the rule set that screened the case."""
    rule_set = Submission.objects.get(reference=reference).rule_set_id
    return set(Rule.objects.filter(rule_set_id=rule_set).values_list("code", flat=True))


def rule_row(page, code: str):
    return page.locator("section[aria-labelledby='rules-title'] tbody tr").filter(
        has=page.locator(".flag-code", has_text=re.compile(rf"^{code}$")))


@SCREENS
def test_a_clinical_lead_sees_the_case_judged_too_low_first_the_charts_and_the_tables(
    open_page, two_reviewed_cases, viewport
):
    missed, fine = two_reviewed_cases["missed"], two_reviewed_cases["fine"]
    page = signed_in(open_page, "/performance/", viewport, "lena", LEAD_PASSWORD)

    expect(page.get_by_role("heading", level=1)).to_have_text("Screening performance")
    main = page.locator("main")
    expect(main).to_contain_text("3 intakes screened with Rule set v2")
    expect(main).to_contain_text("right 1 time, too high 0 times, too low 1 time.")
    # The case judged too low is the first thing after the summary: the first section, a link.
    expect(page.locator("main h2").first).to_have_text("Judged too low")
    too_low = page.get_by_role("region", name="Judged too low")
    expect(too_low.locator("tbody tr")).to_have_count(1)
    link = too_low.get_by_role("link", name=missed)
    expect(link).to_have_attribute("href", f"/cases/{missed}/")
    expect(too_low.locator("tbody tr")).to_contain_text("cardiac_feature_risk")
    expect(too_low.locator("tbody tr")).to_contain_text("Sent to A&E / 999")
    expect(too_low.get_by_role("link", name=fine)).to_have_count(0)

    # The charts: SVG images named by their captions, with a bar per urgency and per rule.
    expect(page.get_by_role("img")).to_have_count(2)
    weekly = page.get_by_role("img", name=re.compile(WEEKLY_CHART))
    rules = page.get_by_role("img", name=re.compile(RULES_CHART))
    expect(weekly).to_have_js_property("tagName", "svg")
    expect(rules).to_have_js_property("tagName", "svg")
    # The routine pair and the soon one arrived this week: two bars stacked in one week.
    expect(weekly.locator("rect")).to_have_count(2)
    expect(weekly.locator("rect.bar--soon title")).to_contain_text(": 1 soon")
    expect(weekly.locator("rect.bar--routine title")).to_contain_text(": 2 routine")
    assert set(Flag.objects.values_list("rule_code", flat=True)) == {
        "cardiac_feature", "radiating_arm_pain"}  # on the left-arm case, none on the others
    expect(rules.locator("rect title")).to_have_text(
        ["One heart-related feature: 1 (33.3%)", "Pain spreads to an arm: 1 (33.3%)"])

    # The tables: the same week, and every rule of the rule set with its judgements.
    weeks = page.get_by_role("region", name="Intakes by urgency, per week").locator("tbody tr")
    expect(weeks).to_have_count(1)
    expect(weeks.locator("td")).to_have_text(["0", "0", "1", "2"])  # most urgent first
    expect(page.locator("section[aria-labelledby='rules-title'] tbody tr")).to_have_count(
        len(rule_codes_of(missed)))
    expect(rule_row(page, "cardiac_feature").locator("td")).to_have_text(
        ["soon", "1", "33%", "1", "0", "0"])
    expect(rule_row(page, "cardiac_feature_risk").locator("td")).to_have_text(
        ["urgent", "0", "0%", "0", "0", "1"])

    assert_no_axe_violations(page)
    assert_no_sideways_scroll(page)

    # The link opens the case.
    with page.expect_navigation():
        link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {missed}")


def test_the_performance_figures_download_as_csv(open_page, two_reviewed_cases):
    page = signed_in(open_page, "/performance/", DESKTOP, "lena", LEAD_PASSWORD)
    href = page.get_by_role("link", name="Download as CSV").get_attribute("href")

    response = page.request.get("/performance/" + href)

    assert response.status == 200
    assert response.headers["content-type"].split(";")[0] == "text/csv"
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text())))
    assert rows[0] == ["rule", "title", "tier", "fired", "share of intakes", "judged right",
                       "judged too high", "judged too low"]
    by_rule = {r[0]: r for r in rows[1:rows.index([])]}
    assert by_rule["cardiac_feature"] == ["cardiac_feature", "One heart-related feature", "soon",
                                          "1", "0.3333", "1", "0", "0"]
    assert by_rule["cardiac_feature_risk"][3:] == ["0", "0.0000", "0", "0", "1"]
    assert by_rule.keys() == rule_codes_of(two_reviewed_cases["missed"])

    # Clicked, as a lead would: the browser saves it as a file.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download as CSV").click()
    assert download.value.suggested_filename == "screening-rule-set-2.csv"
    with open(download.value.path(), encoding="utf-8") as saved:
        assert saved.read().splitlines()[0].startswith("rule,title,tier,fired")


def test_a_clinician_without_the_permission_gets_a_403_for_the_performance_page(
    open_page, live_server, clinician
):
    submit(live_server, LEFT_ARM)
    page = signed_in(open_page, "/queue/", DESKTOP, "clinician", CLINICIAN_PASSWORD)

    # Through the page's own cookies, not a navigation: the browser-problems watcher counts
    # every HTTP error a page loads as a fault of the page.
    response = page.request.get("/performance/")

    assert response.status == 403
    assert not clinician.has_perm("screening.view_performance")
    assert "Screening performance" not in response.text()
