"""The rota check: will the next 7 days' alerts reach someone?  And the test page, which proves
that a clinician's channels do.

Each day (Celery beat runs ``email_coverage_problems``) every clinic's next 7 days are checked
against the effective rota (``clinic.rota.effective_rota``: cover and leave applied) and the
opening hours (``clinic.hours``):

- **Nobody on duty while the clinic is open**: an alert would go straight to the out-of-hours
  contacts (or, without them, the backups only).
- **A clinician who cannot be reached**: someone on the rota in those days, a backup or an
  out-of-hours contact who has no address on any channel, or whose last delivery attempt (a
  real page or a test page, or a text's failed delivery receipt) failed for good on every
  channel they have; or whose mobile number no text has been confirmed delivered to (when the
  service sends texts).
- **Closed with no out-of-hours contact**: no out-of-hours contact at all, or all of them on
  leave for some of the nights.

Who is told: one email per clinic with problems (nothing when all is well) to the clinic's
``coverage_email``, or, when it has none, to every active staff user with an email address who
may change the duty rota (the ``clinic.change_dutyshift`` permission; superusers included).
It names clinicians, clinics and times, never a patient.  The admin's rota check page shows the
same problems (``coverage_reports``) without sending anything.
"""

import datetime
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage, get_connection
from django.urls import reverse
from django.utils import timezone

from clinic import audit
from clinic.alerting.transports import (
    SEND_TIMEOUT_SECONDS,
    TRANSPORTS,
    DeliveryError,
    TestPageMessage,
)
from clinic.hours import local_time
from clinic.models import (
    AuditEvent,
    ChannelCheck,
    Clinic,
    Clinician,
    DeliveryAttempt,
    DutyContact,
)
from clinic.rota import DAY, effective_rota, instant, leave_between, opening_windows

logger = logging.getLogger(__name__)

HORIZON = datetime.timedelta(days=7)
ROTA_PERMISSION = "clinic.change_dutyshift"
PERMANENT = DeliveryAttempt.Outcome.PERMANENT_FAILURE


@dataclass(frozen=True)
class Problem:
    text: str


@dataclass(frozen=True)
class CoverageReport:
    clinic: Clinic
    since: datetime.datetime
    until: datetime.datetime
    nobody_on_duty: list[Problem]
    unreachable: list[Problem]
    no_out_of_hours: list[Problem]

    @property
    def problems(self) -> list[Problem]:
        return self.nobody_on_duty + self.unreachable + self.no_out_of_hours


# --- Periods ------------------------------------------------------------------------------

Period = tuple[datetime.datetime, datetime.datetime]


def _minus(periods: list[Period], taken: list[Period]) -> list[Period]:
    """What is left of ``periods`` outside every one of ``taken``."""
    for t_start, t_end in taken:
        left = []
        for start, end in periods:
            if t_end <= start or t_start >= end:
                left.append((start, end))
                continue
            if start < t_start:
                left.append((start, t_start))
            if t_end < end:
                left.append((t_end, end))
        periods = left
    return periods


def _joined(periods: list[Period]) -> list[Period]:
    joined: list[Period] = []
    for start, end in sorted(periods):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def open_periods(clinic: Clinic, since: datetime.datetime,
                 until: datetime.datetime) -> list[Period]:
    """When the clinic is open between ``since`` and ``until``, as instants."""
    windows = opening_windows(clinic)
    first, last = local_time(clinic, since).date(), local_time(clinic, until).date()
    tz = local_time(clinic, since).tzinfo
    periods = [(max(instant(day, opens, tz), since), min(instant(day, closes, tz), until))
               for day in (first + DAY * n for n in range((last - first).days + 1))
               for opens, closes in windows.get(day.weekday(), [])]
    return _joined([(start, end) for start, end in periods if start < end])


def describe_period(clinic: Clinic, period: Period) -> str:
    """A period in the clinic's local time, e.g. "Tue 3 Jun 12:00 to 13:00" or "Fri 6 Jun
    17:00 to Mon 9 Jun 09:00"."""
    start, end = (local_time(clinic, at) for at in period)
    if (end - datetime.timedelta(microseconds=1)).date() == start.date():
        until = "24:00" if end.time() == datetime.time(0) else f"{end:%H:%M}"
        return f"{_day(start)} {start:%H:%M} to {until}"
    return f"{_day(start)} {start:%H:%M} to {_day(end)} {end:%H:%M}"


