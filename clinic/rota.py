"""Who to alert: the effective rota (the weekly pattern with its cover, swaps and leave), the
backup chain and the out-of-hours contacts.

The effective rota
------------------
``effective_rota(clinic, since, until)`` is every stretch of duty in a period, worked out in
three layers, each overriding the one before:

1. **The weekly pattern** (``DutyShift``): a shift on a weekday, with times, or with none to
   follow the clinic's opening hours that day (the whole day when the clinic is closed).
2. **Cover** (``DutyCover``): on given dates, someone is on duty instead of a named clinician
   (or instead of everyone the weekly pattern has on duty then).  With times it runs from
   ``starts`` to ``ends`` each day, overnight when ``ends`` is at or before ``starts``;
   without, it takes over the named clinician's shifts that day, or the opening hours.  A swap
   is two covers, one each way.
3. **Leave** (``Leave``): a clinician away for whole days is taken off every stretch of duty,
   cover included, and out of the backup and out-of-hours contacts.

A clinician who is not active is never on the rota.  Nothing is filled in for a gap the
overrides leave: ``escalation_chain`` falls back to the out-of-hours contacts, and the daily
rota check (``clinic.alerting.coverage``) tells the clinic's admins.

All times are the clinic's local time (``clinic.hours.local_time``), so the rota follows the
change to and from summer time: a shift from 09:00 to 17:00 is 09:00 to 17:00 on the clock on
the wall, whatever the offset from UTC that day.  Each stretch is turned into instants (UTC)
once, and everything after compares instants, so the hour the clocks go back is counted once
and a shift across it ends at its wall-clock time.
"""

import datetime
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import JSONObject

from clinic.hours import is_open, local_time
from clinic.models import (
    Clinic,
    Clinician,
    DutyContact,
    DutyCover,
    DutyShift,
    Leave,
    NotificationRule,
)
from core.db import CompiledRead, JSONList

DAY = datetime.timedelta(days=1)
# A shift or opening that ends at 23:59:59 or later ends at midnight: no sliver of a gap.
END_OF_DAY = datetime.time(23, 59, 59)


@dataclass(frozen=True)
class Duty:
    """One stretch of duty: ``clinician`` on duty from ``starts_at`` to ``ends_at`` (aware, in
    UTC), from the weekly pattern (``cover`` None) or standing in under a ``cover``."""

    clinician: Clinician
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    cover: DutyCover | None = None

    @property
    def is_cover(self) -> bool:
        return self.cover is not None

    def overlaps(self, since: datetime.datetime, until: datetime.datetime) -> bool:
        return self.starts_at < until and self.ends_at > since


# --- Wall-clock times to instants ----------------------------------------------------------


def instant(day: datetime.date, at: datetime.time | None, tz: zoneinfo.ZoneInfo
            ) -> datetime.datetime:
    """``at`` o'clock on ``day`` in ``tz``, as an instant in UTC.  None, or 23:59:59 and
    later, means the midnight that ends the day.  A time the clocks skip (spring forward)
    counts as the same time before the change: 01:30 on that night is 02:30 summer time."""
    if at is None or at >= END_OF_DAY:
        day, at = day + DAY, datetime.time(0)
    return datetime.datetime.combine(day, at, tzinfo=tz).astimezone(datetime.UTC)


def opening_windows(clinic: Clinic) -> dict[int, list[tuple[datetime.time, datetime.time]]]:
    """The clinic's opening hours by weekday: (opens, closes) pairs, earliest first."""
    windows: dict[int, list[tuple[datetime.time, datetime.time]]] = defaultdict(list)
    for hours in sorted(clinic.opening_hours.all(), key=lambda h: (h.weekday, h.opens)):
        windows[hours.weekday].append((hours.opens, hours.closes))
    return windows


