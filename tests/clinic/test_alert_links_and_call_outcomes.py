"""The one-tap acknowledgement link's refusals, the call-outcome API's bad inputs, what a page
says (the advice the patient was given, the deadline in the clinic's time, a short text), and
the admin's "Send again" (issue 15).  The end-to-end tests with a real worker and mail server
are tests/alerts/test_alert_links_and_call_outcomes.py."""

import datetime
import zoneinfo

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from clinic.alerting import alerts, delivery, links
from clinic.alerting.transports import SHORT_TEXT_LIMIT
from clinic.models import (
    Alert,
    AlertLink,
    AuditEvent,
    Clinic,
    Clinician,
    Notification,
    OpeningHours,
)
from core.roles import CLINICIANS_GROUP
from intake.advice import advice_for
from tests.factories import make_case

pytestmark = pytest.mark.django_db

SITE_URL = "https://clinic.test"


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = SITE_URL


@pytest.fixture
def alert() -> Alert:
    """An emergency alert at the default clinic, not yet acknowledged."""
    return make_case("emergency").alert


def path_of(link: str) -> str:
    return link.removeprefix(SITE_URL)


@pytest.fixture
def other_clinician(django_user_model):
    """Olu, a clinician who works at another clinic only."""
    user = django_user_model.objects.create_user(username="olu", password="olu-password")
    user.groups.add(Group.objects.get(name=CLINICIANS_GROUP))
    elsewhere = Clinic.objects.create(name="Elsewhere", slug="elsewhere")
    Clinician.objects.create(name="Olu Other", user=user, email="olu@example.org").clinics.add(
        elsewhere)
    return user


# --- The link --------------------------------------------------------------------------------


def test_opening_the_link_signed_out_goes_to_the_login_page_and_back(client, alert):
    path = path_of(links.make_link(alert))
    response = client.get(path)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={path}"


def test_a_tampered_link_is_a_clear_page_and_acknowledges_nothing(clinician_client, alert):
    path = path_of(links.make_link(alert))
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    for response in (clinician_client.get(tampered), clinician_client.post(tampered),
                     clinician_client.get("/alerts/x/"), clinician_client.get(
                         "/alerts/" + "a" * 300 + "/")):
        assert response.status_code == 404
        assert b"This link is not valid" in response.content
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_an_expired_link_is_refused_with_a_link_to_the_case(clinician_client, alert, settings):
    settings.ALERT_LINK_MAX_AGE_MINUTES = 60
    made = timezone.now() - datetime.timedelta(minutes=61)
    path = path_of(links.make_link(alert, now=made))
    assert AlertLink.objects.get().expires_at == made + datetime.timedelta(minutes=60)
    for response in (clinician_client.get(path), clinician_client.post(path)):
        assert response.status_code == 410
        assert b"This link has expired" in response.content
        assert f'href="/cases/{alert.submission.reference}/"'.encode() in response.content
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert AlertLink.objects.get().used_at is None


def test_a_clinician_of_another_clinic_cannot_use_the_link_nor_learn_the_case(
        client, other_clinician, alert):
    client.force_login(other_clinician)
    path = path_of(links.make_link(alert))
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 403
        assert b"You cannot acknowledge this alert" in response.content
        assert alert.submission.reference.encode() not in response.content
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert AlertLink.objects.get().used_at is None  # still works for the right clinician
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ACKNOWLEDGE).exists()


def test_a_link_for_an_alert_acknowledged_another_way_says_so(
        clinician, clinician_client, alert):
    path = path_of(links.make_link(alert))
    alerts.acknowledge(alert, by=clinician)
    response = clinician_client.get(path)
    assert response.status_code == 200
    assert b"This alert is acknowledged already" in response.content
    assert b"Acknowledge alert" not in response.content


def test_the_link_acknowledges_once_and_the_second_tap_is_refused(
        clinician, clinician_client, alert):
    path = path_of(links.make_link(alert))
    assert clinician_client.post(path).status_code == 302
    second = clinician_client.post(path)
    assert second.status_code == 410
    assert b"This link has been used already" in second.content
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACKNOWLEDGE).count() == 1
    assert only_token_hashes_are_kept(path)


