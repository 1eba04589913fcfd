"""The rota check: the next 7 days of each clinic checked against the effective rota (hours open
with nobody on duty, clinicians no page can reach, closed with no out-of-hours contact), one
email per clinic with problems to its admins and none when all is well; the admin's rota check
page, its week calendar, and the test page button.

Time is fixed: Monday 2 June 2025, 08:00 BST (07:00 UTC), so the 7 days run to Monday 9 June
08:00.
"""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core import mail

from clinic import models
from clinic.alerting import coverage
from clinic.tasks import check_rota_coverage
from tests.factories import PATIENT, make_case, open_round_the_clock, open_weekdays

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2025, 6, 2, 7, 0, tzinfo=datetime.UTC)
TUESDAY = datetime.date(2025, 6, 3)
PERMANENT = models.DeliveryAttempt.Outcome.PERMANENT_FAILURE


@pytest.fixture
def clinic() -> models.Clinic:
    """The default clinic, open weekdays 09:00 to 17:00, with Dr Day on duty every weekday for
    the opening hours, Dr Night the out-of-hours contact and Dr Backup the backup: all is
    well.  Its rota check address is rota@clinic.test."""
    clinic = models.Clinic.objects.get(is_default=True)
    clinic.coverage_email = "rota@clinic.test"
    clinic.save()
    open_weekdays(clinic)
    day = models.Clinician.objects.create(name="Dr Day", email="day@clinic.test")
    models.DutyShift.objects.bulk_create(
        models.DutyShift(clinic=clinic, clinician=day, weekday=weekday) for weekday in range(5))
    for name, role in (("Dr Night", models.DutyContact.Role.OUT_OF_HOURS),
                       ("Dr Backup", models.DutyContact.Role.BACKUP)):
        contact = models.Clinician.objects.create(
            name=name, email=f"{name[3:].lower()}@clinic.test")
        models.DutyContact.objects.create(clinic=clinic, role=role, clinician=contact)
    return clinic


def person(name) -> models.Clinician:
    return models.Clinician.objects.get(name=name)


def texts(problems) -> list[str]:
    return [problem.text for problem in problems]


def test_nothing_is_sent_when_all_is_well(clinic):
    assert coverage.check_clinic(clinic, now=NOW).problems == []

    assert coverage.email_coverage_problems(now=NOW) == 0
    assert mail.outbox == []


def test_an_open_day_with_nobody_on_duty_is_emailed_to_the_clinics_admins(clinic):
    models.Leave.objects.create(clinician=person("Dr Day"), first_day=TUESDAY, last_day=TUESDAY)
    # Cover for Wednesday afternoon only by someone who is away too: a gap from 13:00.
    stand_in = models.Clinician.objects.create(name="Dr Away", email="away@clinic.test")
    models.DutyCover.objects.create(clinic=clinic, clinician=stand_in, instead_of=person("Dr Day"),
                                    first_day=datetime.date(2025, 6, 4), starts=datetime.time(13),
                                    ends=datetime.time(17))
    models.Leave.objects.create(clinician=stand_in, first_day=datetime.date(2025, 6, 4),
                                last_day=datetime.date(2025, 6, 4))

    report = coverage.check_clinic(clinic, now=NOW)

    assert texts(report.nobody_on_duty) == [
        "Tue 3 Jun 09:00 to 17:00: the clinic is open and nobody is on duty; alerts go to the "
        "out-of-hours contacts, or only the backups.",
        "Wed 4 Jun 13:00 to 17:00: the clinic is open and nobody is on duty; alerts go to the "
        "out-of-hours contacts, or only the backups.",
    ]
    assert report.unreachable == report.no_out_of_hours == []

    assert coverage.email_coverage_problems(now=NOW) == 1
    [email] = mail.outbox
    assert email.to == ["rota@clinic.test"]
    assert email.subject == "Rota check, Bedford: 2 problems in the next 7 days"
    assert "Open with nobody on duty:\n- Tue 3 Jun 09:00 to 17:00" in email.body
    assert f"/admin/clinic/clinic/{clinic.pk}/rota/" in email.body


