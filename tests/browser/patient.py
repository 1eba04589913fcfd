"""What a patient does in the browser: fill the intake form as a person would (typing, ticking,
choosing), send it, and what the tests check on every page (axe-core, horizontal scrolling)."""

from __future__ import annotations

from django.utils import timezone

from tests.factories import PATIENT, patient_aged

SEND = "Send my answers"
SERIOUS = ("serious", "critical")


def fill_patient(page, patient: dict = PATIENT) -> None:
    for field, value in patient.items():
        page.fill(f"#patient_{field}", value)


def fill_answers(page, answers: dict) -> None:
    """Answer each question as the answers (typed as in the API and the vignettes) say, by the
    form's ids: ``answer-<code>-<value>`` for an option, ``answer-<code>`` for a box."""
    for code, value in answers.items():
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


def fill_intake(page, answers: dict, patient: dict = PATIENT) -> None:
    fill_patient(page, patient)
    fill_answers(page, answers)


def fill_case(page, case: dict) -> None:
    """Fill in a clinical vignette: its answers, and a patient who is the case's age today (the
    version 2 rules use the age)."""
    fill_intake(page, case["answers"], patient_aged(case["age"], timezone.localdate()))


def send(page) -> None:
    """Press the form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=SEND).click()


def serious_axe_violations(page, options: dict | None = None) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each
    (``options`` are axe.run's)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options=options).response
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