def _shift_times(shift: DutyShift, opening: list) -> list[tuple]:
    """The (start, end) wall-clock times of a weekly shift on a day with these opening hours:
    its own times, or the opening hours for an empty one (an end of None is midnight)."""
    if shift.starts is None and shift.ends is None and opening:
        return list(opening)
    starts = shift.starts or min((opens for opens, _ in opening), default=datetime.time(0))
    ends = shift.ends or max((closes for _, closes in opening), default=None)
    return [(starts, ends)]


# --- Intervals ------------------------------------------------------------------------------


def _subtract(duty: Duty, since: datetime.datetime, until: datetime.datetime) -> list[Duty]:
    """What is left of ``duty`` outside ``[since, until)``."""
    if not duty.overlaps(since, until):
        return [duty]
    left = []
    if duty.starts_at < since:
        left.append(Duty(duty.clinician, duty.starts_at, since, duty.cover))
    if duty.ends_at > until:
        left.append(Duty(duty.clinician, until, duty.ends_at, duty.cover))
    return left


def _merge(duties: list[Duty]) -> list[Duty]:
    """Stretches of one clinician under the same cover (or the weekly pattern) that touch or
    overlap, joined into one."""
    merged: list[Duty] = []
    for duty in sorted(duties, key=lambda d: (d.clinician.pk, d.cover.pk if d.cover else 0,
                                              d.starts_at)):
        last = merged[-1] if merged else None
        if (last is not None and last.clinician.pk == duty.clinician.pk
                and last.cover == duty.cover and duty.starts_at <= last.ends_at):
            merged[-1] = Duty(last.clinician, last.starts_at, max(last.ends_at, duty.ends_at),
                              last.cover)
        else:
            merged.append(duty)
    return merged


# --- The effective rota ---------------------------------------------------------------------


def leave_between(first_day: datetime.date, last_day: datetime.date,
                  clinician_ids=None) -> dict[int, list[tuple[datetime.date, datetime.date]]]:
    """Each clinician's leave that touches the days from ``first_day`` to ``last_day``: their
    (first, last) days away."""
    leave = Leave.objects.filter(first_day__lte=last_day, last_day__gte=first_day)
    if clinician_ids is not None:
        leave = leave.filter(clinician_id__in=clinician_ids)
    away: dict[int, list[tuple[datetime.date, datetime.date]]] = defaultdict(list)
    for row in leave.order_by("first_day"):
        away[row.clinician_id].append((row.first_day, row.last_day))
    return away