def _day(at: datetime.datetime) -> str:
    return f"{at:%a} {at.day} {at:%b}"


# --- The checks ---------------------------------------------------------------------------


def check_clinic(clinic: Clinic, *, now: datetime.datetime | None = None) -> CoverageReport:
    """The problems of ``clinic``'s rota in the ``HORIZON`` from ``now``."""
    since = now or timezone.now()
    until = since + HORIZON
    duties = effective_rota(clinic, since, until)
    opened = open_periods(clinic, since, until)
    gaps = _minus(opened, [(d.starts_at, d.ends_at) for d in duties])
    nobody = [Problem(f"{describe_period(clinic, gap)}: the clinic is open and nobody is on "
                      "duty; alerts go to the out-of-hours contacts, or only the backups.")
              for gap in _joined(gaps)]

    contacts = list(DutyContact.objects.filter(clinic=clinic, clinician__is_active=True)
                    .select_related("clinician"))
    out_of_hours = [c.clinician for c in contacts if c.role == DutyContact.Role.OUT_OF_HOURS]
    closed = _minus([(since, until)], opened)
    if closed and not out_of_hours:
        no_contact = [Problem("The clinic has no out-of-hours contact: when it is closed, "
                              "alerts go only to whoever is on duty and the backups.")]
    else:
        tz = local_time(clinic, since).tzinfo
        first, last = local_time(clinic, since).date(), local_time(clinic, until).date()
        away = leave_between(first, last, [c.pk for c in out_of_hours])
        reachable: list[Period] = []
        for clinician in out_of_hours:
            reachable += _minus([(since, until)],
                                [(instant(a, datetime.time(0), tz), instant(b, None, tz))
                                 for a, b in away.get(clinician.pk, [])])
        no_contact = [Problem(f"{describe_period(clinic, gap)}: the clinic is closed and every "
                              "out-of-hours contact is on leave.")
                      for gap in _joined(_minus(closed, _joined(reachable)))]

    on_rota = {d.clinician.pk: d.clinician for d in duties}
    on_rota.update({c.clinician.pk: c.clinician for c in contacts})
    unreachable = [Problem(f"{clinician.name}: {why}") for clinician in
                   sorted(on_rota.values(), key=lambda c: (c.name, c.pk))
                   if (why := unreachable_because(clinician) or unverified_because(clinician))]
    return CoverageReport(clinic=clinic, since=since, until=until, nobody_on_duty=nobody,
                          unreachable=unreachable, no_out_of_hours=no_contact)


def unreachable_because(clinician: Clinician) -> str:
    """Why no page can reach ``clinician``, or "" when one can: no address on any channel, or
    the last try on every channel (a real delivery or a test page) failed for good.  A channel
    never tried counts as working."""
    channels = clinician.channels
    if not channels:
        return ("no address on any channel (email, text message, webhook, Slack, Teams): they "
                "cannot be paged.")
    failures = []
    for channel, _address in channels:
        last_delivery = (DeliveryAttempt.objects
                         .filter(notification__clinician=clinician, channel=channel)
                         .exclude(outcome="").order_by("-started_at", "-pk")
                         .values_list("started_at", "outcome", "error").first())
        last_test = (ChannelCheck.objects.filter(clinician=clinician, channel=channel)
                     .exclude(outcome="").order_by("-started_at", "-pk")
                     .values_list("started_at", "outcome", "error").first())
        tries = [t for t in (last_delivery, last_test) if t is not None]
        if not tries:
            return ""
        started_at, outcome, error = max(tries, key=lambda t: t[0])
        if outcome != PERMANENT:
            return ""
        when = timezone.localtime(started_at)
        failures.append(f"{channel} ({error or 'refused'}, {_day(when)} {when:%H:%M})")
    return ("the last page failed for good on every channel: " + "; ".join(failures)
            + ". Correct the address, then send a test page from their page in the admin.")


def unverified_because(clinician: Clinician) -> str:
    """Why texts to ``clinician`` may not arrive, or "": a mobile number no text has been
    confirmed delivered to (the provider's receipt), when the service sends texts."""
    if not (settings.SMS_ENABLED and clinician.phone) or clinician.phone_verified:
        return ""
    return ("their mobile number is not verified: no text to it has been confirmed delivered. "
            "Send a test page from their page in the admin and check they got the text.")


