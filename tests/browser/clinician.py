"""What a clinician's pages are checked with in the browser, shared by the queue's tests, the
review-with-outcome tests and the report tests: signing in, a row of the queue, the focus
indicator, axe-core and sideways scrolling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect


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
    page = open_page(path, viewport=viewport)
    expect(page).to_have_url(re.compile(rf"/accounts/login/\?next={re.escape(path)}$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    return page


def assert_no_axe_violations(page) -> None:
    """axe-core finds nothing on the page as it is now, whatever the impact (minor included)."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} - "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in violations)


def assert_no_sideways_scroll(page) -> None:
    width, inner = page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")
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
