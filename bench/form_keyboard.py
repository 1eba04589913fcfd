"""How many key presses a routine form takes by keyboard alone, and how long, in Chromium.

Run from the project root (Debian's chromium, Playwright)::

    .venv/bin/python bench/form_keyboard.py [--url http://127.0.0.1:8000/] [--runs 3]

Without ``--url`` it serves this checkout itself (``manage.py runserver`` on a fresh SQLite
file, in-process tasks) on a free loopback port.  To compare with another version of the form,
start that version's server and give its address (the script does not care whether the form is
one page or several: it presses Tab until the focused control is one it must answer, answers it
as a keyboard user does, and presses Enter on the button that sends or continues, until the
advice page shows).

How each control is answered: a radio group is one Tab stop, entered on its first option, so
choosing the first costs Space and the n-th n-1 presses of the Down arrow; a checkbox is a stop
of its own and costs Space if it is to be ticked; a text box costs a key per character.  The
answers are ``support.clinical_data.ROUTINE`` and its patient.  It prints the presses of each
kind, their total, and the median time the browser took over ``--runs`` runs (key presses are
sent as fast as the page takes them: the time is the pages', not a person's).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from support.clinical_data import PATIENT, ROUTINE  # noqa: E402
from support.real_services import free_port, wait_until  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

FOCUSED = """() => {
  const e = document.activeElement;
  return {id: e.id || "", tag: e.tagName, type: e.type || "", name: e.name || "",
          text: (e.textContent || "").trim(), checked: !!e.checked};
}"""


def text_answers() -> dict[str, str]:
    """What each text box gets, by its id, whichever form (old ids or new)."""
    year, month, day = PATIENT["date_of_birth"].split("-")
    values = {"patient_full_name": PATIENT["full_name"], "patient_phone": PATIENT["phone"],
              "patient_email": PATIENT.get("email", ""), "dob_day": day.lstrip("0"),
              "dob_month": month.lstrip("0"), "dob_year": year,
              "patient_date_of_birth": f"{day}{month}{year}"}
    for code, value in ROUTINE.items():
        if isinstance(value, int) and not isinstance(value, bool):
            values[f"answer-{code}"] = str(value)
    return values


def wanted_options() -> set[str]:
    """The ids of the radio buttons and checkboxes to choose."""
    wanted = set()
    for code, value in ROUTINE.items():
        if isinstance(value, bool):
            wanted.add(f"answer-{code}-{'true' if value else 'false'}")
        elif isinstance(value, list):
            wanted.update(f"answer-{code}-{v}" for v in value)
        elif isinstance(value, str):
            wanted.add(f"answer-{code}-{value}")
    return wanted


def fill_by_keyboard(page, presses: Counter) -> None:
    texts, wanted = text_answers(), wanted_options()
    done_groups: set[str] = set()
    for _ in range(2000):
        if "/advice/" in page.url:
            return
        page.keyboard.press("Tab")
        presses["Tab"] += 1
        focused = page.evaluate(FOCUSED)
        if focused["tag"] == "BUTTON" and focused["text"] in (
                "Continue", "Send my answers", "Save and return to check your answers"):
            with page.expect_navigation():
                page.keyboard.press("Enter")
            presses["Enter"] += 1
            done_groups.clear()
            continue
        if focused["id"] in texts and focused["tag"] in ("INPUT", "TEXTAREA"):
            value = texts[focused["id"]]
            if page.input_value(f"#{focused['id']}") != value:
                page.keyboard.press("Control+A")
                page.keyboard.type(value)
                presses["typing"] += len(value) + 1
        elif focused["type"] == "checkbox" and focused["id"] in wanted and not focused["checked"]:
            page.keyboard.press("Space")
            presses["Space"] += 1
        elif focused["type"] == "radio" and focused["name"] not in done_groups:
            done_groups.add(focused["name"])
            options = page.evaluate(f"""() => [...document.querySelectorAll(
                'input[type=radio][name="{focused["name"]}"]')].map(e => e.id)""")
            target = next((i for i, id_ in enumerate(options) if id_ in wanted), None)
            current = options.index(focused["id"])
            if target is None or page.is_checked(f"#{options[target]}"):
                continue
            if target == current:
                page.keyboard.press("Space")
                presses["Space"] += 1
            else:
                key = "ArrowDown" if target > current else "ArrowUp"
                for _ in range(abs(target - current)):
                    page.keyboard.press(key)
                    presses["arrows"] += 1
    raise SystemExit(f"the advice page did not show; stopped at {page.url}")


def serve() -> tuple[subprocess.Popen, str, Path]:
    folder = Path(tempfile.mkdtemp(prefix="form-keyboard-"))
    env = {**os.environ, "DJANGO_DEBUG": "true",
           "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}"}
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env,
                   check=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"

    def answers() -> bool:
        import urllib.request
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            return False

    wait_until(answers, what="the development server", timeout=60)
    return server, url, folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server's form (default: serve this checkout)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = None
    url = args.url
    if url is None:
        server, url, _ = serve()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            results, times = [], []
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(url)
                presses: Counter = Counter()
                began = time.perf_counter()
                fill_by_keyboard(page, presses)
                times.append(time.perf_counter() - began)
                results.append(presses)
                context.close()
            browser.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    presses = results[-1]
    print(f"form at {url}: a routine intake by keyboard alone")
    for kind in ("Tab", "Space", "arrows", "typing", "Enter"):
        print(f"  {kind:7} {presses[kind]:5}")
    median = statistics.median(times)
    print(f"  total   {sum(presses.values()):5} key presses; median {median:.1f} s "
          f"over {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
