"""GET /healthz reports the database, the broker and the alert sweep."""

import datetime
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.utils import timezone

from clinic.models import Heartbeat

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_healthy_with_in_process_tasks(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


@pytest.mark.django_db
def test_a_broker_that_is_down_is_reported_but_intake_stays_up(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "unavailable",
                               "alert_sweep": "late"}


@pytest.mark.django_db
def test_the_sweep_is_reported_late_until_it_runs(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    assert client.get("/healthz").json()["alert_sweep"] == "late"
    Heartbeat.objects.create(name="alert-sweep", last_run_at=timezone.now())
    assert client.get("/healthz").json() == {"database": "ok", "broker": "ok",
                                             "alert_sweep": "ok"}
    Heartbeat.objects.update(last_run_at=timezone.now() - datetime.timedelta(minutes=5))
    assert client.get("/healthz").json()["alert_sweep"] == "late"


def test_a_database_that_is_down_is_a_503_naming_it(tmp_path):
    """A real server process whose database cannot be opened."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/db.sqlite3",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "clinic.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
                pytest.fail("expected a 503")
            except urllib.error.HTTPError as error:
                assert error.code == 503
                body = error.read().decode()
                assert '"database": "unavailable"' in body
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    pytest.fail("the server did not start")
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)
