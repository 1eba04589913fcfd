"""Texts, Slack and Teams: an emergency pages by text and email at once, each exactly once; a
text that fails for a while is retried and one refused falls back to the person's next channel;
the provider's signed delivery receipts are recorded, and an undelivered text falls back too;
Slack and Teams get their own formats.

Real parts: PostgreSQL, a redis-server of the test's own, Celery worker (and beat) processes,
aiosmtpd, an HTTP receiver for webhooks and a fake SMS provider speaking Twilio's Messages API
on loopback (``support.real_services.SmsGateway``); for receipts, the service itself on a live
HTTP server that the gateway posts to.
"""

import re

import pytest

from clinic.models import (
    Clinician,
    DeliveryAttempt,
    DutyShift,
    Notification,
    NotificationRule,
)
from support.real_services import wait_until
from tests.factories import (
    COMMITTED,
    END_OF_DAY,
    SITE_URL,
    patient_data_in,
    submit_emergency,
    wait_for_status,
    wait_for_sweeps,
)

pytestmark = [pytest.mark.postgres, COMMITTED]

DUTY_PHONE = "+447700900555"
PAGER_PHONE = "+447700900666"


def on_duty(rota, **channels) -> Clinician:
    """Another clinician on duty every day, reached only by ``channels``."""
    person = Clinician.objects.create(name="Dr Pager", **channels)
    DutyShift.objects.bulk_create(
        DutyShift(clinic=rota.clinic, clinician=person, weekday=day, ends=END_OF_DAY)
        for day in range(7))
    return person


def attempts(notification) -> list[tuple]:
    return [(a.channel, a.outcome, a.error, a.receipt) for a in notification.attempts.all()]


def test_an_emergency_pages_by_text_and_email_at_once_each_exactly_once(
        client, broker, rota, smtp, sms_gateway, sms_settings, celery_processes):
    Clinician.objects.filter(pk=rota.duty.pk).update(phone=DUTY_PHONE)
    celery_processes.worker(beat=True)

    reference = submit_emergency(client)

    by_email, by_text = (Notification.objects.get(alert__submission__reference=reference,
                                                  clinician=rota.duty, channel=channel)
                         for channel in ("email", "sms"))
    assert by_email.next_attempt_at == by_text.next_attempt_at == by_email.created_at
    [text] = sms_gateway.wait_for_messages(1, detail=celery_processes.logs)
    [mail] = smtp.wait_for_messages(1, detail=celery_processes.logs)
    wait_for_status(by_email, Notification.Status.DELIVERED, detail=celery_processes.logs)
    wait_for_status(by_text, Notification.Status.DELIVERED, detail=celery_processes.logs)
    wait_for_sweeps(2, detail=celery_processes.logs)

    # Exactly one of each, side by side: neither waited for the other.
    assert len(sms_gateway.messages) == 1 and sms_gateway.requests == 1
    assert len(smtp.messages) == 1
    assert abs(text.received_at - mail.received_at) < 5
    assert mail.recipients == ("duty@clinic.test",)
    # The text: to their number, from ours, authorised; urgency, reference and link only.
    assert (text.to, text.sender, text.authorised) == (DUTY_PHONE, "+15005550006", True)
    assert "EMERGENCY" in text.body and reference in text.body
    # The one-tap acknowledgement link, and what the patient was told.
    assert re.search(rf"{re.escape(SITE_URL)}/alerts/[A-Za-z0-9_-]+/$", text.body)
    assert "Patient told: call 999 now" in text.body
    assert len(text.body) <= 300
    assert patient_data_in(text.body) == []
    assert text.status_callback == f"{SITE_URL}/api/alerting/sms-status/"
    # On record with the provider's id, to match its receipts by.
    [attempt] = by_text.attempts.all()
    assert (attempt.channel, attempt.outcome, attempt.provider_id) == ("sms", "sent", text.sid)
    assert attempts(by_email) == [("email", "sent", "", "")]


def test_a_text_that_fails_for_a_while_is_retried(
        client, broker, rota, smtp, sms_gateway, sms_settings, worker_env, celery_processes):
    Clinician.objects.filter(pk=rota.duty.pk).update(phone=DUTY_PHONE)
    worker_env["ALERT_RETRY_SECONDS"] = "1,20,60"  # the retry a second after the failure, not 5
    sms_gateway.fail_with(503, times=1)
    celery_processes.worker(beat=True)

    reference = submit_emergency(client)

    by_text = Notification.objects.get(alert__submission__reference=reference, channel="sms")
    wait_for_status(by_text, Notification.Status.DELIVERED, detail=celery_processes.logs)
    assert [(a.channel, a.outcome, a.error) for a in by_text.attempts.all()] == [
        ("sms", "temporary_failure", "HTTP 503"), ("sms", "sent", "")]
    assert sms_gateway.requests == 2
    assert [m.to for m in sms_gateway.messages] == [DUTY_PHONE]