def effective_rota(clinic: Clinic, since: datetime.datetime, until: datetime.datetime, *,
                   snapshot: "RotaSnapshot | None" = None) -> list[Duty]:
    """Every stretch of duty at ``clinic`` that overlaps ``[since, until)`` (aware datetimes),
    earliest first: the weekly pattern with cover and leave applied (see the module
    docstring).  A stretch keeps its real start and end, even outside the period.  Four
    queries, whatever the length of the period; none from a ``snapshot`` of the clinic's rota
    that holds the period's days (``snapshot_at``)."""
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    # From the day before: an overnight cover that began then may still be running.
    first_day = local_time(clinic, since).date() - DAY
    last_day = local_time(clinic, until).date()
    days = [first_day + DAY * n for n in range((last_day - first_day).days + 1)]
    opening = opening_windows(clinic)
    if snapshot is None:
        shifts = list(DutyShift.objects.filter(clinic=clinic).select_related("clinician"))
        covers = list(
            DutyCover.objects.filter(clinic=clinic, first_day__lte=last_day)
            .filter(Q(last_day__gte=first_day)
                    | Q(last_day__isnull=True, first_day__gte=first_day))
            .select_related("clinician", "instead_of").order_by("first_day", "pk"))
        away_during = leave_between
    else:
        # Leave is read up to the day after the period (below).
        snapshot.check_holds(first_day, last_day + DAY)
        shifts, covers = snapshot.shifts, snapshot.covers_touching(first_day, last_day)
        away_during = snapshot.leave_between

    weekly: list[Duty] = []
    standing_in: list[Duty] = []
    for day in days:
        todays_opening = opening.get(day.weekday(), [])
        todays_shifts = [s for s in shifts if s.weekday == day.weekday()]
        for shift in todays_shifts:
            weekly += [Duty(shift.clinician, instant(day, starts, tz), instant(day, ends, tz))
                       for starts, ends in _shift_times(shift, todays_opening)]
        for cover in covers:
            if not cover.first_day <= day <= cover.until_day:
                continue
            if cover.starts is not None:
                ends_day = day + DAY if cover.ends <= cover.starts else day
                times = [(instant(day, cover.starts, tz), instant(ends_day, cover.ends, tz))]
            elif cover.instead_of_id is not None:
                times = [(instant(day, s, tz), instant(day, e, tz))
                         for shift in todays_shifts if shift.clinician_id == cover.instead_of_id
                         for s, e in _shift_times(shift, todays_opening)]
            else:
                times = [(instant(day, s, tz), instant(day, e, tz))
                         for s, e in (todays_opening or [(datetime.time(0), None)])]
            standing_in += [Duty(cover.clinician, s, e, cover) for s, e in times]

    # Cover takes the people it stands in for off the weekly pattern for its time.
    for cover_duty in standing_in:
        replaced = cover_duty.cover.instead_of_id
        weekly = [part for duty in weekly
                  for part in ([duty] if replaced is not None and duty.clinician.pk != replaced
                               else _subtract(duty, cover_duty.starts_at, cover_duty.ends_at))]
    duties = weekly + standing_in

    # Leave takes its clinician off everything, cover included.
    away = away_during(first_day, last_day + DAY, {d.clinician.pk for d in duties})
    for clinician_id, periods in away.items():
        for first, last in periods:
            duties = [part for duty in duties
                      for part in ([duty] if duty.clinician.pk != clinician_id
                                   else _subtract(duty, instant(first, datetime.time(0), tz),
                                                  instant(last, None, tz)))]

    duties = [d for d in _merge(duties)
              if d.clinician.is_active and d.overlaps(since, until) and d.ends_at > d.starts_at]
    return sorted(duties, key=lambda d: (d.starts_at, d.clinician.name, d.clinician.pk))


def on_duty(clinic: Clinic, at: datetime.datetime, *,
            snapshot: "RotaSnapshot | None" = None) -> list[Clinician]:
    """The active clinicians on duty at ``at`` on the effective rota, earliest shift first;
    from ``snapshot`` when given, else from one read (``snapshot_at``)."""
    snapshot = snapshot or snapshot_at(clinic, at)
    clinicians: list[Clinician] = []
    for duty in effective_rota(clinic, at, at + datetime.timedelta(microseconds=1),
                               snapshot=snapshot):
        if duty.clinician not in clinicians:
            clinicians.append(duty.clinician)
    return clinicians


def contacts(snapshot: "RotaSnapshot", role: str, at: datetime.datetime) -> list[Clinician]:
    """The clinic's active backups or out-of-hours contacts in order, without those on leave
    at ``at``."""
    listed = [contact.clinician for contact in snapshot.contacts
              if contact.role == role and contact.clinician.is_active]
    today = local_time(snapshot.clinic, at).date()
    away = snapshot.leave_between(today, today, [c.pk for c in listed])
    return [c for c in listed if c.pk not in away]


def escalation_chain(clinic: Clinic, at: datetime.datetime) -> tuple[list[list[Clinician]], bool]:
    """The steps an alert raised at ``at`` goes through, and whether the clinic is closed.

    Step 0 is alerted at once: the clinicians on duty (the effective rota: cover and leave
    applied) and, when the clinic is closed or nobody is on duty, the out-of-hours contacts.
    Each later step is one backup, in order.  Steps repeat from the start until someone
    acknowledges.  Nobody on leave is in any step.  An empty step is left out, so an empty
    rota falls through to whoever is listed.

    The rota is one query (``snapshot_at``), which also reads each person's notification
    rules for ``clinic.alerting.rules``; the opening hours are the clinic's (prefetched or
    not).
    """
    snapshot = snapshot_at(clinic, at)
    closed = not is_open(clinic, at)
    first = on_duty(clinic, at, snapshot=snapshot)
    if closed or not first:
        first += [c for c in contacts(snapshot, DutyContact.Role.OUT_OF_HOURS, at)
                  if c not in first]
    backups = [[clinician] for clinician in contacts(snapshot, DutyContact.Role.BACKUP, at)]
    steps = [step for step in [first, *backups] if step]
    return steps, closed


