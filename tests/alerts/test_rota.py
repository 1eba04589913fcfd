"""Who is alerted, and when: the duty rota follows the clinic's wall clock through the changes to
and from summer time, and out of hours (evenings, weekends, a day nobody is on) the alert goes to
the out-of-hours contacts at once.

Europe/London in 2025: summer time (BST, UTC+1) from 01:00 UTC on Sunday 30 March to 01:00 UTC
on Sunday 26 October.  Every instant below is given in UTC, with its local time beside it.
"""

import datetime

import pytest

from clinic.models import Clinic, Clinician, DutyContact, DutyShift
from clinic.rota import escalation_chain, on_duty
from tests.factories import open_weekdays

pytestmark = pytest.mark.django_db

MONDAY, TUESDAY, SATURDAY, SUNDAY = 0, 1, 5, 6


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


@pytest.fixture
def clinic() -> Clinic:
    """Open Monday to Friday, 09:00 to 17:00 local.  On Monday: Dr Early from 08:00 to 09:00
    and Dr Day for the opening hours; on Saturday (closed) Dr Weekend from 10:00 to 14:00;
    on Sunday night Dr Sunday from 00:00 to 03:00, across the hour the clocks change.  Nobody
    is rostered on Tuesday.  Dr Night is the out-of-hours contact; two backups."""
    clinic = Clinic.objects.create(name="Leeds", slug="leeds", timezone="Europe/London")
    open_weekdays(clinic)

    def clinician(name):
        return Clinician.objects.create(name=name, email=f"{name.lower()}@clinic.test")

    def shift(name, weekday, starts=None, ends=None):
        DutyShift.objects.create(clinic=clinic, clinician=clinician(name), weekday=weekday,
                                 starts=starts, ends=ends)

    shift("Early", MONDAY, datetime.time(8), datetime.time(9))
    shift("Day", MONDAY)  # no times: the clinic's opening hours
    shift("Weekend", SATURDAY, datetime.time(10), datetime.time(14))
    shift("Sunday", SUNDAY, datetime.time(0), datetime.time(3))
    for position, name in enumerate(["Backup", "Second"], start=1):
        DutyContact.objects.create(clinic=clinic, clinician=clinician(name),
                                   role=DutyContact.Role.BACKUP, position=position)
    DutyContact.objects.create(clinic=clinic, clinician=clinician("Night"),
                               role=DutyContact.Role.OUT_OF_HOURS)
    return clinic


def first_step(clinic, at) -> tuple[list[str], bool]:
    """The names alerted at once at ``at``, and whether the clinic counts as closed."""
    steps, closed = escalation_chain(clinic, at)
    return [c.name for c in steps[0]], closed


@pytest.mark.parametrize(("at", "local", "alerted", "closed"), [
    # Winter (GMT, UTC+0): the wall clock is UTC.
    (utc(2025, 3, 24, 8, 30), "Mon 24 Mar 08:30 GMT", ["Early", "Night"], True),
    (utc(2025, 3, 24, 9, 30), "Mon 24 Mar 09:30 GMT", ["Day"], False),
    (utc(2025, 3, 24, 16, 30), "Mon 24 Mar 16:30 GMT", ["Day"], False),
    # Summer (BST, UTC+1): the same shifts, an hour earlier in UTC.  08:30 UTC is 09:30 on the
    # wall, Dr Day's shift; a rota kept in UTC would still say Dr Early.
    (utc(2025, 3, 31, 7, 30), "Mon 31 Mar 08:30 BST", ["Early", "Night"], True),
    (utc(2025, 3, 31, 8, 30), "Mon 31 Mar 09:30 BST", ["Day"], False),
    (utc(2025, 3, 31, 15, 30), "Mon 31 Mar 16:30 BST", ["Day"], False),
    (utc(2025, 3, 31, 16, 30), "Mon 31 Mar 17:30 BST", ["Night"], True),
    # And back: the last Monday of summer time, and the first of winter.
    (utc(2025, 10, 20, 8, 30), "Mon 20 Oct 09:30 BST", ["Day"], False),
    (utc(2025, 10, 20, 16, 30), "Mon 20 Oct 17:30 BST", ["Night"], True),
    (utc(2025, 10, 27, 8, 30), "Mon 27 Oct 08:30 GMT", ["Early", "Night"], True),
    (utc(2025, 10, 27, 16, 30), "Mon 27 Oct 16:30 GMT", ["Day"], False),
])
def test_the_rota_follows_the_wall_clock_through_summer_time(clinic, at, local, alerted, closed):
    assert first_step(clinic, at) == (alerted, closed), local


