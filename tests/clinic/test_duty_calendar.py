"""A clinician's duty calendar: their effective shifts as an iCalendar feed (RFC 5545) at a
private address they make on their own page, that parses, carries their shifts and nothing
else, and stops working when they turn it off or make a new one."""

import datetime
import re
import urllib.parse

import icalendar
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from clinic.calendar_feed import duty_calendar
from clinic.models import (
    AuditEvent,
    Clinic,
    Clinician,
    DutyCalendarLink,
    DutyCover,
    DutyShift,
    Leave,
)
from core.roles import CLINICIANS_GROUP
from tests.factories import PATIENT, make_case, open_weekdays

pytestmark = pytest.mark.django_db

# Monday 2 June 2025, 08:00 BST.
NOW = datetime.datetime(2025, 6, 2, 7, 0, tzinfo=datetime.UTC)


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


@pytest.fixture
def rota(clinician):
    """The default clinic, open weekdays 09:00 to 17:00: Casey (the ``clinician``) on duty on
    Mondays; Dr Other on Tuesdays, with Casey covering their Tuesday 3 June 12:00 to 14:00;
    Casey away on Monday 9 June."""
    clinic = Clinic.objects.get(is_default=True)
    open_weekdays(clinic)
    casey = clinician.clinician
    other = Clinician.objects.create(name="Dr Other", email="other@clinic.test")
    DutyShift.objects.create(clinic=clinic, clinician=casey, weekday=0)
    DutyShift.objects.create(clinic=clinic, clinician=other, weekday=1)
    DutyCover.objects.create(clinic=clinic, clinician=casey, instead_of=other,
                             first_day=datetime.date(2025, 6, 3), starts=datetime.time(12),
                             ends=datetime.time(14), note="swap")
    Leave.objects.create(clinician=casey, first_day=datetime.date(2025, 6, 9),
                         last_day=datetime.date(2025, 6, 9))
    return clinic


def feed_address(client) -> str:
    """Makes a calendar address on the clinician's page and reads it from the page, once."""
    response = client.post("/rota/calendar/", {"action": "make"})
    assert response.status_code == 302
    page = client.get("/rota/calendar/").content.decode()
    match = re.search(r'value="(https?://[^"]+/rota/calendar/[^"]+\.ics)"', page)
    assert match, page
    return match.group(1)


def path_of(address: str) -> str:
    return urllib.parse.urlsplit(address).path