def test_a_refused_text_falls_back_to_the_next_channel(
        client, broker, rota, smtp, webhooks, sms_gateway, sms_settings, celery_processes):
    pager = on_duty(rota, phone=PAGER_PHONE, webhook_url=webhooks.url("pager"))
    sms_gateway.fail_with(400, code=21211)  # "not a valid phone number": for good
    celery_processes.worker()

    reference = submit_emergency(client)

    # Their plan for an emergency is a text (they have no email); it falls back to the webhook.
    notification = Notification.objects.get(alert__submission__reference=reference,
                                            clinician=pager)
    assert notification.channel == "sms"
    wait_until(lambda: [h for h in webhooks.hooks if h.path == "/hooks/pager"],
               what="the pager's webhook", detail=celery_processes.logs)
    wait_for_status(notification, Notification.Status.DELIVERED, detail=celery_processes.logs)
    assert attempts(notification) == [("sms", "permanent_failure", "HTTP 400", ""),
                                      ("webhook", "sent", "", "")]
    assert sms_gateway.messages == []
    [hook] = [h for h in webhooks.hooks if h.path == "/hooks/pager"]
    assert hook.json()["reference"] == reference


def test_a_failed_receipt_is_recorded_and_the_alert_falls_back_and_forged_ones_are_refused(
        client, broker, rota, webhooks, sms_gateway, sms_settings, worker_env, live_server,
        celery_processes):
    # The gateway posts receipts to the address the texts name: the service on a live server.
    worker_env["SITE_URL"] = sms_settings.SITE_URL = live_server.url
    pager = on_duty(rota, phone=PAGER_PHONE, webhook_url=webhooks.url("pager"))
    celery_processes.worker()

    reference = submit_emergency(client)

    notification = Notification.objects.get(alert__submission__reference=reference,
                                            clinician=pager)
    [text] = sms_gateway.wait_for_messages(1, detail=celery_processes.logs)
    wait_for_status(notification, Notification.Status.DELIVERED, detail=celery_processes.logs)
    assert text.status_callback == f"{live_server.url}/api/alerting/sms-status/"

    # A receipt signed with the wrong token is refused and changes nothing.
    assert sms_gateway.send_receipt(text.sid, "undelivered", token="x" * 32) == 403
    assert attempts(notification) == [("sms", "sent", "", "")]

    assert sms_gateway.send_receipt(text.sid, "sent") == 204
    assert attempts(notification) == [("sms", "sent", "", "sent")]
    assert sms_gateway.send_receipt(text.sid, "undelivered", error_code="30003") == 204

    def pager_hooks():
        return [h for h in webhooks.hooks if h.path == "/hooks/pager"]

    wait_until(pager_hooks, what="the fallback to the pager's webhook",
               detail=celery_processes.logs)
    wait_for_status(notification, Notification.Status.DELIVERED, detail=celery_processes.logs)
    assert attempts(notification) == [
        ("sms", "permanent_failure", "receipt: undelivered (error 30003)", "undelivered"),
        ("webhook", "sent", "", "")]
    assert pager_hooks()[0].json()["reference"] == reference

    # The same receipt again (providers retry) moves nothing on a second time.
    assert sms_gateway.send_receipt(text.sid, "undelivered", error_code="30003") == 204
    wait_for_status(notification, Notification.Status.DELIVERED)
    assert len(pager_hooks()) == 1
    assert notification.attempts.count() == 2
    assert DeliveryAttempt.objects.filter(provider_id=text.sid).count() == 1


def test_slack_and_teams_get_their_own_formats(client, broker, rota, webhooks, smtp,
                                                celery_processes):
    chat = on_duty(rota, slack_webhook_url=webhooks.url("slack"),
                   teams_webhook_url=webhooks.url("teams"))
    # Their rule: an emergency goes to Slack and Teams at once.
    NotificationRule.objects.bulk_create([
        NotificationRule(clinician=chat, urgency="emergency", channel="slack", position=1),
        NotificationRule(clinician=chat, urgency="emergency", channel="teams", position=2)])
    celery_processes.worker()

    reference = submit_emergency(client)

    def hook(name):
        return [h for h in webhooks.hooks if h.path == f"/hooks/{name}"]

    wait_until(lambda: hook("slack") and hook("teams"), what="the Slack and Teams posts",
               detail=celery_processes.logs)
    link = f"{SITE_URL}/cases/{reference}/"
    [slack], [teams] = hook("slack"), hook("teams")
    assert slack.headers["Content-Type"] == teams.headers["Content-Type"] == "application/json"
    # Slack: one "text", the link in Slack's <url|label> markup.
    assert list(slack.json()) == ["text"]
    assert reference in slack.json()["text"] and f"<{link}|" in slack.json()["text"]
    # Teams: a message with one Adaptive Card whose button opens the case.
    message = teams.json()
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert any(reference in block["text"] for block in card["body"])
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open (log in required)",
                                "url": link}]
    for received in (slack, teams):
        assert patient_data_in(received.body.decode()) == []
    assert sorted(n.channel for n in Notification.objects.filter(
        alert__submission__reference=reference, clinician=chat)) == ["slack", "teams"]
