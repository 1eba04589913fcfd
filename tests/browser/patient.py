"""What a patient does in the browser: fill the intake form page by page as a person would
(typing, ticking, choosing, pressing Continue), send it from "Check your answers", and what the
tests check on every page (axe-core, horizontal scrolling)."""

from __future__ import annotations

from django.utils import timezone

from tests.factories import PATIENT, ROUTINE, patient_aged

SEND = "Send my answers"
CONTINUE = "Continue"
SERIOUS = ("serious", "critical")


def fill_patient(page, patient: dict = PATIENT) -> None:
    """The "About you" page: the date of birth goes in its three boxes."""
    born = patient["date_of_birth"]
    year, month, day = born.split("-") if born else ("", "", "")
    page.fill("#patient_full_name", patient["full_name"])
    page.get_by_label("Day").fill(day.lstrip("0"))
    page.get_by_label("Month").fill(month.lstrip("0"))
    page.get_by_label("Year").fill(year)
    page.fill("#patient_phone", patient["phone"])
    page.fill("#patient_email", patient.get("email", ""))


def fill_answers(page, answers: dict) -> None:
    """Answer the questions on this page as the answers (typed as in the API and the
    vignettes) say, by the form's ids: ``answer-<code>-<value>`` for an option,
    ``answer-<code>`` for a box.  Answers to questions on other pages are skipped."""
    for code, value in answers.items():
        if not page.locator(f"#question-{code}").count():
            continue
        if isinstance(value, bool):
            page.check(f"#answer-{code}-{'true' if value else 'false'}")
        elif isinstance(value, list):
            for chosen in value:
                page.check(f"#answer-{code}-{chosen}")
        elif isinstance(value, int):
            page.fill(f"#answer-{code}", str(value))
        elif page.locator(f'[id="answer-{code}-{value}"]').count():  # one choice, or text
            page.check(f'[id="answer-{code}-{value}"]')
        else:
            page.fill(f"#answer-{code}", value)


def press(page, name: str) -> None:
    """Press the page's button called ``name`` and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def next_page(page) -> None:
    press(page, CONTINUE)


def fill_intake(page, answers: dict, patient: dict = PATIENT) -> None:
    """Fill in the whole form from its first page, page by page, up to "Check your answers"
    (not sent).  Stops early on a page that shows problems."""
    fill_patient(page, patient)
    next_page(page)
    while page.get_by_role("button", name=CONTINUE).count():
        if page.locator("#error-summary").count():
            return
        fill_answers(page, answers)
        next_page(page)


def go_to_page_with(page, code: str, answers: dict | None = None,
                    patient: dict = PATIENT) -> None:
    """From the first page, fill in the pages before the one that asks ``code``."""
    fill_patient(page, patient)
    next_page(page)
    while not page.locator(f"#question-{code}").count():
        fill_answers(page, answers if answers is not None else ROUTINE)
        next_page(page)


def fill_case(page, case: dict) -> None:
    """Fill in a clinical vignette: its answers, and a patient who is the case's age today (the
    version 2 rules use the age)."""
    fill_intake(page, case["answers"], patient_aged(case["age"], timezone.localdate()))


def send(page) -> None:
    """Press "Send my answers" on "Check your answers" and wait for the page it leads to."""
    press(page, SEND)


def serious_axe_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} - "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
        if violation["impact"] in SERIOUS
    ]


def assert_accessible(page) -> None:
    violations = serious_axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(violations)


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")
