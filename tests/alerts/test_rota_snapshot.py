"""The rota read in one query (``clinic.rota.snapshot_at``) gives the escalation chain the rota's
tables give: the weekly pattern, cover (for the day, for some hours, overnight, over several
days, through the clocks going back), leave (of someone on duty, giving cover, a backup, an
out-of-hours contact), people who are not active, and the contacts' order, moment by moment
through two weeks and the night summer time ends.  Europe/London: 10:00 on the wall in June is
09:00 UTC."""

import datetime

import pytest

from clinic.alerting.rules import notification_plans
from clinic.hours import clinic_with_hours, is_open, local_time
from clinic.models import Clinic, Clinician, DutyContact, DutyShift
from clinic.rota import (
    effective_rota,
    escalation_chain,
    leave_between,
    read_snapshot,
    snapshot_at,
)
from tests.factories import open_weekdays

pytestmark = pytest.mark.django_db

MONDAY, TUESDAY, WEDNESDAY, SATURDAY = 0, 1, 2, 5
JUNE = [datetime.date(2025, 6, day) for day in range(1, 31)]
MOMENT = datetime.timedelta(microseconds=1)


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


def person(name: str, **fields) -> Clinician:
    return Clinician.objects.create(name=name, email=f"{name.lower()}@clinic.test", **fields)


@pytest.fixture
def clinic() -> Clinic:
    """Leeds, open weekdays 09:00 to 17:00, with a bit of everything on its rota in June 2025
    and over the night of 25 to 26 October (summer time ends); and another clinic whose rota
    must not leak into Leeds'."""
    clinic = Clinic.objects.create(name="Leeds", slug="leeds", timezone="Europe/London")
    open_weekdays(clinic)
    day, wednes, late, cover = person("Day"), person("Wednes"), person("Late"), person("Cover")
    first, second, night = person("First"), person("Second"), person("Night")
    gone = person("Gone", is_active=False)
    DutyShift.objects.create(clinic=clinic, clinician=day, weekday=MONDAY)
    DutyShift.objects.create(clinic=clinic, clinician=wednes, weekday=WEDNESDAY,
                             starts=datetime.time(8), ends=datetime.time(20))
    DutyShift.objects.create(clinic=clinic, clinician=late, weekday=TUESDAY,
                             starts=datetime.time(22), ends=datetime.time(23, 59, 59))
    DutyShift.objects.create(clinic=clinic, clinician=gone, weekday=TUESDAY)
    DutyShift.objects.create(clinic=clinic, clinician=day, weekday=SATURDAY,
                             starts=datetime.time(10), ends=datetime.time(12))
    for role, position, who in [(DutyContact.Role.BACKUP, 2, first),
                                (DutyContact.Role.BACKUP, 1, second),
                                (DutyContact.Role.BACKUP, 3, gone),
                                (DutyContact.Role.OUT_OF_HOURS, 0, night),
                                (DutyContact.Role.OUT_OF_HOURS, 1, late)]:
        DutyContact.objects.create(clinic=clinic, clinician=who, role=role, position=position)
    def give(who, first_day, **fields):
        clinic.covers.create(clinician=who, first_day=first_day, **fields)

    give(cover, JUNE[1], instead_of=day)  # Monday 2 June, all day
    give(cover, JUNE[3], instead_of=wednes, last_day=JUNE[17], starts=datetime.time(12),
         ends=datetime.time(13))  # lunchtimes, for a fortnight
    give(cover, JUNE[2], starts=datetime.time(22), ends=datetime.time(6))  # overnight, everyone
    give(night, JUNE[6])  # Saturday 7 June, nobody named
    give(gone, JUNE[10], instead_of=wednes)  # not active
    give(cover, datetime.date(2025, 10, 25), starts=datetime.time(22),
         ends=datetime.time(6))  # the night the clocks go back
    for who, first_day, last_day in [(second, JUNE[3], JUNE[3]), (night, JUNE[2], JUNE[3]),
                                     (cover, JUNE[8], JUNE[9]), (wednes, JUNE[10], JUNE[10]),
                                     (late, JUNE[9], JUNE[11]), (day, JUNE[15], JUNE[20])]:
        who.leave.create(first_day=first_day, last_day=last_day)
    elsewhere = Clinic.objects.create(name="York", slug="york", timezone="Europe/London")
    DutyShift.objects.create(clinic=elsewhere, clinician=person("York"), weekday=MONDAY)
    DutyContact.objects.create(clinic=elsewhere, clinician=first,
                               role=DutyContact.Role.OUT_OF_HOURS)
    return clinic_with_hours(Clinic.objects.filter(pk=clinic.pk))


