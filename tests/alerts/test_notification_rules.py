"""Notification rules per person (which channels, in what order, how soon), the defaults
derived from a clinician's channels, exactly one notification per step, the SMS provider's
receipts (signed, validated, recorded; delivered verifies the number), the rota check's view of
unverified numbers, and test pages by text, Slack and Teams."""

import datetime
import urllib.parse

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.alerting import alerts, coverage, rules
from clinic.alerting.transports import AlertMessage, DigestCase, DigestMessage, twilio_signature
from clinic.models import (
    ChannelCheck,
    Clinic,
    Clinician,
    DeliveryAttempt,
    DutyShift,
    Notification,
    NotificationRule,
)
from support.real_services import twilio_request_signature
from tests.factories import open_round_the_clock, raise_urgent

pytestmark = pytest.mark.django_db

PHONE = "+447700900555"
SID, TOKEN = "AC" + "1" * 32, "t" * 32
RECEIPTS = "/api/alerting/sms-status/"
MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def sms_on(settings):
    settings.SMS_ACCOUNT_SID, settings.SMS_AUTH_TOKEN = SID, TOKEN
    settings.SMS_FROM, settings.SMS_ENABLED = "+15005550006", True
    settings.SMS_API_BASE = "http://127.0.0.1:9"  # nothing listens: no test here sends a text
    settings.SITE_URL = "https://clinic.test"
    return settings


def person(**channels) -> Clinician:
    return Clinician(name="Dr Rule", **channels)


def steps(plan) -> list[tuple[str, int]]:
    return [(step.channel, int(step.delay / MINUTE)) for step in plan]


# --- Plans ------------------------------------------------------------------------------------


def test_the_default_plan_texts_and_emails_an_emergency_at_once_and_texts_urgent_later(sms_on):
    both = person(email="a@clinic.test", phone=PHONE, webhook_url="https://hooks.test/a")
    assert steps(rules.plan(both, "emergency", [])) == [("email", 0), ("sms", 0)]
    assert steps(rules.plan(both, "urgent", [])) == [
        ("email", 0), ("sms", rules.DEFAULT_URGENT_SMS_MINUTES)]
    # Only a chat channel: that, at once; the others are fallbacks.
    chat = person(slack_webhook_url="https://hooks.slack.test/a",
                  teams_webhook_url="https://teams.test/a")
    assert steps(rules.plan(chat, "emergency", [])) == [("slack", 0)]
    assert [c.name for c in chat.channels_from("slack")] == ["slack", "teams"]


def test_without_an_sms_provider_a_mobile_number_is_not_a_channel(settings):
    settings.SMS_ENABLED = False
    both = person(email="a@clinic.test", phone=PHONE)
    assert [c.name for c in both.channels] == ["email"]
    assert steps(rules.plan(both, "emergency", [])) == [("email", 0)]
    assert steps(rules.plan(person(), "emergency", [])) == [("", 0)]  # nobody: fails at once


def test_rules_give_the_order_and_delays_skipping_channels_without_an_address(sms_on):
    clinician = person(email="a@clinic.test", phone=PHONE)
    own = [NotificationRule(urgency="urgent", channel="slack", delay_minutes=0, position=0),
           NotificationRule(urgency="urgent", channel="sms", delay_minutes=15, position=1),
           NotificationRule(urgency="urgent", channel="email", delay_minutes=5, position=2)]
    # Slack has no address: skipped; the plan never holds back the first page.
    assert steps(rules.plan(clinician, "urgent", own)) == [("email", 0), ("sms", 10)]
    # Nothing usable: the default.
    assert rules.plan(clinician, "urgent", own[:1]) == rules.default_plan(clinician, "urgent")


def test_a_rule_must_name_a_channel_the_clinician_has(sms_on):
    clinician = Clinician.objects.create(name="Dr Rule", email="a@clinic.test")
    with pytest.raises(ValidationError, match="address above first"):
        NotificationRule(clinician=clinician, urgency="urgent", channel="sms").full_clean()
    NotificationRule(clinician=clinician, urgency="urgent", channel="email").full_clean()


def test_a_mobile_number_must_be_international():
    for wrong in ("07700 900123", "07700900123", "+44 7700 900123", "+0447700900123"):
        with pytest.raises(ValidationError, match="international form"):
            Clinician(name="Dr Rule", phone=wrong).full_clean()
    Clinician(name="Dr Rule", phone=PHONE).full_clean()


