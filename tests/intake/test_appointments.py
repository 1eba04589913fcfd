"""Appointments and their invitations (issue 16): a booking system makes, updates, reschedules
and cancels appointments over REST; each invites its patient by email with a single-use link
that asks for the date of birth (locking after a few wrong ones) before it shows the form,
pre-filled; reminders go out before the appointment until the form is done; the intake is the
appointment's, at its clinic, alerting that clinic's rota and no other.
"""

import datetime
import html
import re
import zoneinfo

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from clinic.models import Alert, Clinic, Clinician, DutyShift, Notification
from intake.models import Appointment, Invitation, Submission
from intake.services import invitations, retention
from support.real_services import SmsGateway
from tests.factories import (
    ANSWERS_BY_URGENCY,
    ROUTINE,
    open_round_the_clock,
    post_submission,
    send_form,
)

URGENT = ANSWERS_BY_URGENCY["urgent"]
EMERGENCY = ANSWERS_BY_URGENCY["emergency"]

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/appointments/"
BORN = "1971-03-02"
PATIENT = {"full_name": "Ada Example", "date_of_birth": BORN, "phone": "07700 900123",
           "email": "ada@example.org"}
LINK = re.compile(r"https?://\S+/i/([A-Za-z0-9_-]+)/")


@pytest.fixture
def bedford() -> Clinic:
    return Clinic.objects.get(is_default=True)


@pytest.fixture
def booking(django_user_model, api_client, bedford):
    """A booking system's account: staff, with the appointment permissions, managing the
    default clinic only."""
    user = django_user_model.objects.create_user(username="booking", password="x" * 20,
                                                 is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="intake", codename__endswith="_appointment"))
    bedford.staff.add(user)
    api_client.force_authenticate(user)
    return api_client


def in_days(days: float, hour: int = 10) -> datetime.datetime:
    moment = timezone.now() + datetime.timedelta(days=days)
    return moment.replace(hour=hour, minute=0, second=0, microsecond=0)


def book(client, **changes):
    body = {"clinic": "bedford", "starts_at": in_days(3).isoformat(), "external_id": "BK-1",
            "patient": PATIENT, **changes}
    return client.post(APPOINTMENTS, body, format="json")


def token_from_email(message) -> str:
    match = LINK.search(message.body)
    assert match, message.body
    return match.group(1)


# --- The REST API -----------------------------------------------------------------------------