def chain_from_the_tables(clinic, at) -> tuple[list[list[int]], bool]:
    """The escalation chain as it was worked out before the snapshot: the rota's tables read
    one by one."""
    closed = not is_open(clinic, at)
    first = []
    for duty in effective_rota(clinic, at, at + MOMENT):
        if duty.clinician not in first:
            first.append(duty.clinician)

    def listed(role):
        people = [contact.clinician for contact in DutyContact.objects.filter(
            clinic=clinic, role=role, clinician__is_active=True).select_related("clinician")]
        today = local_time(clinic, at).date()
        away = set(leave_between(today, today, [c.pk for c in people]))
        return [c for c in people if c.pk not in away]

    if closed or not first:
        first += [c for c in listed(DutyContact.Role.OUT_OF_HOURS) if c not in first]
    steps = [step for step in [first, *[[c] for c in listed(DutyContact.Role.BACKUP)]] if step]
    return [[c.pk for c in step] for step in steps], closed


def moments() -> list[datetime.datetime]:
    """Every two hours and a half from 1 to 15 June, each local midnight and the microsecond
    before it, and through the night summer time ends, every half hour."""
    start = utc(2025, 5, 31, 23, 10)
    every = [start + datetime.timedelta(minutes=150) * n for n in range(135)]
    midnights = [utc(2025, 6, day, 23) for day in range(1, 15)]
    every += midnights + [at - MOMENT for at in midnights]
    return every + [utc(2025, 10, 25, 20) + datetime.timedelta(minutes=30) * n
                    for n in range(24)]


def test_the_snapshot_gives_the_chain_the_tables_give(clinic):
    chains = set()
    for at in moments():
        steps, closed = escalation_chain(clinic, at)
        chain = ([[c.pk for c in step] for step in steps], closed)
        assert chain == chain_from_the_tables(clinic, at), at
        chains.add(str(chain))
    assert len(chains) >= 10  # the rota changes a good deal over these moments


def test_the_snapshot_gives_the_stretches_of_duty_the_tables_give(clinic):
    def stretches(duties):
        return [(d.clinician.pk, d.starts_at, d.ends_at, d.cover.pk if d.cover else None)
                for d in duties]

    for at in moments():
        from_tables = effective_rota(clinic, at, at + MOMENT)
        assert stretches(effective_rota(clinic, at, at + MOMENT,
                                        snapshot=snapshot_at(clinic, at))) == stretches(
            from_tables), at
    # A longer period within the days a snapshot holds.
    snapshot = read_snapshot(clinic, JUNE[0], JUNE[9])
    since, until = utc(2025, 6, 2, 3), utc(2025, 6, 8, 12)
    assert stretches(effective_rota(clinic, since, until, snapshot=snapshot)) == stretches(
        effective_rota(clinic, since, until))


def test_a_snapshot_refuses_days_it_does_not_hold(clinic):
    snapshot = snapshot_at(clinic, utc(2025, 6, 2, 9))
    with pytest.raises(ValueError, match="holds 2025-06-01 to 2025-06-04"):
        effective_rota(clinic, utc(2025, 6, 9, 9), utc(2025, 6, 9, 10), snapshot=snapshot)


def test_the_chain_and_its_notification_rules_cost_one_query(clinic,
                                                            django_assert_num_queries):
    second = Clinician.objects.get(name="Second")
    second.notification_rules.create(urgency="urgent", channel="email", delay_minutes=5)
    with django_assert_num_queries(1):
        steps, closed = escalation_chain(clinic, utc(2025, 6, 2, 9))
        plans = {urgency: notification_plans([c for step in steps for c in step], urgency)
                 for urgency in ("urgent", "emergency")}
    assert [[c.name for c in step] for step in steps] == [["Cover"], ["Second"], ["First"]]
    assert not closed
    # As read from the table: the rule for urgent alerts, none for emergencies.
    assert [(s.channel, s.delay) for s in plans["urgent"][second.pk]] == [
        ("email", datetime.timedelta(0))]
    assert plans["emergency"] == notification_plans(
        list(Clinician.objects.filter(pk__in=plans["emergency"])), "emergency")
