"""How quickly alerts are answered, for clinic leads (the ``clinic.view_alert_response``
permission): per week, the alerts by urgency, the time to acknowledge (median and 90th
percentile), how many escalated, and the failed delivery attempts by channel.

Scoped like the queue: a lead sees the alerts of the clinics they work at (a superuser, every
clinic), and every look (page or CSV) is audited.  No patient data: counts and times only.

How the figures are worked out
------------------------------
- An alert belongs to the week (Monday to Sunday, in the site's time zone) it was raised in; a
  failed delivery attempt to the week it was made in.
- **Time to acknowledge** is ``acknowledged_at - created_at`` of the alerts acknowledged so far;
  alerts nobody has acknowledged are counted apart, never as a time.
- The **median** is the middle time, or the mean of the middle two for an even count
  (``statistics.median``); the **90th percentile** is the nearest-rank one: the smallest time
  that at least 90% of the times are at or below (with 10 times, the 9th shortest).
- **Escalated** alerts are those that went past their first step (``level`` above 0).
- **Failed deliveries** are delivery attempts that failed, for a while or for good, by channel.
"""

import datetime
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from clinic import audit
from clinic.alerting.transports import TRANSPORTS
from clinic.models import Alert, AuditEvent, Clinic, DeliveryAttempt
from clinic.review.charts import weekly_grouped_bars, weekly_stacked_bars
from screening.urgency import PAGING_CHOICES

PERMISSION = "clinic.view_alert_response"
URGENCIES = [urgency for urgency, _label in PAGING_CHOICES]  # most urgent first
WEEK_CHOICES = (4, 12, 26, 52)  # offered on the page; any number up to MAX_WEEKS is taken
DEFAULT_WEEKS = 12
MAX_WEEKS = 104
FAILED = (DeliveryAttempt.Outcome.TEMPORARY_FAILURE, DeliveryAttempt.Outcome.PERMANENT_FAILURE)


@dataclass(frozen=True)
class ResponseFigures:
    """The figures of one week, or of the whole period."""

    alerts: dict[str, int]  # urgency -> alerts raised
    acknowledged: int
    median_seconds: float | None
    p90_seconds: float | None
    escalated: int
    failed: dict[str, int] = field(default_factory=dict)  # channel -> failed attempts

    @property
    def total(self) -> int:
        return sum(self.alerts.values())

    @property
    def unacknowledged(self) -> int:
        return self.total - self.acknowledged


@dataclass(frozen=True)
class ResponseReport:
    clinics: list[Clinic]
    first_week: datetime.date
    last_week: datetime.date
    weeks: list[tuple[datetime.date, ResponseFigures]]  # every week of the period, oldest first
    overall: ResponseFigures
    channels: list[str]


