"""The effective rota: the weekly pattern with cover, swaps and leave on given dates, worked out
in the clinic's own time zone, through the night and the changes to and from summer time.

Europe/London in 2025: summer time (BST, UTC+1) from 01:00 UTC on Sunday 30 March to 01:00 UTC
on Sunday 26 October.  June is summer time, so 10:00 on the wall is 09:00 UTC.  Every instant is
given in UTC, with its local time beside it.
"""

import datetime

import pytest

from clinic.models import Clinic, Clinician, DutyContact, DutyCover, DutyShift, Leave
from clinic.rota import effective_rota, escalation_chain, on_duty
from tests.factories import open_weekdays

pytestmark = pytest.mark.django_db

MONDAY, TUESDAY, WEDNESDAY = 0, 1, 2
MON_2_JUNE, TUE_3_JUNE, WED_4_JUNE = (datetime.date(2025, 6, d) for d in (2, 3, 4))
FRI_6_JUNE, MON_9_JUNE = datetime.date(2025, 6, 6), datetime.date(2025, 6, 9)


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


def names(clinicians) -> list[str]:
    return [c.name for c in clinicians]


def first_step(clinic, at) -> list[str]:
    steps, _ = escalation_chain(clinic, at)
    return names(steps[0]) if steps else []


@pytest.fixture
def clinic() -> Clinic:
    """Open Monday to Friday, 09:00 to 17:00 local.  Dr Day is on duty on Mondays and Dr Wednes
    on Wednesdays for the opening hours; nobody on Tuesdays.  Dr Backup is the backup and Dr
    Night the out-of-hours contact; Dr Cover is on no rota of their own."""
    clinic = Clinic.objects.create(name="Leeds", slug="leeds", timezone="Europe/London")
    open_weekdays(clinic)
    for name in ("Day", "Wednes", "Cover", "Backup", "Night"):
        Clinician.objects.create(name=name, email=f"{name.lower()}@clinic.test")
    DutyShift.objects.create(clinic=clinic, clinician=person("Day"), weekday=MONDAY)
    DutyShift.objects.create(clinic=clinic, clinician=person("Wednes"), weekday=WEDNESDAY)
    DutyContact.objects.create(clinic=clinic, clinician=person("Backup"),
                               role=DutyContact.Role.BACKUP, position=1)
    DutyContact.objects.create(clinic=clinic, clinician=person("Night"),
                               role=DutyContact.Role.OUT_OF_HOURS)
    return clinic


def person(name: str) -> Clinician:
    return Clinician.objects.get(name=name)


def cover(clinic, name, first_day, *, instead_of=None, last_day=None, starts=None, ends=None):
    return DutyCover.objects.create(
        clinic=clinic, clinician=person(name), first_day=first_day, last_day=last_day,
        instead_of=person(instead_of) if instead_of else None, starts=starts, ends=ends)


# --- Cover ----------------------------------------------------------------------------------


def test_cover_for_a_day_takes_over_the_shift_of_the_clinician_it_stands_in_for(clinic):
    cover(clinic, "Cover", MON_2_JUNE, instead_of="Day")

    assert names(on_duty(clinic, utc(2025, 6, 2, 9, 0))) == ["Cover"]  # Mon 2 Jun 10:00
    assert first_step(clinic, utc(2025, 6, 2, 9, 0)) == ["Cover"]
    # Only for that date: the Monday after, the weekly rota again.
    assert names(on_duty(clinic, utc(2025, 6, 9, 9, 0))) == ["Day"]
    # Cover without times follows Dr Day's shift: the opening hours, so not at 17:30.
    assert on_duty(clinic, utc(2025, 6, 2, 16, 30)) == []


def test_cover_for_some_hours_stands_in_for_those_hours_only(clinic):
    cover(clinic, "Cover", MON_2_JUNE, instead_of="Day", starts=datetime.time(12),
          ends=datetime.time(14))

    assert names(on_duty(clinic, utc(2025, 6, 2, 10, 59))) == ["Day"]  # 11:59
    assert names(on_duty(clinic, utc(2025, 6, 2, 11, 0))) == ["Cover"]  # 12:00
    assert names(on_duty(clinic, utc(2025, 6, 2, 12, 59))) == ["Cover"]  # 13:59
    assert names(on_duty(clinic, utc(2025, 6, 2, 13, 0))) == ["Day"]  # 14:00
    duties = effective_rota(clinic, utc(2025, 6, 2, 0), utc(2025, 6, 3, 0))
    assert [(d.clinician.name, d.starts_at.hour, d.ends_at.hour, d.is_cover) for d in duties] == [
        ("Day", 8, 11, False), ("Cover", 11, 13, True), ("Day", 13, 16, False)]