def only_token_hashes_are_kept(path: str) -> bool:
    token = path.split("/")[2]
    return not AlertLink.objects.filter(token_hash=token).exists() and AlertLink.objects.filter(
        token_hash=links.token_hash(token)).exists()


# --- The call-outcome API --------------------------------------------------------------------


def call_outcome(api_client, reference, body, **kwargs):
    return api_client.post(f"/api/submissions/{reference}/call-outcome/", body, **kwargs)


@pytest.mark.parametrize("body", [
    {}, {"outcome": ""}, {"outcome": "cured"}, {"outcome": None}, {"outcome": 3},
    {"outcome": ["booked_today"]}, ["booked_today"], "booked_today",
], ids=["empty", "blank", "unknown", "null", "number", "list", "array body", "string body"])
def test_the_call_outcome_api_refuses_bad_input_with_400(api_client, clinician, alert, body):
    api_client.force_authenticate(clinician)
    response = call_outcome(api_client, alert.submission.reference, body, format="json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    alert.refresh_from_db()
    assert (alert.acknowledged_at, alert.resolved_at) == (None, None)


def test_the_call_outcome_api_refuses_who_may_not_and_what_is_not_there(
        api_client, clinician, other_clinician, alert):
    reference = alert.submission.reference
    assert call_outcome(api_client, reference, {"outcome": "booked_today"},
                        format="json").status_code == 401
    api_client.force_authenticate(other_clinician)
    assert call_outcome(api_client, reference, {"outcome": "booked_today"},
                        format="json").status_code == 404
    api_client.force_authenticate(clinician)
    assert call_outcome(api_client, "NOPE-NOPE-NOPE", {"outcome": "booked_today"},
                        format="json").status_code == 404
    routine = make_case("routine", name="Rosa Routine").reference
    response = call_outcome(api_client, routine, {"outcome": "booked_today"}, format="json")
    assert response.status_code == 404
    assert "no alert" in response.json()["detail"]
    # Not JSON at all.
    response = api_client.post(f"/api/submissions/{reference}/call-outcome/", "outcome=x",
                               content_type="application/x-www-form-urlencoded")
    assert response.status_code in (400, 415)


def test_an_outcome_acknowledges_first_resolves_and_a_second_is_refused(
        api_client, clinician, alert):
    api_client.force_authenticate(clinician)
    reference = alert.submission.reference
    response = call_outcome(api_client, reference, {"outcome": "advised_emergency"},
                            format="json")
    assert response.status_code == 200, response.content
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician and alert.resolved_at is not None
    assert list(AuditEvent.objects.filter(reference=reference).exclude(
        action=AuditEvent.Action.VIEW_CASE).values_list("action", "detail").order_by("pk")) == [
        ("acknowledge", "on recording the call's outcome"),
        ("call_outcome", "advised_emergency")]
    again = call_outcome(api_client, reference, {"outcome": "self_care"}, format="json")
    assert again.status_code == 422
    assert "resolved already" in again.json()["detail"]


def test_the_case_page_records_an_outcome_and_refuses_a_missing_one(
        clinician, clinician_client, alert):
    reference = alert.submission.reference
    alerts.acknowledge(alert, by=clinician)
    page = clinician_client.get(f"/cases/{reference}/")
    assert b"What came of the call?" in page.content
    url = f"/cases/{reference}/call-outcome/"
    refused = clinician_client.post(url, {"outcome": "nonsense"}, follow=True)
    assert b"Choose what came of the call" in refused.content
    done = clinician_client.post(url, {"outcome": "no_answer"}, follow=True)
    assert b"Recorded: No answer: try again. The alert stays open" in done.content
    alert.refresh_from_db()
    assert alert.resolved_at is None and alert.follow_up_at is not None


# --- What a page says ------------------------------------------------------------------------


@pytest.fixture
def duty(alert) -> Clinician:
    return Clinician.objects.create(name="Dr Duty", email="duty@clinic.test")


def page_for(alert, clinician, **fields):
    if fields:
        Alert.objects.filter(pk=alert.pk).update(**fields)
    notification = Notification.objects.create(alert=alert, clinician=clinician, level=0)
    notification = Notification.objects.select_related("alert__submission",
                                                       "alert__clinic").get(pk=notification.pk)
    return delivery._message(notification)


@pytest.mark.parametrize(("urgency", "out_of_hours", "told", "number"), [
    ("emergency", False, "call 999 now", "999"),
    ("urgent", False, "a clinician will phone them today", ""),
    ("urgent", True, "the clinic is closed, call 111 now for urgent medical advice", "111"),
])
def test_a_page_says_what_the_patient_was_told_as_the_patients_page_did(
        alert, duty, urgency, out_of_hours, told, number):
    clinic = alert.clinic
    clinic.opening_hours.all().delete()
    OpeningHours.objects.create(clinic=clinic, weekday=0, opens=datetime.time(9),
                                closes=datetime.time(17))
    london = zoneinfo.ZoneInfo(clinic.timezone)
    at = (datetime.datetime(2026, 6, 1, 3, tzinfo=london) if out_of_hours  # a Monday, 03:00
          else datetime.datetime(2026, 6, 1, 10, tzinfo=london))
    patient_was_told = advice_for(urgency, clinic, at)
    assert patient_was_told.call_number == number
    message = page_for(alert, duty, urgency=urgency, out_of_hours=out_of_hours)
    assert f"The patient was told: {told}." in message.body
    assert f"Patient told: {told}." in message.short_text
    assert message.as_json()["patient_told"] == told
    if number:
        assert f"Call {number} now" in str(patient_was_told)


def test_the_deadline_is_the_clinics_local_time_and_the_short_text_fits(alert, duty):
    clinic = alert.clinic
    clinic.timezone = "America/New_York"
    clinic.save()
    escalate_at = datetime.datetime(2026, 1, 15, 17, 5, tzinfo=datetime.UTC)  # 12:05 EST
    message = page_for(alert, duty, escalate_at=escalate_at)
    assert message.deadline == "12:05 EST, Thu 15 Jan"
    assert "If nobody acknowledges it by 12:05 EST, Thu 15 Jan, it is escalated" in message.body
    assert message.as_json()["escalates_at"] == escalate_at.isoformat()
    assert message.acknowledge_link.startswith(f"{SITE_URL}/alerts/")
    assert message.acknowledge_link in message.body
    text = message.short_text
    assert len(text) <= SHORT_TEXT_LIMIT
    assert text.startswith(f"EMERGENCY {alert.submission.reference}.")
    assert text.endswith(message.acknowledge_link)
    assert "Ada" not in text + message.body  # make_case's patient


def test_a_long_site_address_cuts_the_short_text_never_its_link(alert, duty, settings):
    settings.SITE_URL = "https://" + "very-long-host." * 12 + "example"
    message = page_for(alert, duty)
    assert len(message.short_text) <= SHORT_TEXT_LIMIT
    assert message.short_text.endswith(message.acknowledge_link)


# --- Send again (the admin) ------------------------------------------------------------------


def test_send_again_from_the_admin_sends_a_failed_notification_once_and_audits_it(
        admin_client, admin_user, alert, duty):
    failed = Notification.objects.create(alert=alert, clinician=duty, level=0,
                                         status=Notification.Status.FAILED, channel_index=1)
    form = {"action": "send_again", "_selected_action": [alert.pk]}
    response = admin_client.post("/admin/clinic/alert/", form, follow=True)
    assert response.status_code == 200
    assert b"Sending 1 failed notification(s) again" in response.content
    failed.refresh_from_db()
    assert (failed.status, failed.channel_index) in {
        (Notification.Status.PENDING, 0), (Notification.Status.DELIVERED, 0),
        (Notification.Status.SENDING, 0)}
    # The second click (or a double click) finds nothing to send.
    Notification.objects.filter(pk=failed.pk).update(status=Notification.Status.PENDING)
    response = admin_client.post("/admin/clinic/alert/", form, follow=True)
    assert b"Nothing to send again" in response.content
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.SEND_AGAIN)
    assert (event.actor, event.reference) == (admin_user, alert.submission.reference)
    assert "Dr Duty" in event.detail


def test_send_again_leaves_an_acknowledged_alert_alone(clinician, alert, duty, admin_user):
    failed = Notification.objects.create(alert=alert, clinician=duty, level=0,
                                         status=Notification.Status.FAILED)
    alerts.acknowledge(alert, by=clinician)
    assert not alerts.send_again(failed.pk, by=admin_user)
    failed.refresh_from_db()
    assert failed.status == Notification.Status.FAILED
