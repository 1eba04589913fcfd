"""The browser tests: the patient's pages in headless Chromium, against pytest-django's
``live_server``.

What they need
--------------
Debian's Chromium at ``/usr/bin/chromium`` (or wherever ``CHROMIUM_PATH`` says) and Playwright
for Python, a dev dependency; Playwright cannot download browsers here, so it drives Debian's.
axe-core comes with the ``axe-playwright-python`` dev dependency.  Every test here that uses
the browser is marked ``browser``, and the service policy of tests/conftest.py applies to the
browser as to PostgreSQL and Redis: when it is missing, the tests are skipped with the reason
on a laptop and fail when ``CI=true``.  ``.ci/run`` installs Chromium.

How they run
------------
One Playwright and one Chromium are shared by the whole folder (this folder is a package so
that "package" scope means this folder: they stop when its last test has run); each test gets
fresh browser contexts, so no cookie or session leaks from one test to the next.  Each page
records its console errors, failed requests, uncaught exceptions and Content-Security-Policy
violations, and the test fails on any of them.

Playwright's sync API keeps an asyncio event loop running in this thread while it is started,
and Django then refuses ORM calls from it (SynchronousOnlyOperation).  The tests here only use
the database between page loads (the live server answers requests in its own threads), so
DJANGO_ALLOW_ASYNC_UNSAFE is set for this folder only, while its browser is running; see also
the ``chromium`` fixture about the connections.  The tests are transactional, with a
serialized rollback: the live server must see what they store, and the questionnaire, clinic
and rule set that ``migrate`` creates are put back after each.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.browser.pages import PHONE
from tests.conftest import require_service
from tests.factories import VIGNETTES

HERE = Path(__file__).resolve().parent
# Debian's package; CHROMIUM_PATH points elsewhere (e.g. at Chrome on a Mac).
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# Without the background-networking flags Chromium tries to reach Google's services, and this
# machine's closed network refuses it; --headless because there is no display.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return ("needs Playwright for Python, which is not installed: pip install -e '.[dev]' "
                "(python3 scripts/dev.py test does it)")
    if importlib.util.find_spec("axe_playwright_python") is None:
        return ("needs axe-core from axe-playwright-python, which is not installed: "
                "pip install -e '.[dev]'")
    if not CHROMIUM.exists():
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium (.ci/run installs it)"
    return None


def pytest_collection_modifyitems(config, items):
    """Mark ``browser`` every test here that uses the browser."""
    for item in items:
        if item.path.is_relative_to(HERE) and "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


def pytest_runtest_setup(item):
    if item.get_closest_marker("browser") is not None:
        require_service(browser_missing())


# --- The browser ----------------------------------------------------------------------------


@pytest.fixture(scope="package")
def chromium(django_db_setup, django_db_blocker) -> Iterator:
    """One headless Chromium for every test in this folder."""
    require_service(browser_missing())
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with django_db_blocker.unblock():
        own_connections = {alias: connections[alias] for alias in connections}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            # django.db.connections is an asgiref Local: with Playwright's event loop running
            # in this thread, code here would get a new, empty set of connections.  Point it
            # back at this thread's own, so each test's database set-up and tear-down
            # (pytest-django's, with the serialized rollback it keeps on the connection) work
            # on the connection they were made for, and no second connection is left open.
            for alias, connection in own_connections.items():
                connections[alias] = connection
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()


@dataclass
class BrowserProblems:
    """What went wrong in a browser context that its pages do not show: console errors and
    warnings, failed requests, uncaught exceptions and Content-Security-Policy violations."""

    messages: list[str] = field(default_factory=list)

    def watch(self, context) -> None:
        # Chromium also logs a CSP violation to the console; the event says which directive.
        context.expose_function("reportCspViolation",
                                lambda text: self.messages.append(f"CSP violation: {text}"))
        context.add_init_script(RECORD_CSP_VIOLATIONS)
        context.on("console", self._console)
        context.on("weberror", lambda error: self.messages.append(f"uncaught: {error.error}"))
        context.on("requestfailed", self._request_failed)
        context.on("response", self._response)

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.messages.append(f"console {message.type}: {message.text}")

    def _request_failed(self, request) -> None:
        # A second click on a link or button cancels the navigation the first one started:
        # the browser aborts it, which is not a fault of the page.
        if request.resource_type == "document" and request.failure == "net::ERR_ABORTED":
            return
        # Chromium reports a 304 Not Modified answer to fetch() (the queue's polls) as aborted,
        # having no body to load, though the page receives the 304.
        if request.failure == "net::ERR_ABORTED" and _status_of(request) == 304:
            return
        self.messages.append(f"request failed: {request.method} {request.url} "
                             f"({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.messages.append(f"HTTP {response.status} for {response.url}")


# Runs in every document before the page's own scripts.  Playwright injects it through the
# DevTools protocol, so the page's Content-Security-Policy does not block it.
RECORD_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportCspViolation(event.violatedDirective + " blocked " +
    (event.blockedURI || "inline code") + " in " + event.documentURI + " line " +
    event.lineNumber);
});
"""


@pytest.fixture
def open_page(chromium, live_server):
    """``open_page(path="/", *, javascript=True, viewport=PHONE)``: a new page, in a browser
    context of its own, at ``path`` on the live server (None: stay blank).  When the test ends,
    it fails if any of its pages had console errors or warnings, failed requests (HTTP errors
    included), uncaught exceptions or CSP violations."""
    opened = []

    def open_(path: str | None = "/", *, javascript: bool = True, viewport: dict = PHONE):
        context = chromium.new_context(
            base_url=live_server.url, java_script_enabled=javascript, viewport=viewport,
            locale="en-GB", timezone_id="Europe/London",
        )
        context.set_default_timeout(10_000)
        problems = BrowserProblems()
        problems.watch(context)
        opened.append((context, problems))
        page = context.new_page()
        if path is not None:
            page.goto(path)
        return page

    yield open_
    found = [message for _, problems in opened for message in problems.messages]
    for context, _ in opened:
        context.close()
    if found:
        pytest.fail("the browser reported problems:\n" + "\n".join(found), pytrace=False)


@pytest.fixture
def page(open_page):
    """The patient form at /, on a phone-sized screen with JavaScript on."""
    return open_page("/")


# --- Answers --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def vignettes() -> dict[str, dict]:
    """The clinical vignettes of the current version (tests/data/vignettes-v2.json, a copy of
    shared/clinical's) by id; fill them in with ``fill_case``, which gives the patient the
    case's age."""
    return {v["id"]: v for v in VIGNETTES}


def _status_of(request) -> int | None:
    response = request.response()
    return response.status if response is not None else None
