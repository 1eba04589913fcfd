"""ALERT_GROUP_MINUTES, the burst window for urgent alerts, is checked when the service starts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e  # each test starts Django in a fresh Python


def django_setup(**environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "true",
           **environment}
    script = ("import django; django.setup(); from django.conf import settings; "
              "print(settings.ALERT_GROUP_MINUTES)")
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("value", "minutes"), [("0", "0.0"), ("0.5", "0.5"), ("10", "10.0")])
def test_alert_group_minutes_takes_whole_or_decimal_minutes_and_0_for_no_grouping(
        value, minutes):
    result = django_setup(ALERT_GROUP_MINUTES=value)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [minutes]


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "ten", "1441", ""])
def test_nonsense_in_alert_group_minutes_stops_the_service_starting(value):
    result = django_setup(ALERT_GROUP_MINUTES=value)
    assert result.returncode != 0
    assert ("ImproperlyConfigured: ALERT_GROUP_MINUTES must be a number of minutes between 0 "
            "(no grouping) and 1440") in result.stderr


@pytest.mark.parametrize(("name", "value"), [
    ("INVITATION_REMINDER_HOURS", "72,soon"), ("INVITATION_REMINDER_HOURS", "0"),
    ("INVITATION_REMINDER_HOURS", "nan"), ("INVITATION_MAX_DOB_TRIES", "0"),
])
def test_nonsense_in_the_invitation_settings_stops_the_service_starting(name, value):
    result = django_setup(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured: INVITATION_MAX_DOB_TRIES must be 1 to 20" in result.stderr