def coverage_reports(*, now: datetime.datetime | None = None) -> list[CoverageReport]:
    now = now or timezone.now()
    return [check_clinic(clinic, now=now)
            for clinic in Clinic.objects.prefetch_related("opening_hours")]


def recipients(clinic: Clinic) -> list[str]:
    """Who the rota check emails about ``clinic`` (see the module docstring)."""
    if clinic.coverage_email:
        return [clinic.coverage_email]
    staff = get_user_model().objects.with_perm(
        ROTA_PERMISSION, include_superusers=True,
        backend="django.contrib.auth.backends.ModelBackend")
    return sorted({user.email for user in staff.filter(is_active=True, is_staff=True)
                   .exclude(email="")})


def email_coverage_problems(*, now: datetime.datetime | None = None) -> int:
    """Check every clinic and email each one's problems to its admins: one email per clinic
    with problems, none when all is well.  Returns the number of emails sent.  Safe to run
    twice (it sends the same news twice, which is all it can do)."""
    sent = 0
    for report in coverage_reports(now=now):
        if not report.problems:
            continue
        to = recipients(report.clinic)
        if not to:
            logger.error("the rota check found %s problem(s) at clinic %s but has nobody to "
                         "tell: set its coverage email", len(report.problems), report.clinic.pk)
            continue
        message = _email(report, to)
        get_connection(timeout=SEND_TIMEOUT_SECONDS).send_messages([message])
        logger.warning("the rota check emailed %s problem(s) at clinic %s",
                       len(report.problems), report.clinic.pk)
        sent += 1
    return sent


def _email(report: CoverageReport, to: list[str]) -> EmailMessage:
    count = len(report.problems)
    site = settings.SITE_URL.rstrip("/")
    sections = [(title, problems) for title, problems in (
        ("Open with nobody on duty", report.nobody_on_duty),
        ("Clinicians who cannot be reached", report.unreachable),
        ("Closed with no out-of-hours contact", report.no_out_of_hours)) if problems]
    body = "\n\n".join(
        f"{title}:\n" + "\n".join(f"- {problem.text}" for problem in problems)
        for title, problems in sections)
    return EmailMessage(
        subject=f"Rota check, {report.clinic.name}: {count} problem{'s' if count != 1 else ''} "
                "in the next 7 days",
        body=(f"The daily rota check found {count} problem{'s' if count != 1 else ''} with "
              f"{report.clinic.name}'s duty rota between "
              f"{describe_period(report.clinic, (report.since, report.until))}.\n\n{body}\n\n"
              "The rota, week by week (cover and leave included):\n"
              f"{site}{reverse('admin:clinic_clinic_rota', args=[report.clinic.pk])}\n"
              f"Every clinic's check: {site}{reverse('admin:clinic_clinic_coverage')}\n\n"
              "You get this because you look after this clinic's rota. It is sent each day "
              "while there are problems, and not when all is well.\n"),
        to=to, from_email=settings.DEFAULT_FROM_EMAIL)


# --- Test pages ---------------------------------------------------------------------------


def send_test_page(clinician: Clinician, *, by) -> list[ChannelCheck]:
    """Send a test message on each of ``clinician``'s channels through the real transports,
    each recorded (before sending, completed after) as a ``ChannelCheck``, and the whole
    audited.  Never an alert: no alert, no notification, nobody else paged."""
    clinics = ", ".join(clinician.clinics.values_list("name", flat=True)) or "the clinic"
    checks = []
    for channel, address in clinician.channels:
        check = ChannelCheck.objects.create(clinician=clinician, channel=channel, sent_by=by)
        message = TestPageMessage(key=f"test-page-{check.pk}", clinic_names=clinics,
                                  sent_by=by.get_full_name() or by.get_username())
        try:
            check.provider_id = TRANSPORTS[channel].send(address, message) or ""
        except DeliveryError as error:
            check.outcome = PERMANENT if error.permanent else (
                DeliveryAttempt.Outcome.TEMPORARY_FAILURE)
            check.error = str(error)[:500]
        else:
            check.outcome = DeliveryAttempt.Outcome.SENT
        check.finished_at = timezone.now()
        check.save(update_fields=["outcome", "error", "finished_at", "provider_id"])
        checks.append(check)
    audit.record(by, AuditEvent.Action.TEST_PAGE,
                 detail=f"test page to clinician {clinician.pk}: " + (", ".join(
                     f"{c.channel} {c.get_outcome_display().lower()}" for c in checks)
                     or "no channel"))
    return checks