def test_cover_naming_nobody_stands_in_for_everyone_on_the_weekly_rota(clinic):
    DutyShift.objects.create(clinic=clinic, clinician=person("Backup"), weekday=MONDAY,
                             starts=datetime.time(8), ends=datetime.time(12))
    assert names(on_duty(clinic, utc(2025, 6, 2, 9, 0))) == ["Backup", "Day"]

    cover(clinic, "Cover", MON_2_JUNE)  # no times: the opening hours, instead of everyone

    assert names(on_duty(clinic, utc(2025, 6, 2, 9, 0))) == ["Cover"]
    # Dr Backup's hour before opening is outside the cover: they are still on then.
    assert names(on_duty(clinic, utc(2025, 6, 2, 7, 30))) == ["Backup"]


def test_cover_on_a_day_nobody_is_rostered_puts_someone_on_duty(clinic):
    assert on_duty(clinic, utc(2025, 6, 3, 9, 0)) == []
    assert first_step(clinic, utc(2025, 6, 3, 9, 0)) == ["Night"]

    cover(clinic, "Cover", TUE_3_JUNE)

    assert first_step(clinic, utc(2025, 6, 3, 9, 0)) == ["Cover"]


def test_cover_over_several_days_applies_on_each(clinic):
    cover(clinic, "Cover", MON_2_JUNE, last_day=WED_4_JUNE, starts=datetime.time(9),
          ends=datetime.time(17))

    for day in (2, 3, 4):
        assert names(on_duty(clinic, utc(2025, 6, day, 9, 0))) == ["Cover"], day
    assert names(on_duty(clinic, utc(2025, 6, 9, 9, 0))) == ["Day"]


def test_a_swap_is_two_covers_one_each_way(clinic):
    # Dr Day and Dr Wednes swap: Wednes does Day's Monday, Day does Wednes's Wednesday.
    cover(clinic, "Wednes", MON_2_JUNE, instead_of="Day")
    cover(clinic, "Day", WED_4_JUNE, instead_of="Wednes")

    assert names(on_duty(clinic, utc(2025, 6, 2, 9, 0))) == ["Wednes"]
    assert names(on_duty(clinic, utc(2025, 6, 4, 9, 0))) == ["Day"]
    # The week after, each has their own day back.
    assert names(on_duty(clinic, utc(2025, 6, 9, 9, 0))) == ["Day"]
    assert names(on_duty(clinic, utc(2025, 6, 11, 9, 0))) == ["Wednes"]


def test_a_cover_by_a_clinician_who_is_not_active_leaves_a_gap_for_the_out_of_hours_contact(
        clinic):
    cover(clinic, "Cover", MON_2_JUNE, instead_of="Day")
    Clinician.objects.filter(name="Cover").update(is_active=False)

    assert on_duty(clinic, utc(2025, 6, 2, 9, 0)) == []
    assert first_step(clinic, utc(2025, 6, 2, 9, 0)) == ["Night"]


# --- Leave ----------------------------------------------------------------------------------


def test_a_clinician_on_leave_is_not_on_duty_and_the_out_of_hours_contact_is_paged(clinic):
    Leave.objects.create(clinician=person("Day"), first_day=MON_2_JUNE, last_day=FRI_6_JUNE)

    assert on_duty(clinic, utc(2025, 6, 2, 9, 0)) == []
    steps, closed = escalation_chain(clinic, utc(2025, 6, 2, 9, 0))
    assert ([names(step) for step in steps], closed) == ([["Night"], ["Backup"]], False)
    assert names(on_duty(clinic, utc(2025, 6, 9, 9, 0))) == ["Day"]  # back the Monday after


def test_a_backup_on_leave_is_left_out_of_the_escalation(clinic):
    Leave.objects.create(clinician=person("Backup"), first_day=MON_2_JUNE, last_day=MON_2_JUNE)

    steps, _ = escalation_chain(clinic, utc(2025, 6, 2, 9, 0))
    assert [names(step) for step in steps] == [["Day"]]
    steps, _ = escalation_chain(clinic, utc(2025, 6, 9, 9, 0))
    assert [names(step) for step in steps] == [["Day"], ["Backup"]]


def test_an_out_of_hours_contact_on_leave_is_not_paged_at_night(clinic):
    Leave.objects.create(clinician=person("Night"), first_day=TUE_3_JUNE, last_day=TUE_3_JUNE)

    # Tue 3 Jun 22:00 BST: closed; Dr Night is away, so only the backup is left.
    steps, closed = escalation_chain(clinic, utc(2025, 6, 3, 21, 0))
    assert ([names(step) for step in steps], closed) == ([["Backup"]], True)
    # Leave ends at midnight local time: 00:30 BST on Wednesday is 23:30 UTC on Tuesday.
    assert first_step(clinic, utc(2025, 6, 3, 23, 30)) == ["Night"]