def percentile(seconds: list[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value at least ``share`` of ``seconds`` are at
    or below.  None for no values."""
    if not seconds:
        return None
    ordered = sorted(seconds)
    return ordered[max(math.ceil(share * len(ordered)), 1) - 1]


def _figures(alerts: list[tuple[str, float | None, int]], failed: Counter) -> ResponseFigures:
    """From (urgency, seconds to acknowledge or None, level) per alert, and failed attempts by
    channel."""
    times = [seconds for _, seconds, _ in alerts if seconds is not None]
    return ResponseFigures(
        alerts={urgency: sum(1 for u, _, _ in alerts if u == urgency) for urgency in URGENCIES},
        acknowledged=len(times),
        median_seconds=statistics.median(times) if times else None,
        p90_seconds=percentile(times, 0.9),
        escalated=sum(1 for _, _, level in alerts if level > 0),
        failed=dict(failed),
    )


def report_clinics(user) -> list[Clinic]:
    """The clinics whose alerts ``user`` may see in the report: those they work at (every
    clinic for a superuser).  Raises PermissionDenied without the permission."""
    if not (user.is_active and user.has_perm(PERMISSION)):
        raise PermissionDenied("Only clinic leads can see how quickly alerts are answered.")
    clinics = Clinic.objects.all()
    if not user.is_superuser:
        clinics = clinics.filter(clinicians__user=user)
    return list(clinics.distinct().order_by("name"))


def week_of(at: datetime.datetime) -> datetime.date:
    """The Monday of the week ``at`` falls in, in the site's time zone."""
    day = timezone.localtime(at).date()
    return day - datetime.timedelta(days=day.weekday())


def response_report(user, *, weeks: int = DEFAULT_WEEKS, clinic_id: int | None = None,
                    as_csv: bool = False, now: datetime.datetime | None = None
                    ) -> ResponseReport:
    """The report for the last ``weeks`` weeks (this one included), for one of the user's
    clinics or all of them; audited."""
    clinics = report_clinics(user)
    if clinic_id is not None:
        clinics = [c for c in clinics if c.pk == clinic_id] or clinics
    now = now or timezone.now()
    last_week = week_of(now)
    first_week = last_week - datetime.timedelta(weeks=weeks - 1)
    since = timezone.make_aware(datetime.datetime.combine(first_week, datetime.time(0)))
    alerts: QuerySet[Alert] = Alert.objects.filter(clinic__in=clinics, created_at__gte=since,
                                                   created_at__lte=now)

    by_week: dict[datetime.date, list] = defaultdict(list)
    for urgency, created_at, acknowledged_at, level in alerts.values_list(
            "urgency", "created_at", "acknowledged_at", "level"):
        seconds = ((acknowledged_at - created_at).total_seconds()
                   if acknowledged_at is not None else None)
        by_week[week_of(created_at)].append((urgency, seconds, level))
    failed_by_week: dict[datetime.date, Counter] = defaultdict(Counter)
    for channel, started_at in DeliveryAttempt.objects.filter(
            notification__alert__clinic__in=clinics, outcome__in=FAILED,
            started_at__gte=since, started_at__lte=now).values_list("channel", "started_at"):
        failed_by_week[week_of(started_at)][channel] += 1

    week_starts = [first_week + datetime.timedelta(weeks=n) for n in range(weeks)]
    seen = {channel for counts in failed_by_week.values() for channel in counts}
    channels = list(TRANSPORTS) + sorted(seen - set(TRANSPORTS))
    report = ResponseReport(
        clinics=clinics, first_week=first_week, last_week=last_week,
        weeks=[(week, _figures(by_week.get(week, []), failed_by_week.get(week, Counter())))
               for week in week_starts],
        overall=_figures([row for rows in by_week.values() for row in rows],
                         sum(failed_by_week.values(), Counter())),
        channels=channels,
    )
    audit.record(user, AuditEvent.Action.VIEW_REPORT,
                 detail=f"alert response report{' as CSV' if as_csv else ''}: {weeks} weeks "
                        f"from {first_week:%Y-%m-%d}, clinics "
                        + ", ".join(str(c.pk) for c in clinics))
    return report


def minutes(seconds: float | None) -> str:
    """A time to acknowledge as minutes and seconds, e.g. "4 min 30 s"; "none" for None."""
    if seconds is None:
        return "none"
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s" if whole >= 60 else f"{whole} s"


# --- Charts (server-drawn SVG, clinic.review.charts) -----------------------------------------


def alerts_chart(report: ResponseReport) -> dict:
    return weekly_stacked_bars(
        [(week, figures.alerts) for week, figures in report.weeks], URGENCIES,
        css="bar--{key}", most_weeks=len(report.weeks),
        describe=lambda week, urgency, count: f"Week of {week:%d %b %Y}: {count} {urgency}")


def acknowledge_chart(report: ResponseReport) -> dict:
    labels = {"median": "median", "p90": "90th percentile"}
    return weekly_grouped_bars(
        [(week, {"median": figures.median_seconds, "p90": figures.p90_seconds})
         for week, figures in report.weeks], ["median", "p90"],
        css="bar--{key}", most_weeks=len(report.weeks),
        describe=lambda week, key, seconds: f"Week of {week:%d %b %Y}: {labels[key]} time to "
                                            f"acknowledge {minutes(seconds)}")


def failures_chart(report: ResponseReport) -> dict:
    return weekly_stacked_bars(
        [(week, figures.failed) for week, figures in report.weeks], report.channels,
        css="bar--channel-{key}", most_weeks=len(report.weeks),
        describe=lambda week, channel, count: f"Week of {week:%d %b %Y}: {count} failed "
                                              f"{channel} deliveries")
