"""Webhook alerts are signed (X-Clinic-Signature: t=<unix seconds>,v1=<HMAC-SHA256>) so a
receiver can tell them from forgeries and replays, and must be https when WEBHOOK_REQUIRE_HTTPS
(the default wherever debug is off).  Real HTTP: the receiver on loopback."""

import hashlib
import hmac
import time

import pytest
from django.core.exceptions import ValidationError

from clinic.alerting.transports import TRANSPORTS, AlertMessage, DeliveryError
from clinic.models import Clinician
from support.real_services import WebhookReceiver

SECRET = "a-webhook-secret-the-receiver-also-has-0123456789"
MESSAGE = AlertMessage(notification_id=7, reference="ABCD-EFGH-JKMN", urgency="emergency",
                       link="https://clinic.test/cases/ABCD-EFGH-JKMN/", level=0)


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.stop()


def verify(headers: dict, body: bytes, secret: str, *, tolerance: int = 300) -> bool:
    """What a receiver does with the header (docs/operations.md says the same)."""
    fields = dict(part.split("=", 1) for part in headers["X-Clinic-Signature"].split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - timestamp) <= tolerance


def test_a_webhook_alert_carries_a_signature_the_receiver_can_check(receiver, settings):
    settings.WEBHOOK_SECRET, settings.WEBHOOK_REQUIRE_HTTPS = SECRET, False
    TRANSPORTS["webhook"].send(receiver.url("duty"), MESSAGE)
    [hook] = receiver.hooks
    assert verify(hook.headers, hook.body, SECRET)
    assert not verify(hook.headers, hook.body, "another-secret")
    assert not verify(hook.headers, hook.body.replace(b"emergency", b"routine"), SECRET)


def test_plain_http_webhooks_are_refused_when_https_is_required(receiver, settings):
    settings.WEBHOOK_SECRET, settings.WEBHOOK_REQUIRE_HTTPS = SECRET, True
    with pytest.raises(DeliveryError) as refused:
        TRANSPORTS["webhook"].send(receiver.url("duty"), MESSAGE)
    assert refused.value.permanent  # the next channel or person is tried at once
    assert receiver.hooks == []
    clinician = Clinician(name="Dr Web", webhook_url="http://pager.example.org/hook")
    with pytest.raises(ValidationError) as invalid:
        clinician.clean()
    assert "https" in str(invalid.value.message_dict["webhook_url"])
    Clinician(name="Dr Web", webhook_url="https://pager.example.org/hook").clean()
