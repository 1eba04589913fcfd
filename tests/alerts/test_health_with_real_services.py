"""/healthz against the real parts: a Celery worker and beat writing their heartbeats, Redis,
and an SMTP server that goes away.  It is 200 only while alerts can flow, and names the part
that stopped them."""

import datetime

import pytest
from django.utils import timezone

from clinic import heartbeats
from clinic.models import DeliveryAttempt, Heartbeat
from support.real_services import wait_until
from tests.factories import COMMITTED, submit_emergency

pytestmark = [pytest.mark.postgres, COMMITTED]


def test_healthz_is_200_only_while_worker_beat_broker_and_smtp_all_work(
        client, settings, broker, rota, smtp, redis_server, alert_settings, celery_processes):
    settings.REDIS_URL = redis_server.url
    worker = celery_processes.worker(beat=True)

    def health():
        response = client.get("/healthz")
        return response.status_code, response.json()

    wait_until(lambda: health()[0] == 200, what="/healthz to be 200",
               detail=lambda: f"{health()}\n{celery_processes.logs()}")
    assert health()[1] == {"database": "ok", "broker": "ok", "worker": "ok", "beat": "ok",
                           "alert_sweep": "ok", "smtp": "ok", "status": "ok"}

    # The mail server goes away while an emergency is being alerted.
    smtp.stop()
    submit_emergency(client)
    wait_until(lambda: DeliveryAttempt.objects.filter(outcome="temporary_failure").exists(),
               what="a failed email attempt", detail=celery_processes.logs)
    status, body = health()
    assert status == 503 and body["smtp"] == "down" and body["worker"] == "ok"

    # The worker dies: its heartbeat stops (a minute is let pass by moving it back).
    worker.stop()
    name = heartbeats.WORKER_PREFIX
    last = Heartbeat.objects.get(name__startswith=name).last_run_at
    Heartbeat.objects.filter(name__startswith=name).update(
        last_run_at=last - datetime.timedelta(seconds=60))
    status, body = health()
    assert status == 503 and body["worker"] == "late"
    assert Heartbeat.objects.get(name__startswith=name).last_run_at < timezone.now() - \
        datetime.timedelta(seconds=50), "nothing beats for a dead worker"
