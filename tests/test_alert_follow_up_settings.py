"""The alert and queue settings of times (the follow-up minutes, the sweep, retry and poll
seconds) are checked when the service starts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e  # each test starts Django in a fresh Python


def setting_at_start(name: str, value: str | None) -> subprocess.CompletedProcess:
    env = {key: val for key, val in os.environ.items() if key != name}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "true"})
    if value is not None:
        env[name] = value
    script = ("import django; django.setup(); from django.conf import settings; "
              f"print(settings.{name})")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("name", "value", "minutes"), [
    ("ALERT_LINK_MAX_AGE_MINUTES", None, "1440.0"), ("ALERT_LINK_MAX_AGE_MINUTES", "90", "90.0"),
    ("ALERT_RESOLVE_MINUTES", None, "30.0"), ("ALERT_RESOLVE_MINUTES", "0.5", "0.5"),
])
def test_the_follow_up_settings_take_minutes_with_their_defaults(name, value, minutes):
    result = setting_at_start(name, value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [minutes]


@pytest.mark.parametrize("name", ["ALERT_LINK_MAX_AGE_MINUTES", "ALERT_RESOLVE_MINUTES"])
@pytest.mark.parametrize("value", ["0", "-5", "nan", "soon", "10081"])
def test_nonsense_in_the_follow_up_settings_stops_the_service_starting(name, value):
    result = setting_at_start(name, value)
    assert result.returncode != 0
    assert (f"ImproperlyConfigured: {name} must be a number of minutes above 0 and at most "
            "10080") in result.stderr


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("ALERT_SWEEP_SECONDS", None, "5.0"), ("ALERT_SWEEP_SECONDS", "0.5", "0.5"),
    ("QUEUE_POLL_SECONDS", None, "3.0"), ("QUEUE_POLL_SECONDS", "1", "1.0"),
    ("ALERT_RETRY_SECONDS", None, "(5.0, 20.0, 60.0)"),
    ("ALERT_RETRY_SECONDS", "1,2", "(1.0, 2.0)"),
])
def test_the_timing_settings_take_seconds_with_their_defaults(name, value, shown):
    result = setting_at_start(name, value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shown


@pytest.mark.parametrize(("name", "value", "message"), [
    ("ALERT_SWEEP_SECONDS", "0", "ALERT_SWEEP_SECONDS must be a number of seconds above 0 and at "
     "most 3600"),
    ("QUEUE_POLL_SECONDS", "often", "QUEUE_POLL_SECONDS must be a number of seconds above 0 and "
     "at most 600"),
    ("ALERT_RETRY_SECONDS", "5,,60", "ALERT_RETRY_SECONDS must be one or more numbers of seconds"),
    ("ALERT_RETRY_SECONDS", "-1", "ALERT_RETRY_SECONDS must be one or more numbers of seconds"),
])
def test_nonsense_in_the_timing_settings_stops_the_service_starting(name, value, message):
    result = setting_at_start(name, value)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr
