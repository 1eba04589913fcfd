"""What a clinician's pages are checked with in the browser, shared by the queue's tests and the
review-with-outcome tests: a row of the queue, and the focus indicator."""

from __future__ import annotations


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
