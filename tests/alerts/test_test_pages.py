"""A test page goes out through the real transports, to a real mail server and a real webhook
receiver on loopback, marked as a test in its first words and in its JSON, signed like an
alert; and the rota check then counts the channel as working."""

import pytest

from clinic.alerting import coverage
from clinic.alerting.transports import SIGNATURE_HEADER
from clinic.models import ChannelCheck, Clinician, DeliveryAttempt

pytestmark = pytest.mark.django_db


def test_a_test_page_reaches_every_channel_marked_as_a_test(alert_settings, smtp, webhooks,
                                                              admin_user):
    alert_settings.WEBHOOK_REQUIRE_HTTPS = False
    clinician = Clinician.objects.create(name="Dr Pager", email="pager@clinic.test",
                                         webhook_url=webhooks.url("pager"))
    ChannelCheck.objects.create(clinician=clinician, channel="email",
                                outcome=DeliveryAttempt.Outcome.PERMANENT_FAILURE)
    ChannelCheck.objects.create(clinician=clinician, channel="webhook",
                                outcome=DeliveryAttempt.Outcome.PERMANENT_FAILURE)
    assert coverage.unreachable_because(clinician)

    checks = coverage.send_test_page(clinician, by=admin_user)

    assert [(c.channel, c.outcome) for c in checks] == [("email", "sent"), ("webhook", "sent")]
    [mail] = smtp.wait_for_messages(1)
    assert mail.recipients == ("pager@clinic.test",)
    assert mail.message["Subject"] == "[TEST] Test page: not an alert, no action needed"
    assert mail.text.startswith("TEST PAGE: this is not an alert")
    [hook] = webhooks.hooks
    assert hook.path == "/hooks/pager"
    assert hook.json()["test"] is True and hook.json()["urgency"] == "test"
    assert hook.headers[SIGNATURE_HEADER].startswith("t=")
    assert coverage.unreachable_because(clinician) == ""