# --- The rota's rows around one moment, in one query --------------------------------------


@dataclass(frozen=True)
class RotaSnapshot:
    """The rows of ``clinic``'s rota that touch the days ``first_day`` to ``last_day`` (local):
    its weekly shifts, the cover on those days, its duty contacts, and the leave on those days
    of everyone in them, each row with its clinician, and each clinician with their
    notification rules (prefetched, as ``prefetch_related("notification_rules")`` would).
    ``effective_rota``, ``on_duty`` and ``contacts`` work from it for any period within those
    days, with the same answers as from the tables."""

    clinic: Clinic
    first_day: datetime.date
    last_day: datetime.date
    shifts: list[DutyShift]
    covers: list[DutyCover]  # by first day, then id
    contacts: list[DutyContact]  # by role, position, then id
    leave: dict[int, list[tuple[datetime.date, datetime.date]]]  # by clinician id

    def check_holds(self, first_day: datetime.date, last_day: datetime.date) -> None:
        if first_day < self.first_day or last_day > self.last_day:
            raise ValueError(f"the rota snapshot holds {self.first_day} to {self.last_day}, "
                             f"not {first_day} to {last_day}: read one for those days")

    def covers_touching(self, first_day: datetime.date,
                        last_day: datetime.date) -> list[DutyCover]:
        """The covers the tables would give for these days (``effective_rota``'s filter)."""
        return [cover for cover in self.covers if cover.first_day <= last_day and (
            cover.first_day >= first_day if cover.last_day is None
            else cover.last_day >= first_day)]

    def leave_between(self, first_day: datetime.date, last_day: datetime.date,
                      clinician_ids) -> dict[int, list[tuple[datetime.date, datetime.date]]]:
        """As the module's ``leave_between``, for days this snapshot holds."""
        self.check_holds(first_day, last_day)
        away = {pk: [(first, last) for first, last in self.leave.get(pk, [])
                     if first <= last_day and last >= first_day] for pk in clinician_ids}
        return {pk: periods for pk, periods in away.items() if periods}


def snapshot_at(clinic: Clinic, at: datetime.datetime) -> RotaSnapshot:
    """The snapshot of the clinic's rota that ``on_duty``, ``contacts`` and ``escalation_chain``
    need at ``at``: from the day before (an overnight cover) to two days after (the rota just
    before midnight runs into the next day, and its leave is read a day further)."""
    today = local_time(clinic, at).date()
    return read_snapshot(clinic, today - DAY, today + 2 * DAY)