def test_the_daily_task_called_directly_sends_the_email(clinic):
    # Open round the clock, nobody on duty at all: a gap whenever the test runs.
    open_round_the_clock(clinic)
    models.DutyShift.objects.all().delete()
    make_case("emergency")  # a patient in the system: nothing of them may be in the email

    check_rota_coverage()

    [email] = mail.outbox
    assert email.to == ["rota@clinic.test"]
    assert "the clinic is open and nobody is on duty" in email.body
    for detail in (PATIENT["full_name"], PATIENT["phone"], PATIENT["email"]):
        assert detail not in email.body + email.subject


def test_a_clinician_whose_every_channel_last_failed_for_good_cannot_be_reached(clinic):
    day = person("Dr Day")
    models.ChannelCheck.objects.create(clinician=day, channel="email", outcome=PERMANENT,
                                       error="recipient refused: 550", started_at=NOW)

    [problem] = coverage.check_clinic(clinic, now=NOW).unreachable

    assert problem.text.startswith("Dr Day: the last page failed for good on every channel: "
                                   "email (recipient refused: 550, Mon 2 Jun 08:00)")
    # A later try that worked (a test page after the address was corrected) clears it.
    models.ChannelCheck.objects.create(clinician=day, channel="email", outcome="sent",
                                       started_at=NOW + datetime.timedelta(minutes=5))
    assert coverage.check_clinic(clinic, now=NOW).unreachable == []


def test_a_real_delivery_that_failed_for_good_counts_and_a_working_channel_left_is_enough(
        clinic, settings):
    # Dr Day is on duty now (open round the clock), so the emergency pages them.
    open_round_the_clock(clinic)
    day = person("Dr Day")
    case = make_case("emergency")
    notification = case.alert.notifications.get(clinician=day)
    models.DeliveryAttempt.objects.create(notification=notification, channel="email",
                                          outcome=PERMANENT, error="recipient refused: 550")

    assert [p.text.split(":")[0] for p in coverage.check_clinic(clinic).unreachable] == [
        "Dr Day"]

    # With a webhook never tried, they can still be reached.
    settings.WEBHOOK_REQUIRE_HTTPS = False
    models.Clinician.objects.filter(pk=day.pk).update(webhook_url="http://127.0.0.1:9/day")
    assert coverage.check_clinic(clinic).unreachable == []


def test_no_out_of_hours_contact_and_contacts_all_on_leave(clinic):
    models.Leave.objects.create(clinician=person("Dr Night"), first_day=datetime.date(2025, 6, 6),
                                last_day=datetime.date(2025, 6, 7))

    assert texts(coverage.check_clinic(clinic, now=NOW).no_out_of_hours) == [
        "Fri 6 Jun 00:00 to 09:00: the clinic is closed and every out-of-hours contact is on "
        "leave.",
        "Fri 6 Jun 17:00 to Sun 8 Jun 00:00: the clinic is closed and every out-of-hours "
        "contact is on leave.",
    ]

    models.DutyContact.objects.filter(role=models.DutyContact.Role.OUT_OF_HOURS).delete()

    assert texts(coverage.check_clinic(clinic, now=NOW).no_out_of_hours) == [
        "The clinic has no out-of-hours contact: when it is closed, alerts go only to whoever "
        "is on duty and the backups."]


def test_without_a_rota_check_address_the_staff_who_may_change_the_rota_are_emailed(
        clinic, staff_admin, admin_user, django_user_model):
    clinic.coverage_email = ""
    clinic.save()
    models.DutyContact.objects.filter(role=models.DutyContact.Role.OUT_OF_HOURS).delete()
    # Staff who may not change the rota, and a non-staff user who may: neither is emailed.
    django_user_model.objects.create_user(username="viewer", email="viewer@example.org",
                                          is_staff=True)
    clinician_with_permission = django_user_model.objects.create_user(
        username="notstaff", email="notstaff@example.org")
    clinician_with_permission.user_permissions.add(
        Permission.objects.get(codename="change_dutyshift"))

    assert coverage.recipients(clinic) == sorted([staff_admin.email, admin_user.email])
    coverage.email_coverage_problems(now=NOW)
    [email] = mail.outbox
    assert sorted(email.to) == sorted([staff_admin.email, admin_user.email])


