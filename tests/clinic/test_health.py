"""GET /healthz reports the database and every part alerts need; /livez only that the process
is alive.  (tests/alerts/test_health_with_real_services.py runs them against a real worker, beat,
Redis and SMTP server.)"""

import datetime
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.utils import timezone

from clinic.models import Heartbeat
from support.real_services import WebhookReceiver, free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_healthy_with_in_process_tasks(client, settings):
    settings.REDIS_URL = ""
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "in-process", "worker": "in-process",
                               "beat": "in-process", "alert_sweep": "in-process",
                               "smtp": "console", "status": "ok"}


def beating(*names, age_seconds=0):
    when = timezone.now() - datetime.timedelta(seconds=age_seconds)
    for name in names:
        Heartbeat.objects.update_or_create(name=name, defaults={"last_run_at": when})


@pytest.mark.django_db
def test_a_broker_that_is_down_is_a_503_naming_it(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    beating("worker:w1@host", "beat", "alert-sweep")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert response.json()["worker"] == "ok"


@pytest.mark.django_db
def test_each_background_part_is_ok_late_or_down_by_its_heartbeat(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    response = client.get("/healthz")
    assert response.status_code == 503, "nothing has ever beaten: down"
    assert {response.json()[p] for p in ("worker", "beat", "alert_sweep")} == {"down"}
    beating("worker:w1@host", "beat", "alert-sweep")
    assert client.get("/healthz").json() == {
        "database": "ok", "broker": "ok", "worker": "ok", "beat": "ok", "alert_sweep": "ok",
        "smtp": "console", "status": "ok"}
    # The sweep stops (beat runs, so it is the worker side): late is not healthy.
    beating("alert-sweep", age_seconds=settings.ALERT_SWEEP_SECONDS * 10)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["alert_sweep"] == "late"
    beating("alert-sweep")
    beating("worker:w1@host", age_seconds=60)
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["worker"] == "late"
    # Another worker is alive: alerts flow.
    beating("worker:w2@host")
    assert client.get("/healthz").status_code == 200
    beating("worker:w2@host", "worker:w1@host", age_seconds=600)
    assert client.get("/healthz").json()["worker"] == "down"


@pytest.mark.django_db
def test_smtp_is_judged_by_the_last_email_the_service_tried_to_send(client, settings, redis_url,
                                                                    alert_for_smtp):
    settings.REDIS_URL = redis_url
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    beating("worker:w1@host", "beat", "alert-sweep")
    assert client.get("/healthz").json()["smtp"] == "ok", "nothing tried yet"
    alert_for_smtp("temporary_failure", "SMTP unavailable: ConnectionRefusedError")
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["smtp"] == "down"
    alert_for_smtp("permanent_failure", "recipient refused: 550")
    assert client.get("/healthz").json()["smtp"] == "ok", "the address's fault, not the server's"
    alert_for_smtp("", "", started_seconds_ago=120)
    assert client.get("/healthz").json()["smtp"] == "late", "a send that never finished"
    alert_for_smtp("sent", "")
    assert client.get("/healthz").status_code == 200


@pytest.fixture
def alert_for_smtp(clinician):
    """Records an email delivery attempt with the given outcome, as the worker does."""
    from clinic.models import Alert, Clinic, Clinician, DeliveryAttempt, Notification
    from intake.models import Submission

    clinic = Clinic.objects.get(is_default=True)
    from intake.selectors import current_version

    submission = Submission.objects.create(
        reference="TEST-SMTP-0001", clinic=clinic, questionnaire_version=current_version(),
        full_name="A", date_of_birth=datetime.date(1970, 1, 1), phone="07700900123",
        submitted_at=timezone.now(), urgency="urgent")
    alert = Alert.objects.create(submission=submission, clinic=clinic, urgency="urgent",
                                 created_at=timezone.now(), escalate_at=timezone.now())
    notification = Notification.objects.create(
        alert=alert, clinician=Clinician.objects.get(user=clinician), level=0,
        next_attempt_at=timezone.now(), created_at=timezone.now())

    def record(outcome, error, started_seconds_ago=0):
        started = timezone.now() - datetime.timedelta(seconds=started_seconds_ago)
        DeliveryAttempt.objects.create(notification=notification, channel="email",
                                       started_at=started, outcome=outcome, error=error,
                                       finished_at=timezone.now() if outcome else None)
    return record


def test_livez_needs_nothing_but_the_process(client):
    response = client.get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.e2e
def test_a_database_that_is_down_is_a_503_naming_it(tmp_path):
    """A real server process whose database cannot be opened."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/missing-dir/db.sqlite3",
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "PYTHONPATH": str(ROOT)}
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                # The worker loads the whole application on its first request: on a loaded
                # 2-CPU machine that alone has taken over 7 s.
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60)
                pytest.fail("expected a 503")
            except urllib.error.HTTPError as error:
                assert error.code == 503
                body = error.read().decode()
                assert '"database": "down"' in body
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    pytest.fail("the server did not start")
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.django_db
def test_the_heartbeat_url_is_pinged_while_alerts_flow_and_told_when_they_cannot(settings):
    from clinic.alerting.health import ping_heartbeat_url

    receiver = WebhookReceiver()
    try:
        settings.HEARTBEAT_URL = receiver.url("check")
        settings.REDIS_URL = ""
        settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
        ping_heartbeat_url()
        settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # the broker is down
        ping_heartbeat_url()
        assert [hook.path for hook in receiver.hooks] == ["/hooks/check", "/hooks/check/fail"]
        settings.HEARTBEAT_URL = ""
        assert ping_heartbeat_url() is None
    finally:
        receiver.stop()
