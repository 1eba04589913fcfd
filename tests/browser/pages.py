"""Driving the browser's pages, for the patient and for the clinician: filling the intake form
page by page as a person would (typing, ticking, choosing, pressing Continue) and sending it
from "Check your answers", signing in, finding a row of the
queue; and what the tests check on every page (axe-core, sideways scrolling, the focus
indicator).  The data the pages are filled with comes from ``tests/factories.py``."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest
from django.utils import timezone

from tests.factories import PATIENT, ROUTINE, patient_aged

SEND = "Send my answers"
CONTINUE = "Continue"
SERIOUS = ("serious", "critical")
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}
# A test on both screens (its ``viewport`` argument): a phone's and a desktop's.
SCREENS = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


# --- The patient's form ---------------------------------------------------------------------


def fill_patient(page, patient: dict = PATIENT) -> None:
    """The "About you" page: the date of birth goes in its three boxes."""
    born = patient["date_of_birth"]
    year, month, day = born.split("-") if born else ("", "", "")
    page.fill("#patient_full_name", patient["full_name"])
    page.fill("#dob_day", day.lstrip("0"))
    page.fill("#dob_month", month.lstrip("0"))
    page.fill("#dob_year", year)
    page.fill("#patient_phone", patient["phone"])
    page.fill("#patient_email", patient.get("email", ""))


def fill_answers(page, answers: dict) -> None:
    """Answer the questions on this page as the answers (typed as in the API and the
    vignettes) say, by the form's ids: ``answer-<code>-<value>`` for an option,
    ``answer-<code>`` for a box.  Answers to questions on other pages are skipped."""
    # What the page asks, read in one round trip to the browser rather than one per answer.
    ids = set(page.eval_on_selector_all('[id^="question-"], [id^="answer-"]',
                                        "elements => elements.map(element => element.id)"))
    for code, value in answers.items():
        if f"question-{code}" not in ids:
            continue
        if isinstance(value, bool):
            page.check(f"#answer-{code}-{'true' if value else 'false'}")
        elif isinstance(value, list):
            for chosen in value:
                page.check(f"#answer-{code}-{chosen}")
        elif isinstance(value, int):
            page.fill(f"#answer-{code}", str(value))
        elif f"answer-{code}-{value}" in ids:  # one choice, or text
            page.check(f'[id="answer-{code}-{value}"]')
        else:
            page.fill(f"#answer-{code}", value)


def press(page, name: str) -> None:
    """Press the page's button called ``name`` and wait for the page it leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()


def next_page(page) -> None:
    press(page, CONTINUE)


# ``set_answers``: each answer's control set as ``fill_answers`` would leave it, in one round
# trip; an answer whose control is missing from a page that asks the question is an error.
SET_ANSWERS = """answers => {
    for (const [code, value] of Object.entries(answers)) {
        if (!document.getElementById(`question-${code}`)) continue;
        const box = document.getElementById(`answer-${code}`);
        if (box && !Array.isArray(value) && typeof value !== "boolean"
                && !document.getElementById(`answer-${code}-${value}`)) {
            box.value = String(value);
            continue;
        }
        for (const chosen of Array.isArray(value) ? value : [value]) {
            const option = document.getElementById(`answer-${code}-${chosen}`);
            if (!option) throw new Error(`no control for ${code} = ${chosen}`);
            option.checked = true;
        }
    }
}"""


def set_answers(page, answers: dict) -> None:
    """Put the answers into this page's controls at once, rather than a click or a keystroke
    each as the patient would (``fill_answers``): for going through many answer sets, where
    what is tested is what the pages make of them, not the clicking."""
    page.evaluate(SET_ANSWERS, answers)


def fill_intake(page, answers: dict, patient: dict = PATIENT, *, fill=fill_answers) -> None:
    """Fill in the whole form from its first page, page by page, up to "Check your answers"
    (not sent), each page's answers by ``fill``.  Stops early on a page that shows problems."""
    fill_patient(page, patient)
    next_page(page)
    while page.get_by_role("button", name=CONTINUE).count():
        if page.locator("#error-summary").count():
            return
        fill(page, answers)
        next_page(page)


def go_to_page_with(page, code: str, answers: dict | None = None,
                    patient: dict = PATIENT) -> None:
    """From the first page, fill in the pages before the one that asks ``code``."""
    fill_patient(page, patient)
    next_page(page)
    while not page.locator(f"#question-{code}").count():
        fill_answers(page, answers if answers is not None else ROUTINE)
        next_page(page)


def fill_case(page, case: dict, *, fill=fill_answers) -> None:
    """Fill in a clinical vignette: its answers, and a patient who is the case's age today (the
    version 2 rules use the age)."""
    fill_intake(page, case["answers"], patient_aged(case["age"], timezone.localdate()),
                fill=fill)


def send(page) -> None:
    """Press "Send my answers" on "Check your answers" and wait for the page it leads to."""
    press(page, SEND)