def test_short_texts_carry_the_reference_and_link_within_300_characters():
    alert = AlertMessage(notification_id=1, reference="ABCD-EFGH-JKLM", urgency="emergency",
                         link="https://clinic.test/cases/ABCD-EFGH-JKLM/", level=1)
    assert alert.short_text.startswith("EMERGENCY ABCD-EFGH-JKLM (escalated).")
    assert alert.short_text.endswith(" https://clinic.test/cases/ABCD-EFGH-JKLM/")
    digest = DigestMessage(key="k", minutes=10, queue_link="https://clinic.test/queue/",
                           cases=tuple(DigestCase(f"REF{n:04d}-XXXX-YYYY", "l")
                                       for n in range(40)))
    assert len(digest.short_text) <= 300
    assert digest.short_text.startswith("[URGENT] 40 more urgent cases in the last 10 minutes:")
    # Cut short to fit, the queue's link whole.
    assert digest.short_text.endswith(" https://clinic.test/queue/")


# --- Steps in the outbox -----------------------------------------------------------------------


@pytest.fixture
def duty(clinician, sms_on) -> Clinician:
    """Dr Duty (email and mobile), always on duty at the default clinic, open round the clock."""
    clinic = Clinic.objects.get(is_default=True)
    open_round_the_clock(clinic)
    duty = Clinician.objects.get(user=clinician)
    duty.name, duty.email, duty.phone = "Dr Duty", "duty@clinic.test", PHONE
    duty.save()
    DutyShift.objects.bulk_create(
        DutyShift(clinic=clinic, clinician=duty, weekday=day, starts=datetime.time(0),
                  ends=datetime.time(23, 59, 59)) for day in range(7))
    return duty


def test_an_urgent_alert_emails_at_once_and_texts_later_only_if_not_acknowledged(
        duty, clinician, mailoutbox, django_capture_on_commit_callbacks):
    NotificationRule.objects.bulk_create([
        NotificationRule(clinician=duty, urgency="urgent", channel="email", position=0),
        NotificationRule(clinician=duty, urgency="urgent", channel="sms", position=1,
                         delay_minutes=7)])
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_urgent()  # without a broker, delivery runs in-process after the commit

    email, text = alert.notifications.order_by("step")
    assert (email.step, email.channel, email.status) == (0, "email", "delivered")
    assert (text.step, text.channel, text.status) == (1, "sms", "pending")
    assert text.next_attempt_at == alert.created_at + 7 * MINUTE
    assert len(mailoutbox) == 1
    # Raising the same level again (a second sweep, say) adds nothing: one row per step.
    with transaction.atomic():
        alerts._notify_step(alert, level=0, steps=[[duty]], now=alert.created_at)
    assert alert.notifications.count() == 2
    # Not yet due: the sweep leaves it.
    assert alerts.sweep(now=alert.created_at + 6 * MINUTE).queued == 0

    assert alerts.acknowledge(alert, by=clinician)
    text.refresh_from_db()
    assert text.status == Notification.Status.CANCELLED
    assert alerts.sweep(now=alert.created_at + 8 * MINUTE).queued == 0


