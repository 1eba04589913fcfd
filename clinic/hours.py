"""When a clinic is open, in its own time zone (summer time included); and a clinic read with
its opening hours in one query (``clinic_with_hours``)."""

import datetime
import zoneinfo

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject

from clinic.models import Clinic, OpeningHours
from core.db import JSONList


def clinic_with_hours(clinics: QuerySet) -> Clinic | None:
    """The first clinic of ``clinics`` with its opening hours, in one query (see
    ``hours_as_json``)."""
    clinic = clinics.annotate(hours_json=hours_as_json()).first()
    return None if clinic is None else with_hours(clinic, clinic.hours_json)


def hours_as_json() -> Subquery:
    """The opening hours of the clinic of the outer query, as a JSON list: read beside the
    clinic's row, one query instead of two (``with_hours`` puts them in place)."""
    return Subquery(
        OpeningHours.objects.filter(clinic=OuterRef("pk")).order_by().values("clinic")
        .annotate(rows=JSONList(JSONObject(id=F("pk"), weekday=F("weekday"), opens=F("opens"),
                                           closes=F("closes"))))
        .values("rows"))


def with_hours(clinic: Clinic, rows: list[dict] | None) -> Clinic:
    """``clinic``, with the opening hours that ``hours_as_json`` read put where
    ``prefetch_related("opening_hours")`` would put them, so that ``clinic.opening_hours.all()``
    reads no more."""
    rows = sorted(rows or [], key=lambda row: (row["weekday"], row["opens"]))
    loaded = [OpeningHours(pk=row["id"], clinic=clinic, weekday=row["weekday"],
                           opens=datetime.time.fromisoformat(row["opens"]),
                           closes=datetime.time.fromisoformat(row["closes"])) for row in rows]
    # What Django's prefetch_related does with the rows it read (prefetch_one_level).
    queryset = clinic.opening_hours.get_queryset()
    queryset._result_cache, queryset._prefetch_done = loaded, True
    clinic._prefetched_objects_cache = {"opening_hours": queryset}
    return clinic


def local_time(clinic: Clinic, at: datetime.datetime) -> datetime.datetime:
    return at.astimezone(zoneinfo.ZoneInfo(clinic.timezone))


def is_open(clinic: Clinic, at: datetime.datetime) -> bool:
    """Whether ``at`` (an aware datetime) falls within the clinic's opening hours."""
    local = local_time(clinic, at)
    return any(
        hours.weekday == local.weekday() and hours.opens <= local.time() < hours.closes
        for hours in clinic.opening_hours.all()
    )


def describe_hours(clinic: Clinic) -> str:
    """Opening hours in words, e.g. "Monday to Friday, 9:00 to 17:00"."""
    hours = list(clinic.opening_hours.all())
    if not hours:
        return "no regular opening hours"
    by_time: dict[tuple, list[int]] = {}
    for h in hours:
        by_time.setdefault((h.opens, h.closes), []).append(h.weekday)
    parts = []
    for (opens, closes), days in by_time.items():
        names = [clinic.opening_hours.model.Weekday(d).label for d in sorted(days)]
        consecutive = sorted(days) == list(range(min(days), max(days) + 1))
        day_text = (f"{names[0]} to {names[-1]}" if len(names) > 2 and consecutive
                    else ", ".join(names))
        parts.append(f"{day_text}, {opens.hour}:{opens:%M} to {closes.hour}:{closes:%M}")
    return "; ".join(parts)


def closing_time(clinic: Clinic, at: datetime.datetime) -> datetime.datetime | None:
    """When the opening that ``at`` falls in ends (the clinic's local time), or None when the
    clinic is closed at ``at``."""
    local = local_time(clinic, at)
    for hours in clinic.opening_hours.all():
        if hours.weekday == local.weekday() and hours.opens <= local.time() < hours.closes:
            return datetime.datetime.combine(local.date(), hours.closes, tzinfo=local.tzinfo)
    return None


def next_opening(clinic: Clinic, at: datetime.datetime) -> datetime.datetime | None:
    """When the clinic next opens after ``at`` (local time), within a week; None if it has no
    opening hours."""
    local = local_time(clinic, at)
    for days_ahead in range(8):
        day = local.date() + datetime.timedelta(days=days_ahead)
        starts = sorted(hours.opens for hours in clinic.opening_hours.all()
                        if hours.weekday == day.weekday())
        for opens in starts:
            moment = datetime.datetime.combine(day, opens, tzinfo=local.tzinfo)
            if moment > local:
                return moment
    return None