def submit_by_http(live_server, answers: dict, patient: dict = PATIENT) -> str:
    """A patient's submission, POSTed to the live server's API as the intake app sends it (by
    plain HTTP, not the browser); its reference."""
    request = urllib.request.Request(  # noqa: S310 - the live server's own http:// address
        live_server.url + "/api/submissions/", method="POST",
        data=json.dumps({"patient": patient, "answers": answers}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
        assert response.status == 201
        return json.load(response)["reference"]


# --- The clinician's pages ------------------------------------------------------------------


def row(page, reference: str):
    return page.locator(f'#queue-rows tr[data-reference="{reference}"]')


def assert_focus_visible(page) -> None:
    """The focused element draws a focus indicator: an outline or a ring (box-shadow)."""
    style = page.evaluate("""() => {
        const element = document.activeElement, style = getComputedStyle(element);
        return {element: element.outerHTML.slice(0, 80), outline: style.outlineStyle,
                width: parseFloat(style.outlineWidth), ring: style.boxShadow};
    }""")
    assert (style["outline"] != "none" and style["width"] >= 2) or style["ring"] != "none", style


def signed_in(open_page, path: str, viewport: dict, username: str, password: str):
    """``path``, asked for before signing in: the login page, then ``path`` once the user has
    signed in through the form."""
    from playwright.sync_api import expect  # here: without Playwright, the policy skips

    page = open_page(path, viewport=viewport)
    expect(page).to_have_url(re.compile(rf"/accounts/login/\?next={re.escape(path)}$"))
    sign_in(page, username, password)
    return page


def sign_in(page, username: str, password: str) -> None:
    """Sign in through the login form the page shows, and wait for the page it leads to."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def press_tab_until(page, found: str, description: str, *, most: int) -> None:
    """Press Tab until the focused element matches the JavaScript test ``found`` (on ``e``, the
    element), checking the focus is drawn at every stop on the way; fail, naming
    ``description``, if ``most`` presses do not reach it."""
    for _ in range(most):
        page.keyboard.press("Tab")
        assert_focus_visible(page)
        if page.evaluate(f"() => {{ const e = document.activeElement; return {found}; }}"):
            return
    pytest.fail(f"{description} is not reached in {most} presses of Tab")


# --- What every page is checked with --------------------------------------------------------


# axe.run's option that reports every node of every violation but, of the rules that pass, are
# incomplete or do not apply, only one node each: the violations are the same, and the answer
# that crosses from the browser is a fraction of the size (on a large admin page, megabytes).
ONLY_VIOLATIONS = {"resultTypes": ["violations"]}
# axe-core (axe-playwright-python's copy, 570 kB of JavaScript) is put into the page only when
# the document does not have it yet: the same script, parsed once per page load instead of
# once per check.  Playwright evaluates it through the DevTools protocol, as
# axe-playwright-python does, so the page's Content-Security-Policy does not apply to it.


def axe_violations(page, impacts: tuple[str, ...] | None = None,
                   options: dict | None = None) -> list[str]:
    """axe-core's violations on the page as it is now, one line each: those of the given
    ``impacts`` ("minor", "moderate", "serious", "critical"), or all of them (``options`` are
    axe.run's; ``resultTypes`` is always violations only, which changes nothing reported)."""
    from axe_playwright_python.base import AXE_SCRIPT

    if not page.evaluate("() => typeof window.axe?.run === 'function'"):
        page.evaluate(AXE_SCRIPT)
    results = page.evaluate("options => axe.run(document, options)",
                            {**(options or {}), **ONLY_VIOLATIONS})
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} - "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results["violations"]
        if impacts is None or violation["impact"] in impacts
    ]


def assert_accessible(page) -> None:
    """axe-core finds nothing serious or critical on the page as it is now."""
    violations = axe_violations(page, SERIOUS)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(violations)


def assert_no_axe_violations(page) -> None:
    """axe-core finds nothing on the page as it is now, whatever the impact (minor included)."""
    violations = axe_violations(page)
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(violations)


def scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def assert_no_sideways_scroll(page) -> None:
    width, inner = scroll_width(page), page.evaluate("window.innerWidth")
    if width > inner:
        # The innermost elements that reach past the screen's edge: the ones to fix.
        wide = page.evaluate("""() => {
            const past = e => e.getBoundingClientRect().right > window.innerWidth + 0.5;
            return [...document.querySelectorAll('main *')]
                .filter(e => past(e) && ![...e.children].some(past))
                .slice(0, 8).map(e => {
                    const box = e.getBoundingClientRect();
                    return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
                        + (typeof e.className === 'string' && e.className.trim()
                           ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
                        + ` (${Math.round(box.width)} px wide, right edge at `
                        + `${Math.round(box.right)})`;
                });
        }""")
        pytest.fail(f"{page.url} scrolls sideways: scrollWidth {width} > innerWidth {inner}; "
                    f"wider than the screen: {wide}", pytrace=False)