def test_a_step_raised_again_writes_nothing_and_queues_what_of_it_is_still_waiting(
        duty, monkeypatch, django_capture_on_commit_callbacks):
    NotificationRule.objects.bulk_create([
        NotificationRule(clinician=duty, urgency="urgent", channel="email", position=0),
        NotificationRule(clinician=duty, urgency="urgent", channel="sms", position=1,
                         delay_minutes=7)])
    queued = []
    monkeypatch.setattr(alerts, "queue_delivery", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        alert = raise_urgent()
    email, _ = alert.notifications.order_by("step")
    assert queued == [[email.pk]]  # the text is not due yet: the sweep's, in 7 minutes

    def raise_again() -> list[int]:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            alerts._notify_step(alert, level=0, steps=[[duty]], now=alert.created_at)
        assert alert.notifications.count() == 2
        return queued[-1]

    # Someone got there first: what is still waiting and due is queued again, nothing written.
    assert raise_again() == [email.pk]
    Notification.objects.filter(pk=email.pk).update(status=Notification.Status.DELIVERED)
    assert raise_again() == []


# --- Receipts -------------------------------------------------------------------------------


def post_receipt(client, fields: dict, *, token: str = TOKEN, signature: str | None = None):
    url = "https://clinic.test" + RECEIPTS
    signature = signature or twilio_request_signature(url, fields, token)
    return client.post(RECEIPTS, urllib.parse.urlencode(fields),
                       content_type="application/x-www-form-urlencoded",
                       HTTP_X_TWILIO_SIGNATURE=signature)


def sent_text(clinician) -> ChannelCheck:
    return ChannelCheck.objects.create(clinician=clinician, channel="sms",
                                       provider_id="SM" + "a" * 32,
                                       outcome=DeliveryAttempt.Outcome.SENT)


def test_the_service_signs_and_checks_receipts_as_twilio_describes():
    fields = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": PHONE}
    assert twilio_signature("https://x.test/cb", fields, token=TOKEN) == (
        twilio_request_signature("https://x.test/cb", fields, TOKEN))


def test_a_receipt_with_a_bad_or_missing_signature_is_refused(client, duty):
    check = sent_text(duty)
    fields = {"MessageSid": check.provider_id, "MessageStatus": "undelivered"}
    assert post_receipt(client, fields, token="x" * 32).status_code == 403
    assert client.post(RECEIPTS, fields).status_code == 403
    check.refresh_from_db()
    assert (check.outcome, check.receipt) == ("sent", "")


def test_a_receipt_without_its_fields_is_a_clear_400(client, duty):
    response = post_receipt(client, {"MessageStatus": "delivered"})
    assert response.status_code == 400
    assert "MessageSid" in response.json()["detail"]
    assert post_receipt(client, {"MessageSid": "SM1", "MessageStatus": "delivered",
                                 "ErrorCode": "abc"}).status_code == 400
    assert client.get(RECEIPTS).status_code == 405


def test_receipts_are_not_found_when_the_service_sends_no_texts(client, settings):
    settings.SMS_ENABLED = False
    assert client.post(RECEIPTS, {"MessageSid": "SM1"}).status_code == 404


def test_a_delivered_receipt_verifies_the_number_and_the_rota_check_stops_asking(client, duty):
    assert "mobile number is not verified" in coverage.unverified_because(duty)
    check = sent_text(duty)

    # A receipt for an unknown message changes nothing (and tells the caller nothing).
    assert post_receipt(client, {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered",
                                 "To": PHONE}).status_code == 204
    assert post_receipt(client, {"MessageSid": check.provider_id, "MessageStatus": "delivered",
                                 "To": PHONE}).status_code == 204

    duty.refresh_from_db()
    check.refresh_from_db()
    assert (check.outcome, check.receipt) == ("sent", "delivered")
    assert duty.verified_phone == PHONE and duty.phone_verified
    assert coverage.unverified_because(duty) == ""
    # A new number has to prove itself again.
    duty.phone = "+447700900777"
    assert not duty.phone_verified


def test_an_undelivered_test_text_counts_as_a_failure_for_the_rota_check(client, duty):
    Clinician.objects.filter(pk=duty.pk).update(email="")
    duty.refresh_from_db()
    check = sent_text(duty)
    assert post_receipt(client, {"MessageSid": check.provider_id,
                                 "MessageStatus": "undelivered", "ErrorCode": "30003",
                                 "To": PHONE}).status_code == 204
    check.refresh_from_db()
    assert (check.outcome, check.error) == (
        "permanent_failure", "receipt: undelivered (error 30003)")
    assert "failed for good on every channel: sms (receipt: undelivered" in (
        coverage.unreachable_because(duty))


# --- Test pages --------------------------------------------------------------------------------


def test_a_test_page_goes_by_text_slack_and_teams(settings, sms_gateway, webhooks, admin_user):
    for name, value in sms_gateway.settings().items():
        setattr(settings, name, value)
    settings.SMS_ENABLED, settings.WEBHOOK_REQUIRE_HTTPS = True, False
    clinician = Clinician.objects.create(
        name="Dr Chat", phone=PHONE, slack_webhook_url=webhooks.url("slack"),
        teams_webhook_url=webhooks.url("teams"))

    checks = coverage.send_test_page(clinician, by=admin_user)

    assert [(c.channel, c.outcome) for c in checks] == [
        ("sms", "sent"), ("slack", "sent"), ("teams", "sent")]
    [text] = sms_gateway.messages
    assert (text.to, checks[0].provider_id) == (PHONE, text.sid)
    assert text.body.startswith("TEST PAGE, not an alert")
    slack, teams = sorted(webhooks.hooks, key=lambda hook: hook.path)
    assert slack.json()["text"].startswith("[TEST] Test page: not an alert")
    assert teams.json()["attachments"][0]["content"]["body"][0]["text"].startswith("[TEST]")