@pytest.mark.parametrize(("at", "local", "on"), [
    # 30 March: 00:59 GMT is followed by 02:00 BST.  Dr Sunday's 00:00-03:00 shift is two
    # hours long on the wall clock's terms that night, and ends at 03:00 BST.
    (utc(2025, 3, 30, 0, 30), "Sun 30 Mar 00:30 GMT", True),
    (utc(2025, 3, 30, 1, 30), "Sun 30 Mar 02:30 BST", True),
    (utc(2025, 3, 30, 2, 0), "Sun 30 Mar 03:00 BST", False),
    # 26 October: 01:00-02:00 happens twice (BST, then GMT); the shift ends at 03:00 GMT.
    (utc(2025, 10, 26, 0, 30), "Sun 26 Oct 01:30 BST", True),
    (utc(2025, 10, 26, 1, 30), "Sun 26 Oct 01:30 GMT", True),
    (utc(2025, 10, 26, 2, 30), "Sun 26 Oct 02:30 GMT", True),
    (utc(2025, 10, 26, 3, 0), "Sun 26 Oct 03:00 GMT", False),
])
def test_a_shift_across_the_night_the_clocks_change_ends_at_its_wall_clock_time(
        clinic, at, local, on):
    assert ([c.name for c in on_duty(clinic, at)] == ["Sunday"]) is on, local


@pytest.mark.parametrize(("at", "local", "alerted"), [
    (utc(2025, 6, 2, 17, 0), "Mon 2 Jun 18:00 BST, the evening", ["Night"]),
    (utc(2025, 1, 6, 22, 0), "Mon 6 Jan 22:00 GMT, the night", ["Night"]),
    (utc(2025, 6, 7, 14, 0), "Sat 7 Jun 15:00 BST, after the weekend shift", ["Night"]),
    (utc(2025, 6, 8, 11, 0), "Sun 8 Jun 12:00 BST", ["Night"]),
])
def test_out_of_hours_the_out_of_hours_contacts_are_alerted_at_once(clinic, at, local, alerted):
    assert first_step(clinic, at) == (alerted, True), local


def test_a_weekend_shift_in_a_closed_clinic_is_alerted_with_the_out_of_hours_contacts(clinic):
    # Saturday 7 June, 11:00 BST: the clinic is closed, but Dr Weekend is rostered.
    at = utc(2025, 6, 7, 10, 0)
    assert [c.name for c in on_duty(clinic, at)] == ["Weekend"]
    assert first_step(clinic, at) == (["Weekend", "Night"], True)


def test_an_open_clinic_with_nobody_on_duty_alerts_the_out_of_hours_contacts(clinic):
    # Tuesday 3 June, 10:00 BST: open, but nobody is rostered on Tuesdays.
    at = utc(2025, 6, 3, 9, 0)
    assert on_duty(clinic, at) == []
    assert first_step(clinic, at) == (["Night"], False)


def test_the_backups_follow_in_order_after_the_first_step(clinic):
    steps, _ = escalation_chain(clinic, utc(2025, 6, 2, 9, 0))  # Monday 10:00 BST
    assert [[c.name for c in step] for step in steps] == [["Day"], ["Backup"], ["Second"]]


def test_a_clinician_who_is_not_active_is_not_on_duty(clinic):
    Clinician.objects.filter(name="Day").update(is_active=False)
    assert first_step(clinic, utc(2025, 6, 2, 9, 0)) == (["Night"], False)
