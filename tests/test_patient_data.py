"""Patient data stays out of logs, task arguments, emails, webhook payloads and URLs.

A marker patient goes through everything that produces output: a rejected submission, an
emergency submission that alerts by email and by webhook (the email fails first, so error paths
log too), escalation, a clinician opening and acknowledging the case.  Then every captured log
record, task argument, email and webhook request is searched for the marker's details.
"""

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from celery.signals import task_prerun
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.alerting import alerts, delivery
from clinic.models import Clinic, Clinician, DutyContact
from tests.factories import ROUTINE

MARKER = {
    "full_name": "Zebedee Quixmarker",
    "date_of_birth": "1966-07-19",
    "phone": "+44 7700 900987",
    "email": "zebedee.quixmarker@example.org",
}
FREE_TEXT = "Quixmarker-free-text: my neighbour Jo drove me"
NEEDLES = ["Quixmarker", "Zebedee", "1966-07-19", "19/07/1966", "900987", "neighbour Jo"]


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append({"path": self.path, "headers": dict(self.headers),
                                  "body": body.decode()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture
def smtp_sink():
    """A real SMTP server on loopback that keeps every message as raw text."""
    from aiosmtpd.controller import Controller

    class Keep:
        messages: list[str] = []

        async def handle_DATA(self, server, session, envelope):
            Keep.messages.append(envelope.content.decode("utf-8", "replace"))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, Keep.messages
    controller.stop()


@pytest.fixture
def every_log_record(caplog):
    """Capture every logger at DEBUG, including Django's own (which does not propagate)."""
    caplog.set_level(logging.DEBUG)
    django_logger = logging.getLogger("django")
    django_logger.addHandler(caplog.handler)
    yield caplog
    django_logger.removeHandler(caplog.handler)


@pytest.fixture
def task_arguments():
    seen = []

    def record(sender=None, task_id=None, task=None, args=None, kwargs=None, **extra):
        seen.append({"task": sender.name, "args": args, "kwargs": kwargs})

    task_prerun.connect(record, weak=False)
    yield seen
    task_prerun.disconnect(record)


def assert_clean(label, text):
    for needle in NEEDLES:
        assert needle.lower() not in text.lower(), f"{needle!r} found in {label}: {text[:500]}"


@pytest.mark.django_db
def test_no_patient_data_in_logs_tasks_emails_webhooks_or_urls(
        every_log_record, task_arguments, smtp_sink, webhook_url, settings, clinician,
        django_capture_on_commit_callbacks):
    smtp_port, emails = smtp_sink
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # refused: email fails first
    clinic = Clinic.objects.get(is_default=True)
    duty = Clinician.objects.create(name="Dr Duty", email="duty@example.org",
                                    webhook_url=webhook_url)
    DutyContact.objects.create(clinic=clinic, clinician=duty, role="out_of_hours")
    DutyContact.objects.create(clinic=clinic, clinician=duty, role="backup")
    client = APIClient()

    rejected = client.post("/api/submissions/", {"patient": {**MARKER, "phone": "Quixmarker"},
                                                 "answers": {"pain_severity": 99}},
                           format="json")
    assert rejected.status_code == 400
    answers = {**ROUTINE, "chest_pain": True, "other_information": FREE_TEXT}
    with django_capture_on_commit_callbacks(execute=True):
        accepted = client.post("/api/submissions/", {"patient": MARKER, "answers": answers},
                               format="json")
    assert accepted.status_code == 201
    reference = accepted.json()["reference"]

    # Email refused → retried later → falls back to the webhook; then escalation.
    later = timezone.now() + timezone.timedelta(minutes=10)
    for step in range(1, 6):
        with django_capture_on_commit_callbacks(execute=True):
            alerts.sweep(now=later + timezone.timedelta(minutes=step))
        for notification in alerts.Notification.objects.all():
            with django_capture_on_commit_callbacks(execute=True):
                delivery.deliver(notification.pk, now=later + timezone.timedelta(minutes=step))
    assert Receiver.received, "the webhook fallback was used"

    # Now the mail server is up: the next escalation's email arrives.
    settings.EMAIL_PORT = smtp_port
    much_later = later + timezone.timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        alerts.sweep(now=much_later)
    for notification in alerts.Notification.objects.filter(status="pending"):
        delivery.deliver(notification.pk, now=much_later)
    assert emails, "an alert email arrived"

    clinician_api = APIClient()
    clinician_api.force_authenticate(clinician)
    assert clinician_api.get(f"/api/submissions/{reference}/").status_code == 200
    assert clinician_api.post(f"/api/submissions/{reference}/acknowledge/").status_code == 200

    logs = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.args}"
                     for r in every_log_record.records)
    assert logs, "something was logged"
    assert_clean("the logs", logs)
    assert task_arguments, "tasks ran"
    assert_clean("task arguments", json.dumps(task_arguments, default=str))
    for request in Receiver.received:
        assert_clean("a webhook request", json.dumps(request))
        assert reference in request["body"]
    for message in emails:
        assert_clean("an email", message)
        assert reference in message
    assert_clean("a URL", accepted.get("Location", "") + "".join(
        r["path"] for r in Receiver.received))