def read_snapshot(clinic: Clinic, first_day: datetime.date,
                  last_day: datetime.date) -> RotaSnapshot:
    """The snapshot of ``clinic``'s rota for those days, in one query: each clinician in it
    (on a weekly shift, giving or given cover on those days, or a duty contact) with their
    rows as JSON, compiled once per process (``CompiledRead``): on the alerting path that
    replaced up to six queries, each costing more to build than to run."""
    rows = _ROTA_PEOPLE.rows(clinic.pk, first_day, last_day)
    fields = len(_CLINICIAN_FIELDS)
    people = {row[0]: Clinician.from_db(DEFAULT_DB_ALIAS, _CLINICIAN_FIELDS, row[:fields])
              for row in rows}
    shifts, covers, contacts_, leave = [], [], [], {}
    for row in rows:
        person = people[row[0]]
        shift_rows, cover_rows, contact_rows, leave_rows, rule_rows = row[fields:]
        shifts += [DutyShift(pk=r["id"], clinic=clinic, clinician=person, weekday=r["weekday"],
                             starts=_time(r["starts"]), ends=_time(r["ends"]))
                   for r in shift_rows or []]
        covers += [DutyCover(pk=r["id"], clinic=clinic, clinician=person,
                             instead_of=people.get(r["instead_of"]),
                             first_day=_date(r["first_day"]), last_day=_date(r["last_day"]),
                             starts=_time(r["starts"]), ends=_time(r["ends"]), note=r["note"])
                   for r in cover_rows or []]
        contacts_ += [DutyContact(pk=r["id"], clinic=clinic, clinician=person, role=r["role"],
                                  position=r["position"]) for r in contact_rows or []]
        if leave_rows:
            leave[person.pk] = sorted((_date(r["first_day"]), _date(r["last_day"]))
                                      for r in leave_rows)
        _with_rules(person, rule_rows or [])
    return RotaSnapshot(
        clinic=clinic, first_day=first_day, last_day=last_day,
        shifts=sorted(shifts, key=lambda s: (s.weekday, s.pk)),
        covers=sorted(covers, key=lambda c: (c.first_day, c.pk)),
        contacts=sorted(contacts_, key=lambda c: (c.role, c.position, c.pk)), leave=leave)


def _with_rules(person: Clinician, rows: list[dict]) -> None:
    """Put ``person``'s notification rules where ``prefetch_related`` would, in the model's
    order, so that ``person.notification_rules.all()`` reads no more."""
    rules = sorted((NotificationRule(pk=r["id"], clinician=person, urgency=r["urgency"],
                                     channel=r["channel"], delay_minutes=r["delay_minutes"],
                                     position=r["position"]) for r in rows),
                   key=lambda r: (r.urgency, r.position, r.delay_minutes, r.pk))
    queryset = person.notification_rules.get_queryset()
    queryset._result_cache, queryset._prefetch_done = rules, True
    person._prefetched_objects_cache = {"notification_rules": queryset}


def _time(text: str | None) -> datetime.time | None:
    return None if text is None else datetime.time.fromisoformat(text)


def _date(text: str | None) -> datetime.date | None:
    return None if text is None else datetime.date.fromisoformat(text)


def _as_json(rows: QuerySet, **columns) -> Subquery:
    """The rows of ``rows`` (filtered by the outer clinician) as one JSON list of objects with
    their id and ``columns``."""
    return Subquery(rows.order_by().values("clinician").annotate(
        rows=JSONList(JSONObject(id=F("pk"), **columns))).values("rows"))


def _rota_people(clinic_pk: int, first_day: datetime.date, last_day: datetime.date) -> QuerySet:
    """The clinicians in the clinic's rota on those days, each with their rows in it, their
    leave on those days and their notification rules, as ``read_snapshot`` takes them."""
    person = OuterRef("pk")
    shifts = DutyShift.objects.filter(clinic=clinic_pk, clinician=person)
    covers = (DutyCover.objects.filter(clinic=clinic_pk, first_day__lte=last_day)
              .filter(Q(last_day__gte=first_day)
                      | Q(last_day__isnull=True, first_day__gte=first_day)))
    contacts_ = DutyContact.objects.filter(clinic=clinic_pk, clinician=person)
    leave = Leave.objects.filter(clinician=person, first_day__lte=last_day,
                                 last_day__gte=first_day)
    return (
        Clinician.objects.filter(Exists(shifts) | Exists(covers.filter(clinician=person))
                                 | Exists(covers.filter(instead_of=person)) | Exists(contacts_))
        .annotate(
            shift_rows=_as_json(shifts, weekday=F("weekday"), starts=F("starts"),
                                ends=F("ends")),
            cover_rows=_as_json(covers.filter(clinician=person), instead_of=F("instead_of"),
                                first_day=F("first_day"), last_day=F("last_day"),
                                starts=F("starts"), ends=F("ends"), note=F("note")),
            contact_rows=_as_json(contacts_, role=F("role"), position=F("position")),
            leave_rows=_as_json(leave, first_day=F("first_day"), last_day=F("last_day")),
            rule_rows=_as_json(NotificationRule.objects.filter(clinician=person),
                               urgency=F("urgency"), channel=F("channel"),
                               delay_minutes=F("delay_minutes"), position=F("position")),
        )
        .order_by("pk")
        .values_list(*_CLINICIAN_FIELDS, *_SNAPSHOT_ROWS))