def test_leave_takes_a_clinician_off_the_cover_they_were_to_give(clinic):
    cover(clinic, "Cover", MON_2_JUNE, instead_of="Day")
    Leave.objects.create(clinician=person("Cover"), first_day=MON_2_JUNE, last_day=MON_2_JUNE)

    assert on_duty(clinic, utc(2025, 6, 2, 9, 0)) == []


# --- Overnight, time zones and summer time --------------------------------------------------


def test_an_overnight_cover_runs_until_the_next_morning(clinic):
    # Fri 6 June 20:00 to Sat 7 June 08:00 BST.
    cover(clinic, "Cover", FRI_6_JUNE, starts=datetime.time(20), ends=datetime.time(8))

    assert on_duty(clinic, utc(2025, 6, 6, 18, 59)) == []  # 19:59
    assert names(on_duty(clinic, utc(2025, 6, 6, 19, 0))) == ["Cover"]  # 20:00
    assert names(on_duty(clinic, utc(2025, 6, 6, 23, 0))) == ["Cover"]  # Sat 00:00
    assert names(on_duty(clinic, utc(2025, 6, 7, 6, 59))) == ["Cover"]  # Sat 07:59
    assert on_duty(clinic, utc(2025, 6, 7, 7, 0)) == []  # Sat 08:00
    # Closed then: the out-of-hours contact is paged with them.
    assert first_step(clinic, utc(2025, 6, 7, 1, 0)) == ["Cover", "Night"]
    [duty] = effective_rota(clinic, utc(2025, 6, 6, 0), utc(2025, 6, 8, 0))
    assert (duty.starts_at, duty.ends_at) == (utc(2025, 6, 6, 19), utc(2025, 6, 7, 7))


@pytest.mark.parametrize(("night", "hours", "ends_utc"), [
    # Sat 29 Mar 22:00 GMT to Sun 30 Mar 06:00 BST: the clocks go forward, 7 hours.
    (datetime.date(2025, 3, 29), 7, utc(2025, 3, 30, 5)),
    # Sat 25 Oct 22:00 BST to Sun 26 Oct 06:00 GMT: the clocks go back, 9 hours.
    (datetime.date(2025, 10, 25), 9, utc(2025, 10, 26, 6)),
])
def test_an_overnight_cover_across_the_clocks_changing_ends_at_its_wall_clock_time(
        clinic, night, hours, ends_utc):
    cover(clinic, "Cover", night, starts=datetime.time(22), ends=datetime.time(6))

    [duty] = effective_rota(clinic, utc(night.year, night.month, night.day),
                            utc(night.year, night.month, night.day) + datetime.timedelta(days=2))

    assert duty.ends_at == ends_utc
    assert duty.ends_at - duty.starts_at == datetime.timedelta(hours=hours)
    assert names(on_duty(clinic, ends_utc - datetime.timedelta(minutes=1))) == ["Cover"]
    assert on_duty(clinic, ends_utc) == []


def test_cover_and_leave_follow_the_clinics_own_time_zone():
    # Sydney is UTC+10 in June: 09:00 on Tuesday 3 June there is 23:00 UTC on Monday 2 June.
    sydney = Clinic.objects.create(name="Sydney", slug="sydney", timezone="Australia/Sydney")
    locum = Clinician.objects.create(name="Locum", email="locum@clinic.test")
    regular = Clinician.objects.create(name="Regular", email="regular@clinic.test")
    DutyShift.objects.create(clinic=sydney, clinician=regular, weekday=TUESDAY,
                             starts=datetime.time(9), ends=datetime.time(17))
    DutyCover.objects.create(clinic=sydney, clinician=locum, instead_of=regular,
                             first_day=TUE_3_JUNE)

    assert names(on_duty(sydney, utc(2025, 6, 2, 23, 0))) == ["Locum"]  # Tue 09:00 AEST
    assert names(on_duty(sydney, utc(2025, 6, 9, 23, 0))) == ["Regular"]  # the Tuesday after

    # Leave on Tuesday 10 June is that day in Sydney, which starts at 14:00 UTC on the 9th.
    Leave.objects.create(clinician=regular, first_day=datetime.date(2025, 6, 10),
                         last_day=datetime.date(2025, 6, 10))
    assert on_duty(sydney, utc(2025, 6, 9, 23, 0)) == []


def test_the_effective_rota_of_a_week_costs_four_queries(clinic, django_assert_num_queries):
    cover(clinic, "Cover", MON_2_JUNE, instead_of="Day")
    Leave.objects.create(clinician=person("Wednes"), first_day=WED_4_JUNE, last_day=WED_4_JUNE)

    with django_assert_num_queries(4):
        duties = effective_rota(clinic, utc(2025, 6, 1, 23), utc(2025, 6, 15, 23))

    assert [(d.clinician.name, d.starts_at.date().isoformat(), d.is_cover) for d in duties] == [
        ("Cover", "2025-06-02", True), ("Day", "2025-06-09", False),
        ("Wednes", "2025-06-11", False)]