def test_one_email_per_clinic_with_problems(clinic):
    leeds = models.Clinic.objects.create(name="Leeds", slug="leeds",
                                         coverage_email="leeds@clinic.test")
    models.OpeningHours.objects.create(clinic=leeds, weekday=1, opens=datetime.time(9),
                                       closes=datetime.time(12))
    fine = models.Clinic.objects.create(name="York", slug="york", coverage_email="york@clinic.test")
    models.OpeningHours.objects.create(clinic=fine, weekday=1, opens=datetime.time(9),
                                       closes=datetime.time(12))
    models.DutyShift.objects.create(clinic=fine, clinician=person("Dr Day"), weekday=1)
    models.DutyContact.objects.create(clinic=fine, clinician=person("Dr Night"),
                                      role=models.DutyContact.Role.OUT_OF_HOURS)
    models.Leave.objects.create(clinician=person("Dr Day"), first_day=datetime.date(2025, 6, 5),
                                last_day=datetime.date(2025, 6, 5))

    assert coverage.email_coverage_problems(now=NOW) == 2

    assert sorted(email.to[0] for email in mail.outbox) == ["leeds@clinic.test",
                                                            "rota@clinic.test"]
    leeds_email = next(e for e in mail.outbox if e.to == ["leeds@clinic.test"])
    assert "Leeds: 2 problems" in leeds_email.subject  # nobody on Tuesday; no contact at night


# --- The admin ------------------------------------------------------------------------------