_CLINICIAN_FIELDS = [field.attname for field in Clinician._meta.concrete_fields]
_SNAPSHOT_ROWS = ("shift_rows", "cover_rows", "contact_rows", "leave_rows", "rule_rows")
_ROTA_PEOPLE = CompiledRead(_rota_people, arguments=(int, datetime.date, datetime.date),
                            prepared=True)


# --- The week, hour by hour (the admin's rota calendar) -------------------------------------


@dataclass(frozen=True)
class HourCell:
    """Who is on duty during one hour of one day, and whether the clinic is open then."""

    starts_at: datetime.datetime
    ends_at: datetime.datetime
    duties: list[Duty]
    is_open: bool

    @property
    def exists(self) -> bool:
        """False for the hour the clocks skip when summer time starts."""
        return self.ends_at > self.starts_at

    @property
    def nobody_while_open(self) -> bool:
        return self.is_open and not self.duties


@dataclass(frozen=True)
class RotaDay:
    day: datetime.date
    hours: list[HourCell]  # 24, from 00:00 local
    away: list[Clinician]  # on leave that day


@dataclass(frozen=True)
class RotaWeek:
    clinic: Clinic
    monday: datetime.date
    days: list[RotaDay]
    covers: list[DutyCover]  # the covers that touch the week

    @property
    def rows(self) -> list[tuple[str, list[HourCell]]]:
        """The grid hour by hour: ("09:00", that hour's cell on each day)."""
        return [(f"{hour:02d}:00", [day.hours[hour] for day in self.days]) for hour in range(24)]


def rota_week(clinic: Clinic, monday: datetime.date) -> RotaWeek:
    """The effective rota of the week starting ``monday`` (local), hour by hour: for each day,
    24 cells with the stretches of duty that overlap that hour (a cell shows whoever is on at
    any time in it), and the people on leave that day among those the clinic could page."""
    tz = zoneinfo.ZoneInfo(clinic.timezone)
    days = [monday + DAY * n for n in range(7)]
    since, until = instant(days[0], datetime.time(0), tz), instant(days[-1], None, tz)
    duties = effective_rota(clinic, since, until)
    opening = opening_windows(clinic)
    open_spans = [(instant(day, opens, tz), instant(day, closes, tz))
                  for day in days for opens, closes in opening.get(day.weekday(), [])]
    people = (set(DutyShift.objects.filter(clinic=clinic).values_list("clinician", flat=True))
              | set(DutyContact.objects.filter(clinic=clinic)
                    .values_list("clinician", flat=True))
              | set(clinic.clinicians.values_list("pk", flat=True))
              | {d.clinician.pk for d in duties})
    away = leave_between(days[0], days[-1], people)
    names = {c.pk: c for c in Clinician.objects.filter(pk__in=away)}
    rota_days = []
    for day in days:
        hours = []
        for hour in range(24):
            starts = instant(day, datetime.time(hour), tz)
            ends = instant(day, datetime.time(hour + 1) if hour < 23 else None, tz)
            hours.append(HourCell(
                starts_at=starts, ends_at=ends,
                duties=[d for d in duties if d.overlaps(starts, ends)],
                is_open=any(s < ends and e > starts for s, e in open_spans)))
        rota_days.append(RotaDay(day=day, hours=hours, away=sorted(
            (names[pk] for pk, periods in away.items()
             if any(first <= day <= last for first, last in periods)),
            key=lambda c: c.name)))
    covers = sorted({d.cover for d in duties if d.cover is not None},
                    key=lambda c: (c.first_day, c.starts or datetime.time(0), c.pk))
    return RotaWeek(clinic=clinic, monday=monday, days=rota_days, covers=covers)