def test_a_booking_system_makes_an_appointment_and_gets_the_patients_link(booking,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = book(booking)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["clinic"] == "bedford" and body["external_id"] == "BK-1"
    assert body["status"] == "booked"
    assert body["intake"] == {"status": "not started", "reference": None, "urgency": None,
                              "submitted_at": None}
    assert body["invitation_url"].endswith(f"/i/{body['invitation_token']}/")
    assert len(body["invitation_token"]) >= 40
    # The invitation went to the patient at once, with the same link, and nothing clinical.
    [email] = mail.outbox
    assert email.to == ["ada@example.org"]
    assert token_from_email(email) == body["invitation_token"]
    assert "Ada" not in email.body and "back pain" in email.body
    # Only the token's hash is stored.
    invitation = Invitation.objects.get()
    assert body["invitation_token"] not in (invitation.token_hash, invitation.secret)


def test_the_same_external_id_updates_the_appointment_and_keeps_its_link(booking):
    first = book(booking).json()
    later = in_days(5)
    again = book(booking, starts_at=later.isoformat(),
                 patient={**PATIENT, "phone": "07700 900999"})
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert again.json()["invitation_token"] == first["invitation_token"]
    appointment = Appointment.objects.get()
    assert appointment.starts_at == later and appointment.phone == "07700 900999"
    assert Invitation.objects.count() == 1


def test_patch_reschedules_and_cancels(booking):
    made = book(booking).json()
    later = in_days(6)
    response = booking.patch(f"{APPOINTMENTS}{made['id']}/", {"starts_at": later.isoformat()},
                             format="json")
    assert response.status_code == 200, response.json()
    assert Appointment.objects.get().starts_at == later
    response = booking.patch(f"{APPOINTMENTS}{made['id']}/", {"status": "cancelled"},
                             format="json")
    assert response.json()["status"] == "cancelled"
    # The link of a cancelled appointment no longer opens the form.
    assert Client().get(f"/i/{made['invitation_token']}/").status_code == 410


@pytest.mark.parametrize(("body", "field"), [
    ({"clinic": "nowhere"}, "clinic"),
    ({"starts_at": "next tuesday"}, "starts_at"),
    ({"patient": {**PATIENT, "date_of_birth": "2990-01-01"}}, "patient"),
    ({"patient": "Ada"}, "patient"),
    ({"practitioner": "Dr Who"}, "practitioner"),
    ({"status": "maybe"}, "status"),
    ({"colour": "blue"}, "non_field_errors"),
])
def test_bad_appointments_are_refused_naming_the_field(booking, body, field):
    response = book(booking, **body)
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Appointment.objects.exists()


def test_not_json_is_a_clear_error(booking):
    response = booking.post(APPOINTMENTS, "clinic=bedford", content_type="text/plain")
    assert response.status_code == 415


def test_only_the_clinics_staff_with_the_permission_see_or_make_appointments(
        booking, api_client, django_user_model, clinician):
    made = book(booking).json()
    other_clinic = Clinic.objects.create(name="Luton", slug="luton")
    outsider = django_user_model.objects.create_user(username="luton-desk", is_staff=True)
    outsider.user_permissions.set(Permission.objects.filter(
        content_type__app_label="intake", codename__endswith="_appointment"))
    other_clinic.staff.add(outsider)
    client = type(api_client)()
    client.force_authenticate(outsider)
    # Another clinic's staff: Bedford's appointment is not there for them.
    assert client.patch(f"{APPOINTMENTS}{made['id']}/", {"status": "cancelled"},
                        format="json").status_code == 404
    assert client.get(APPOINTMENTS, {"clinic": "bedford", "date": "2026-12-07"}
                      ).status_code == 400
    assert book(client).status_code == 400  # "no clinic bedford that you manage"
    # A clinician without the appointment permissions: refused.
    client.force_authenticate(clinician)
    assert client.get(APPOINTMENTS, {"clinic": "bedford", "date": "2026-12-07"}
                      ).status_code == 403
    # Anonymous: not signed in.
    assert type(api_client)().get(APPOINTMENTS).status_code in (401, 403)
    assert Appointment.objects.get().status == "booked"


def test_the_days_list_shows_each_intake_with_its_urgency(booking, bedford):
    day = in_days(2)
    made = [book(booking, external_id=f"BK-{n}", starts_at=(day + datetime.timedelta(hours=n))
                 .isoformat()).json() for n in range(3)]
    book(booking, external_id="BK-other-day", starts_at=in_days(4).isoformat())
    response = post_submission(Client(), {"invitation": made[1]["invitation_token"],
                                          "answers": URGENT})
    assert response.status_code == 201, response.json()
    local_date = day.astimezone(zoneinfo.ZoneInfo(bedford.timezone)).date().isoformat()
    listed = booking.get(APPOINTMENTS, {"clinic": "bedford", "date": local_date}).json()
    assert [a["external_id"] for a in listed["appointments"]] == ["BK-0", "BK-1", "BK-2"]
    assert [a["intake"]["status"] for a in listed["appointments"]] == [
        "not started", "done", "not started"]
    assert listed["appointments"][1]["intake"]["urgency"] == "urgent"
    assert listed["appointments"][1]["intake"]["reference"] == response.json()["reference"]


def test_the_days_list_costs_the_same_queries_for_3_or_30_appointments(
        booking, django_assert_max_num_queries):
    day = in_days(2, hour=8)
    date = day.date().isoformat()

    def book_many(count, start):
        for n in range(start, start + count):
            book(booking, external_id=f"BK-{n}",
                 starts_at=(day + datetime.timedelta(minutes=10 * n)).isoformat())

    book_many(3, 0)
    with django_assert_max_num_queries(10) as few:
        booking.get(APPOINTMENTS, {"clinic": "bedford", "date": date})
    queries_for_3 = len(few)
    book_many(27, 3)
    with django_assert_max_num_queries(queries_for_3):
        assert len(booking.get(APPOINTMENTS, {"clinic": "bedford", "date": date}
                               ).json()["appointments"]) == 30


# --- The invitation link ----------------------------------------------------------------------


@pytest.fixture
def invited(booking):
    """The link of a booked appointment in three days, as the patient received it."""
    return book(booking).json()["invitation_token"]


def dob(day="2", month="3", year="1971"):
    return {"dob_day": day, "dob_month": month, "dob_year": year}


def test_the_link_asks_for_the_date_of_birth_before_showing_anything(invited):
    page = Client().get(f"/i/{invited}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "date of birth" in text
    assert "Ada" not in text and "Bedford" not in text


def test_the_right_date_of_birth_opens_the_form_pre_filled(invited, bedford):
    client = Client()
    response = client.post(f"/i/{invited}/", dob())
    assert response.status_code == 302 and response["Location"] == "/invitation/"
    form = client.get("/invitation/").content.decode()
    assert 'value="Ada Example"' in form and 'value="07700 900123"' in form
    assert f"at {bedford.name} on" in form
    # The form page's URL does not carry the token.
    assert invited not in form


@pytest.mark.parametrize(("parts", "message"), [
    (dob("", "", ""), "Enter your date of birth"),
    (dob(month=""), "Your date of birth must include a month"),
    (dob("31", "2"), "Your date of birth must be a real date"),
    (dob(year="71"), "Year must include 4 numbers"),
    (dob(year="2990"), "Your date of birth must be in the past"),
])
def test_a_date_that_is_not_one_gets_govuk_messages_and_costs_no_try(invited, parts, message):
    response = Client().post(f"/i/{invited}/", parts)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Invitation.objects.get().failed_checks == 0


def test_wrong_dates_of_birth_lock_the_link(invited, settings):
    client = Client()
    for tries_left in range(settings.INVITATION_MAX_DOB_TRIES - 1, 0, -1):
        response = client.post(f"/i/{invited}/", dob(day="3"))
        assert response.status_code == 200
        assert f"you have {tries_left} more tr" in response.content.decode()
    response = client.post(f"/i/{invited}/", dob(day="3"))
    assert response.status_code == 410 and "locked" in response.content.decode()
    # Even the right date no longer opens it.
    assert client.post(f"/i/{invited}/", dob()).status_code == 410
    assert Invitation.objects.get().locked_at is not None
    assert client.get("/invitation/").status_code == 403


def test_the_link_works_once(invited):
    client = Client()
    client.post(f"/i/{invited}/", dob())
    response = send_form(client, ROUTINE, PATIENT, start="/invitation/")
    assert response.status_code == 302, response.content.decode()[:2000]
    submission = Submission.objects.get()
    assert submission.appointment == Appointment.objects.get()
    assert Invitation.objects.get().used_at is not None
    # The link, and the form page, no longer take answers.
    assert Client().get(f"/i/{invited}/").status_code == 410
    assert post_submission(Client(), {"invitation": invited, "answers": ROUTINE}
                           ).status_code == 400
    assert Submission.objects.count() == 1


def test_the_link_expires_when_the_appointment_starts(invited):
    Appointment.objects.update(starts_at=timezone.now() - datetime.timedelta(minutes=1))
    response = Client().get(f"/i/{invited}/")
    assert response.status_code == 410 and "expired" in response.content.decode()
    api = post_submission(Client(), {"invitation": invited, "answers": ROUTINE})
    assert api.status_code == 400 and "expired" in api.json()["invitation"][0]


def test_a_made_up_token_is_not_found(db):
    assert Client().get("/i/" + "x" * 43 + "/").status_code == 404
    api = post_submission(Client(), {"invitation": "x" * 43, "answers": ROUTINE})
    assert api.status_code == 400 and "invitation" in api.json()


def test_a_rest_client_submits_with_the_invitation_instead_of_the_patient(invited):
    response = post_submission(Client(), {"invitation": invited, "answers": ROUTINE})
    assert response.status_code == 201, response.json()
    submission = Submission.objects.get()
    assert submission.full_name == "Ada Example"
    assert submission.date_of_birth == datetime.date(1971, 3, 2)
    assert submission.appointment is not None


# --- Reminders (a controlled clock) -----------------------------------------------------------


@pytest.fixture
def appointment_in_4_days(booking, settings):
    settings.INVITATION_REMINDER_HOURS = [72.0, 24.0]
    starts = in_days(4)
    made = book(booking, starts_at=starts.isoformat()).json()
    return starts, made


def sent_at(moment) -> list[str]:
    mail.outbox.clear()
    invitations.send_due(now=moment)
    return [message.subject for message in mail.outbox]


def test_reminders_go_at_72_and_24_hours_before_and_once_each(appointment_in_4_days):
    starts, _ = appointment_in_4_days
    hours = datetime.timedelta(hours=1)
    assert sent_at(starts - 96 * hours) == [
        "Please fill in your form before your appointment at Bedford"]
    assert sent_at(starts - 80 * hours) == []
    assert sent_at(starts - 71 * hours) == [
        "Reminder: please fill in your form before your appointment at Bedford"]
    assert sent_at(starts - 70 * hours) == []
    assert len(sent_at(starts - 23 * hours)) == 1
    assert sent_at(starts - 1 * hours) == []
    assert sent_at(starts + 1 * hours) == []


def test_no_reminder_after_the_form_is_done(appointment_in_4_days):
    starts, made = appointment_in_4_days
    sent_at(starts - 96 * datetime.timedelta(hours=1))
    post_submission(Client(), {"invitation": made["invitation_token"], "answers": ROUTINE})
    assert sent_at(starts - datetime.timedelta(hours=71)) == []
    assert sent_at(starts - datetime.timedelta(hours=23)) == []


def test_no_reminder_after_cancelling(appointment_in_4_days, booking):
    starts, made = appointment_in_4_days
    sent_at(starts - 96 * datetime.timedelta(hours=1))
    booking.patch(f"{APPOINTMENTS}{made['id']}/", {"status": "cancelled"}, format="json")
    assert sent_at(starts - datetime.timedelta(hours=71)) == []


def test_an_invitation_not_sent_because_the_mail_server_failed_is_sent_by_the_next_sweep(
        booking, settings):
    settings.EMAIL_BACKEND = "tests.intake.test_appointments.FailingBackend"
    book(booking)
    assert Invitation.objects.get().sent_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()
    invitations.send_due()
    assert len(mail.outbox) == 1 and Invitation.objects.get().sent_at is not None


class FailingBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


# --- Clinics for real -------------------------------------------------------------------------


def open_all_week_with(clinic: Clinic, name: str) -> Clinician:
    open_round_the_clock(clinic)
    clinician = Clinician.objects.create(name=name, email=f"{name.split()[-1].lower()}@x.test")
    clinician.clinics.add(clinic)
    DutyShift.objects.bulk_create(DutyShift(clinic=clinic, clinician=clinician, weekday=day)
                                  for day in range(7))
    return clinician


def test_an_intake_for_clinic_b_alerts_clinic_bs_rota_and_never_clinic_as(bedford):
    luton = Clinic.objects.create(name="Luton Physio", slug="luton", phone="01582 000000",
                                  emergency_number="999")
    in_bedford = open_all_week_with(bedford, "Dr Bedford")
    in_luton = open_all_week_with(luton, "Dr Luton")
    response = send_form(Client(), EMERGENCY, start="/c/luton/")
    assert response.status_code == 302
    submission = Submission.objects.get()
    assert submission.clinic == luton
    alert = Alert.objects.get()
    assert alert.clinic == luton
    alerted = set(Notification.objects.values_list("clinician", flat=True))
    assert in_luton.pk in alerted and in_bedford.pk not in alerted
    # The advice names that clinic.
    advice = Client()
    send_form(advice, URGENT, start="/c/luton/")
    assert "Luton Physio" in advice.get("/advice/").content.decode()


def test_the_api_takes_a_clinic_by_its_slug(db):
    Clinic.objects.create(name="Luton Physio", slug="luton")
    response = post_submission(Client(), {"clinic": "luton", "patient": PATIENT,
                                          "answers": ROUTINE})
    assert response.status_code == 201
    assert Submission.objects.get().clinic.slug == "luton"
    bad = post_submission(Client(), {"clinic": "atlantis", "patient": PATIENT,
                                     "answers": ROUTINE})
    assert bad.status_code == 400 and "clinic" in bad.json()


def test_an_unknown_clinics_form_is_not_found(db):
    assert Client().get("/c/atlantis/").status_code == 404


def test_the_clinic_form_shows_that_clinic(db):
    Clinic.objects.create(name="Luton Physio", slug="luton")
    assert "For Luton Physio." in Client().get("/c/luton/").content.decode()


# --- The queue --------------------------------------------------------------------------------


def test_soon_cases_are_ordered_by_their_appointment_and_flagged_when_it_is_too_close(
        booking, clinician_client, bedford):
    bedford.soon_review_hours = 48
    bedford.save()
    SOON = ANSWERS_BY_URGENCY["soon"]
    walk_in = post_submission(Client(), {"patient": PATIENT, "answers": SOON}).json()
    references = {}
    for name, days in (("later", 6), ("tomorrow", 1)):
        made = book(booking, external_id=name, starts_at=in_days(days).isoformat()).json()
        references[name] = post_submission(Client(), {"invitation": made["invitation_token"],
                                                       "answers": SOON}).json()["reference"]
    page = clinician_client.get("/queue/").content.decode()
    order = [page.index(ref) for ref in (references["tomorrow"], references["later"],
                                         walk_in["reference"])]
    assert order == sorted(order)
    case = clinician_client.get(f"/cases/{references['tomorrow']}/").content.decode()
    assert "Appointment at Bedford" in case and "sooner than the 48-hour review window" in case
    later = clinician_client.get(f"/cases/{references['later']}/").content.decode()
    assert "Appointment at Bedford" in later and "review window" not in later
    # The queue's rows say the same.
    rows = clinician_client.get("/queue/rows/").content.decode()
    row = {name: re.search(rf'<tr id="case-{reference}".*?</tr>', rows, re.S).group(0)
           for name, reference in references.items()}
    assert "Appointment at Bedford" in row["tomorrow"]
    assert "sooner than the 48-hour review window" in row["tomorrow"]
    assert "Appointment at Bedford" in row["later"] and "review window" not in row["later"]


def test_appointments_past_the_retention_period_lose_the_patients_details(booking, settings):
    book(booking)
    Appointment.objects.update(starts_at=timezone.now() - datetime.timedelta(
        days=settings.DATA_RETENTION_DAYS + 1))
    book(booking, external_id="BK-recent")
    assert retention.anonymise_expired_appointments() == 1
    old, recent = Appointment.objects.order_by("starts_at")
    assert (old.full_name, old.date_of_birth, old.phone, old.email) == ("", None, "", "")
    assert recent.full_name == "Ada Example"
    assert retention.anonymise_expired_appointments() == 0


# --- The admin --------------------------------------------------------------------------------

CSV = """clinic,starts_at,external_id,full_name,date_of_birth,phone,email
bedford,{day} 09:30,CSV-1,Ada Example,1971-03-02,07700 900123,ada@example.org
bedford,{day} 10:00,CSV-2,Bo Example,1980-01-01,,
"""


@pytest.fixture
def manager(django_user_model, bedford):
    """A practice manager: staff, with the appointment permissions, managing Bedford."""
    user = django_user_model.objects.create_user(username="manager", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        content_type__app_label="intake", codename__endswith="_appointment"))
    bedford.staff.add(user)
    client = Client()
    client.force_login(user)
    return client


def upload(client, text, **extra):
    return client.post("/admin/intake/appointment/import/", {
        "file": SimpleUploadedFile("day.csv", text.encode(), content_type="text/csv"),
        "preview": "Check the file", **extra})


def test_an_appointment_made_in_the_admin_invites_its_patient(manager, bedford,
                                                              django_capture_on_commit_callbacks):
    starts = in_days(3)
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post("/admin/intake/appointment/add/", {
            "clinic": bedford.pk, "starts_at_0": starts.strftime("%Y-%m-%d"),
            "starts_at_1": starts.strftime("%H:%M:%S"), "status": "booked",
            "full_name": "Ada Example", "date_of_birth": BORN, "phone": "", "email": "a@x.org",
            "external_id": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Invitation.objects.get().appointment == Appointment.objects.get()
    [email] = mail.outbox
    assert Client().get(f"/i/{token_from_email(email)}/").status_code == 200


def test_the_csv_preview_names_each_rows_problems_and_imports_nothing(manager):
    bad = CSV.format(day=in_days(2).date()) + "bedford,tomorrow,CSV-3,,1971-02-31,,\n"
    response = upload(manager, bad)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported" in page
    assert "starts_at: Send the start as an ISO 8601" in page
    assert "full_name: Enter your full name." in page
    assert "date_of_birth: That date does not exist" in page
    assert not Appointment.objects.exists()


def test_a_good_csv_is_previewed_then_imported_and_its_patients_invited(
        manager, django_capture_on_commit_callbacks):
    text = CSV.format(day=in_days(2).date())
    preview = upload(manager, text)
    page = preview.content.decode()
    assert "Every row is right: 2 appointments" in page
    assert not Appointment.objects.exists()
    carried = re.search(r'name="text" value="([^"]*)"', page).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        done = manager.post("/admin/intake/appointment/import/",
                            {"text": html.unescape(carried), "import": "Import"})
    assert "2 appointments imported (2 new, 0 updated)" in done.content.decode()
    assert sorted(Appointment.objects.values_list("external_id", flat=True)) == ["CSV-1",
                                                                                 "CSV-2"]
    assert len(mail.outbox) == 1  # the second patient has no email address
    # The same file again updates the same appointments.
    preview = upload(manager, text)
    assert preview.content.decode().count(">update<") == 2


def test_a_csv_without_the_columns_is_refused(manager):
    page = upload(manager, "name;when\nAda;tomorrow\n").content.decode()
    assert "missing: clinic, starts_at, full_name, date_of_birth" in page


def test_the_admin_unlocks_a_locked_invitation(manager, booking, settings):
    token = book(booking).json()["invitation_token"]
    for _ in range(settings.INVITATION_MAX_DOB_TRIES):
        Client().post(f"/i/{token}/", dob(day="9"))
    assert Client().post(f"/i/{token}/", dob()).status_code == 410
    manager.post("/admin/intake/appointment/", {
        "action": "unlock_invitations", "_selected_action": [Appointment.objects.get().pk]})
    assert Client().post(f"/i/{token}/", dob()).status_code == 302


def test_the_admin_lists_only_the_managers_clinics(manager):
    luton = Clinic.objects.create(name="Luton Physio", slug="luton")
    Appointment.objects.create(clinic=luton, starts_at=in_days(1), full_name="Someone Else",
                               date_of_birth=datetime.date(1990, 1, 1), external_id="L-1")
    page = manager.get("/admin/intake/appointment/").content.decode()
    assert "L-1" not in page


def test_the_day_page_shows_who_has_not_done_the_form(manager, booking, clinician_client,
                                                       bedford):
    day = in_days(2, hour=9)
    made = [book(booking, external_id=f"BK-{n}", starts_at=(day + datetime.timedelta(hours=n))
                 .isoformat(), patient={**PATIENT, "full_name": f"Patient {n}"}).json()
            for n in range(2)]
    reference = post_submission(Client(), {"invitation": made[0]["invitation_token"],
                                           "answers": URGENT}).json()["reference"]
    date = day.astimezone(zoneinfo.ZoneInfo(bedford.timezone)).date().isoformat()
    page = manager.get("/appointments/", {"clinic": "bedford", "date": date})
    text = page.content.decode()
    assert page.status_code == 200
    assert "2 appointments; 1 booked patient not done the form yet." in text
    assert "Patient 0" in text and reference in text and "Urgent" in text
    assert "Not started" in text
    assert f">{day.astimezone(zoneinfo.ZoneInfo(bedford.timezone)):%H:%M}<" in text
    # A clinician without the appointment permissions is refused.
    assert clinician_client.get("/appointments/").status_code == 403
    assert manager.get("/appointments/", {"date": "yesterday"}).status_code == 400


def test_with_an_sms_provider_the_invitation_is_texted_too(booking, settings):
    gateway = SmsGateway()
    try:
        for name, value in gateway.settings().items():
            setattr(settings, name, value)
        settings.SMS_ENABLED = True
        made = book(booking).json()
        invitations.send_due()
        [text] = gateway.wait_for_messages(1)
        assert text.to == "+447700900123"
        assert f"/i/{made['invitation_token']}/" in text.body
        assert "Ada" not in text.body
        assert len(mail.outbox) == 1  # and emailed
        # The provider down: still sent by email, and not sent again by the next sweep.
        gateway.fail_with(503)
        book(booking, external_id="BK-2", patient={**PATIENT, "email": "bo@example.org"})
        invitations.send_due()
        assert len(mail.outbox) == 2 and len(gateway.messages) == 1
        assert invitations.send_due().invitations == 0
    finally:
        gateway.stop()


@pytest.mark.parametrize(("phone", "number"), [
    ("07700 900123", "+447700900123"), ("+44 7700 900123", "+447700900123"),
    ("0044 7700 900123", "+447700900123"), ("+1 (415) 555-0100", "+14155550100"),
    ("", ""), ("12345", ""),
])
def test_phone_numbers_for_texts(phone, number):
    assert invitations.international_number(phone) == number