def test_the_admins_rota_check_page_lists_each_clinics_problems(clinic, staff_admin_client):
    models.Leave.objects.create(clinician=person("Dr Day"), first_day=datetime.date(2025, 1, 1),
                                last_day=datetime.date(2099, 1, 1))

    page = staff_admin_client.get("/admin/clinic/clinic/coverage/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "Bedford: 1 problem<" not in text and "Bedford: all is well" not in text
    assert "the clinic is open and nobody is on duty" in text
    assert mail.outbox == []  # the page sends nothing
    assert 'href="/admin/clinic/clinic/coverage/"' in staff_admin_client.get(
        "/admin/clinic/clinic/").content.decode()


def test_the_rota_calendar_shows_who_is_on_duty_each_hour_with_cover_and_leave_marked(
        clinic, staff_admin_client):
    models.DutyCover.objects.create(clinic=clinic, clinician=person("Dr Backup"),
                                    instead_of=person("Dr Day"), first_day=TUESDAY,
                                    starts=datetime.time(12), ends=datetime.time(14),
                                    note="dentist")
    models.Leave.objects.create(clinician=person("Dr Day"), first_day=datetime.date(2025, 6, 4),
                                last_day=datetime.date(2025, 6, 4))

    page = staff_admin_client.get(f"/admin/clinic/clinic/{clinic.pk}/rota/?week=2025-06-04")

    assert page.status_code == 200
    week = page.context["week"]
    assert week.monday == datetime.date(2025, 6, 2)
    tuesday, wednesday = week.days[1], week.days[2]
    assert [d.clinician.name for d in tuesday.hours[10].duties] == ["Dr Day"]
    assert [(d.clinician.name, d.is_cover) for d in tuesday.hours[12].duties] == [
        ("Dr Backup", True)]
    assert [c.name for c in wednesday.away] == ["Dr Day"]
    assert wednesday.hours[10].nobody_while_open
    assert not wednesday.hours[20].is_open
    text = page.content.decode()
    assert "Dr Backup <span class=\"rota-cover-mark\">Cover</span>" in text
    assert "Away: Dr Day" in text
    assert "Nobody on duty" in text
    assert "Dr Backup instead of Dr Day, Tue 3 Jun, 12:00 to 14:00 (dentist)" in text


def test_the_rota_calendar_needs_the_admin(clinic, clinician_client):
    response = clinician_client.get(f"/admin/clinic/clinic/{clinic.pk}/rota/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_test_page_button_sends_on_each_channel_and_records_it_as_a_test(
        clinic, staff_admin, staff_admin_client, settings):
    settings.WEBHOOK_REQUIRE_HTTPS = False
    day = person("Dr Day")
    models.Clinician.objects.filter(pk=day.pk).update(
        webhook_url="http://127.0.0.1:9/nobody-listens")
    page = staff_admin_client.get(f"/admin/clinic/clinician/{day.pk}/change/").content.decode()
    assert "Send test page" in page

    response = staff_admin_client.post(f"/admin/clinic/clinician/{day.pk}/test-page/",
                                       follow=True)

    assert response.status_code == 200
    [email] = mail.outbox
    assert email.to == ["day@clinic.test"]
    assert email.subject.startswith("[TEST] Test page: not an alert")
    assert "this is not an alert" in email.body
    checks = {c.channel: c for c in models.ChannelCheck.objects.filter(clinician=day)}
    assert checks["email"].outcome == models.DeliveryAttempt.Outcome.SENT
    assert checks["email"].sent_by == staff_admin
    assert checks["webhook"].outcome == models.DeliveryAttempt.Outcome.TEMPORARY_FAILURE
    assert "webhook unreachable" in checks["webhook"].error
    # Never an alert: no alert, notification or delivery attempt for it.
    assert not models.DeliveryAttempt.objects.exists()
    [event] = models.AuditEvent.objects.filter(action=models.AuditEvent.Action.TEST_PAGE)
    assert event.actor == staff_admin
    assert event.detail == (
        f"test page to clinician {day.pk}: email sent, webhook failed, will retry")
    text = response.content.decode()
    assert "Test page sent to Dr Day by email." in text
    assert "Test page to Dr Day by webhook failed" in text
    assert "Recent test pages" in text


def test_the_test_page_button_only_answers_a_post_from_an_admin(clinic, staff_admin_client,
                                                                 clinician_client):
    day = person("Dr Day")
    assert staff_admin_client.get(f"/admin/clinic/clinician/{day.pk}/test-page/"
                                  ).status_code == 405
    assert clinician_client.post(f"/admin/clinic/clinician/{day.pk}/test-page/"
                                 ).status_code == 302  # to the admin's login
    assert mail.outbox == []


def clinic_form(page_context) -> dict:
    """The clinic's change form as the page filled it in (every inline's management form
    included), ready to post back with changes."""
    data = {}
    for form in [page_context["adminform"].form,
                 *(inline.formset for inline in page_context["inline_admin_formsets"])]:
        forms = [form] if not hasattr(form, "management_form") else [
            form.management_form, *form.forms]
        for each in forms:
            for name in each.fields:
                value = each[name].value()
                if value is None or value is False:
                    continue
                key = each.add_prefix(name)
                if isinstance(value, list | tuple):
                    data[key] = [str(v) for v in value]
                elif hasattr(value, "strftime") and hasattr(value, "hour"):
                    data[key] = value.strftime("%H:%M")
                else:
                    data[key] = str(value)
    return data


def test_an_admin_adds_a_cover_on_the_clinics_page_and_a_half_given_time_is_refused(
        clinic, staff_admin_client):
    url = f"/admin/clinic/clinic/{clinic.pk}/change/"
    page = staff_admin_client.get(url)
    assert "A swap is two covers" in page.content.decode()
    data = clinic_form(page.context)
    data.update({"covers-TOTAL_FORMS": "1", "covers-0-first_day": "2025-06-03",
                 "covers-0-clinician": str(person("Dr Backup").pk),
                 "covers-0-instead_of": str(person("Dr Day").pk),
                 "covers-0-starts": "12:00"})

    refused = staff_admin_client.post(url, data)

    assert refused.status_code == 200
    assert "Give both times (from and until) or neither." in refused.content.decode()
    data["covers-0-ends"] = "14:00"
    assert staff_admin_client.post(url, data).status_code == 302
    [cover] = models.DutyCover.objects.all()
    assert (cover.clinician.name, cover.instead_of.name, cover.starts, cover.ends) == (
        "Dr Backup", "Dr Day", datetime.time(12), datetime.time(14))
    assert models.AuditEvent.objects.filter(action=models.AuditEvent.Action.ADMIN_CHANGE,
                                            detail__contains="cover or swap").exists()


def test_an_admin_adds_leave_on_the_clinicians_page(clinic, staff_admin_client):
    day = person("Dr Day")
    url = f"/admin/clinic/clinician/{day.pk}/change/"
    page = staff_admin_client.get(url)
    assert "Leave: days away" in page.content.decode()
    data = clinic_form(page.context)
    data.update({"leave-TOTAL_FORMS": "1", "leave-0-first_day": "2025-06-10",
                 "leave-0-last_day": "2025-06-09"})

    refused = staff_admin_client.post(url, data)

    assert "The last day cannot be before the first day." in refused.content.decode()
    data["leave-0-last_day"] = "2025-06-12"
    assert staff_admin_client.post(url, data).status_code == 302
    assert list(models.Leave.objects.values_list("first_day", "last_day")) == [
        (datetime.date(2025, 6, 10), datetime.date(2025, 6, 12))]