def test_the_feed_parses_and_carries_the_clinicians_effective_shifts_only(rota, clinician):
    make_case("emergency")  # an alert for someone: none of it may reach the calendar

    calendar = icalendar.Calendar.from_ical(duty_calendar(clinician.clinician, now=NOW))

    assert calendar["VERSION"] == "2.0"
    assert [component.name for component in calendar.subcomponents] == ["VEVENT"] * len(
        calendar.walk("VEVENT"))
    events = [(str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND"))
              for e in calendar.walk("VEVENT")]
    # Mondays 09:00-17:00 BST (08:00-16:00 UTC) from last week to eight weeks ahead, but not
    # Monday 9 June (leave); and the two hours of cover on Tuesday 3 June; nothing of Dr
    # Other's.
    assert events[:4] == [
        (f"On duty: {rota.name}", utc(2025, 5, 26, 8), utc(2025, 5, 26, 16)),
        (f"On duty: {rota.name}", utc(2025, 6, 2, 8), utc(2025, 6, 2, 16)),
        (f"On duty: {rota.name} (cover)", utc(2025, 6, 3, 11), utc(2025, 6, 3, 13)),
        (f"On duty: {rota.name}", utc(2025, 6, 16, 8), utc(2025, 6, 16, 16)),
    ]
    starts = [start for _, start, _ in events]
    assert utc(2025, 6, 9, 8) not in starts
    # 26 May to 21 July: nine Mondays, one on leave; and the cover.
    assert len(events) == 8 + 1
    assert starts[-1] == utc(2025, 7, 21, 8)
    assert all(summary.startswith("On duty: ") for summary, _, _ in events)
    cover = next(e for e in calendar.walk("VEVENT") if "(cover)" in str(e["SUMMARY"]))
    assert "instead of Dr Other (swap)" in str(cover["DESCRIPTION"])
    # Each event has its own stable UID.
    uids = [str(e["UID"]) for e in calendar.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    assert uids == [str(e["UID"]) for e in icalendar.Calendar.from_ical(
        duty_calendar(clinician.clinician, now=NOW)).walk("VEVENT")]


def test_the_feed_names_no_patient(rota, clinician, client):
    client.force_login(clinician)
    case = make_case("emergency")
    address = feed_address(client)

    body = client.get(path_of(address)).content.decode()

    assert "BEGIN:VEVENT" in body
    for detail in (PATIENT["full_name"], PATIENT["phone"], PATIENT["email"],
                   PATIENT["date_of_birth"], case.reference, "Intake"):
        assert detail not in body


def test_the_clinician_makes_the_address_on_their_page_and_a_calendar_app_reads_it(
        rota, clinician, client):
    client.force_login(clinician)
    page = client.get("/queue/").content.decode()
    assert 'href="/rota/calendar/"' in page

    address = feed_address(client)
    client.logout()  # a calendar app has no session
    response = client.get(path_of(address))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    link = DutyCalendarLink.objects.get(clinician=clinician.clinician)
    assert link.last_used_at is not None
    # Only the token's hash is kept, and the address is shown once.
    token = address.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in link.token_hash
    client.force_login(clinician)
    assert token not in client.get("/rota/calendar/").content.decode()
    assert AuditEvent.objects.filter(actor=clinician,
                                     action=AuditEvent.Action.CALENDAR_LINK).count() == 1


def test_turning_the_address_off_or_making_a_new_one_stops_the_old_one(rota, clinician, client):
    client.force_login(clinician)
    first = feed_address(client)
    second = feed_address(client)

    assert client.get(path_of(first)).status_code == 404
    assert client.get(path_of(second)).status_code == 200

    client.post("/rota/calendar/", {"action": "revoke"})

    assert client.get(path_of(second)).status_code == 404
    assert not DutyCalendarLink.objects.exists()


def test_a_guessed_address_and_an_inactive_clinicians_address_are_not_found(
        rota, clinician, client):
    client.force_login(clinician)
    address = feed_address(client)
    assert client.get("/rota/calendar/not-a-token.ics").status_code == 404

    Clinician.objects.filter(pk=clinician.clinician.pk).update(is_active=False)

    assert client.get(path_of(address)).status_code == 404


def test_the_calendar_page_needs_a_signed_in_clinician(client, django_user_model):
    assert client.get("/rota/calendar/").status_code == 302  # to the login page
    someone = django_user_model.objects.create_user(username="someone", password="pw-123456")
    client.force_login(someone)
    assert client.get("/rota/calendar/").status_code == 403


def test_a_clinician_without_a_record_on_the_rota_is_told_so(client, django_user_model):
    user = django_user_model.objects.create_user(username="new", password="pw-123456")
    user.groups.add(Group.objects.get(name=CLINICIANS_GROUP))
    client.force_login(user)

    page = client.get("/rota/calendar/").content.decode()

    assert "not linked to a clinician on the rota" in page
    assert client.post("/rota/calendar/", {"action": "make"}).status_code == 404


def test_the_page_lists_the_next_two_weeks_of_shifts(rota, clinician, client):
    client.force_login(clinician)
    today = timezone.localdate()
    DutyCover.objects.create(clinic=rota, clinician=clinician.clinician, first_day=today,
                             starts=datetime.time(20), ends=datetime.time(8))

    page = client.get("/rota/calendar/").content.decode()

    assert "on duty at" in page
    assert "(cover)" in page
