"""The service policy applies to the browser: without Chromium the browser tests are skipped
with the reason on a laptop, and fail when CI=true."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # each test runs pytest in a fresh Python

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

PROBE = """
def test_needs_the_browser(open_page):
    pass

def test_does_not(tmp_path):
    pass
"""


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("", {"skipped": 1, "passed": 1}), ("true", {"errors": 1, "passed": 1})],
    ids=["laptop", "ci"],
)
def test_a_missing_browser_skips_on_a_laptop_and_fails_in_ci(pytester, monkeypatch, ci, outcome):
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"))
    package = pytester.mkpydir("browser")
    (package / "conftest.py").write_text((HERE / "conftest.py").read_text(encoding="utf-8"))
    (package / "test_probe.py").write_text(PROBE)
    pytester.makeini(
        "[pytest]\nDJANGO_SETTINGS_MODULE = config.settings\n"
        "markers =\n    postgres: p\n    redis: r\n    browser: b\n"
    )
    monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("CHROMIUM_PATH", str(pytester.path / "no-chromium-here"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    result = pytester.runpytest_subprocess("-ra", "-p", "no:cacheprovider", "--strict-markers")

    result.assert_outcomes(**outcome)
    result.stdout.fnmatch_lines(["*needs Chromium at */no-chromium-here: apt-get install chromium*"
                                 ])
