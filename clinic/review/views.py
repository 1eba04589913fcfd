"""Clinicians' pages: the live queue and a case (each view calls one function of
``clinic.review.cases``, which scopes what the user may see and audits every look at a case);
the screening performance and alert response reports for leads; a clinician's own duty calendar
and its iCalendar feed.

The queue's filters are kept in the session, not the URL, so a patient's name typed into the
search box never lands in a URL, a browser history or an access log.
"""

import csv
import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import parse_etags
from django.utils.safestring import mark_safe
from django.views import View
from rest_framework.exceptions import ValidationError

from clinic import calendar_feed
from clinic.hours import local_time
from clinic.models import CallOutcome, DutyCalendarLink
from clinic.review import cases, performance, response
from clinic.review.api import queue_filters
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.permissions import ClinicianRequiredMixin
from core.roles import is_clinician
from intake.models import Submission
from intake.services import appointments as appointment_service

FILTERS_SESSION_KEY = "queue_filters"
FILTER_FIELDS = ("urgency", "status", "since", "until", "search")
QUEUE_PAGE = 50  # the rows the page shows first, and how many more "Show more" adds
QUEUE_MOST = 1000  # the most the page shows: beyond that, the filters narrow it down


def _filters(request) -> tuple[cases.QueueFilters, dict, dict]:
    raw = request.session.get(FILTERS_SESSION_KEY, {})
    try:
        return queue_filters(raw), raw, {}
    except ValidationError as error:
        return cases.QueueFilters(), raw, error.detail


def _hides_open_cases(raw: dict) -> bool:
    """Whether the saved filters hide some open cases: the page says so, since a new case that
    does not match them does not appear (nor is it announced)."""
    return (any(raw.get(field) for field in ("urgency", "since", "until", "search"))
            or raw.get("status") == Submission.Status.REVIEWED)


def _window(request) -> tuple[int, int]:
    """Which rows to show: the first ``?shown=`` (``QUEUE_PAGE`` by default, at most
    ``QUEUE_MOST``), from ``?start=`` (0 by default).  Positions, never patient data, so they
    may go in a URL: "Show more" is a plain link, and works without JavaScript."""
    shown = _choice(request.GET.get("shown"), None, QUEUE_PAGE)
    shown = min(max(shown, QUEUE_PAGE), QUEUE_MOST)
    start = _choice(request.GET.get("start"), range(shown), 0)
    return shown, start


def _more_url(shown: int, page: cases.QueuePage) -> str:
    """The "Show more" link: the page with ``QUEUE_PAGE`` more rows, scrolled to the first new
    one; "" when no more cases follow or the page shows the most it may."""
    if not page.more or shown >= QUEUE_MOST:
        return ""
    return (f"{reverse('queue')}?shown={min(shown + QUEUE_PAGE, QUEUE_MOST)}"
            f"#case-{page.next_reference}")


class QueueView(ClinicianRequiredMixin, View):
    template_name = "clinic/queue.html"

    def get(self, request):
        filters, raw, errors = _filters(request)
        shown, _start = _window(request)
        page = cases.queue_page(request.user, filters, shown=shown)
        return render(request, self.template_name, {
            "rows_html": _rows_html(request, page.rows, start=0), "filters": raw,
            "errors": errors, "shown": shown,
            "more_url": _more_url(shown, page), "page_size": QUEUE_PAGE,
            "poll_ms": round(settings.QUEUE_POLL_SECONDS * 1000),
            "at_most": shown >= QUEUE_MOST and page.more,
            "open_emergencies": cases.open_emergencies(request.user),
            "urgencies": Submission.Urgency.choices, "hiding_cases": _hides_open_cases(raw),
        })

    def post(self, request):
        if "clear" in request.POST:
            request.session.pop(FILTERS_SESSION_KEY, None)
        else:
            request.session[FILTERS_SESSION_KEY] = {
                field: request.POST.get(field, "")[:200] for field in FILTER_FIELDS}
        return redirect("queue")


def _rows_html(request, rows: list[cases.QueueRow], *, start: int) -> str:
    """The queue's rows (``templates/jinja2/clinic/queue_rows.html``), for the page and alone."""
    # Safe: Jinja2 escaped every value as it rendered them (Django's backend turns that on).
    return mark_safe(render_to_string(  # noqa: S308
        "clinic/queue_rows.html", {"rows": rows, "start": start}, request, using="jinja2"))


class QueueRowsView(ClinicianRequiredMixin, View):
    """The queue's rows alone (``?shown=`` and ``?start=`` as on the page), polled by
    static/js/queue.js to update the page in place, and fetched by its "Show more".

    Conditional: the ``ETag`` is ``cases.queue_version``, read from two indexes, and a request
    whose ``If-None-Match`` names it gets ``304 Not Modified`` with no row read or rendered,
    which is what nearly every poll gets.  The response stays ``Cache-Control: no-store``
    (``config.errors.NoStoreMiddleware``): patient data must not be kept by the browser, so
    queue.js keeps the ETag itself and sends ``If-None-Match`` explicitly.  The queue lists
    cases and opens none, so neither answer writes an audit event (opening a case does)."""

    def get(self, request):
        filters, _, _ = _filters(request)
        shown, start = _window(request)
        etag = f'"{cases.queue_version(request.user, filters, shown=shown, start=start)}"'
        if etag in parse_etags(request.headers.get("If-None-Match", "")):
            unchanged = HttpResponseNotModified()
            unchanged["ETag"] = etag
            return unchanged
        page = cases.queue_page(request.user, filters, shown=shown, start=start)
        response = HttpResponse(_rows_html(request, page.rows, start=start))
        response["ETag"] = etag
        # Every open emergency, whatever the filters: the page announces new ones even when a
        # filter hides them.  References only (no patient data), so headers are fine; likewise
        # the case "Show more" would lead to ("" when no more follow).
        response["X-Open-Emergencies"] = " ".join(cases.open_emergencies(request.user))
        response["X-Queue-More"] = _more_url(shown, page)
        return response


class CaseView(ClinicianRequiredMixin, View):
    template_name = "clinic/case.html"

    def get(self, request, reference):
        submission = cases.get_case(request.user, reference)
        fired = {flag.rule_code for flag in submission.flags.all()}
        return render(request, self.template_name, {
            "submission": submission, "alert": cases.alert_of(submission),
            "escalation_plan": _escalation_plan(cases.alert_of(submission)),
            "evidence_codes": {code for flag in submission.flags.all() for code in flag.evidence},
            "flags": _flags_with_their_answers(submission),
            "outcomes": Submission.Outcome.choices,
            "judgements": Submission.Judgement.choices,
            "rules_not_fired": [rule for rule in cases.rules_of(submission)
                                if rule.code not in fired],
            "timeline": cases.alert_timeline(cases.alert_of(submission)),
            "call_outcomes": CallOutcome.Outcome.choices,
        })


def _escalation_plan(alert) -> list[dict]:
    """The alert's frozen plan, step by step, marking the step being paged now."""
    plan = alert.escalation_plan if alert is not None else []
    return [{"names": [person["name"] for person in step],
             "current": not alert.acknowledged_at and index == alert.level % len(plan)}
            for index, step in enumerate(plan)]


def _flags_with_their_answers(submission) -> list[dict]:
    """Each flag with the answers that made it fire, named by the question as the patient read
    it (from the answers already loaded with the case), so the clinician reads "Do you have
    pain ... in your chest? Yes" rather than ``chest_pain = True``.  ``question`` is None for
    a question the patient was not shown."""
    answers = {answer.question_code: answer for answer in submission.answered}
    return [{
        "flag": flag,
        "evidence": [{"code": code, "value": value,
                      "question": answers[code].question_text if code in answers else None,
                      "asked": answers[code].question if code in answers else None}
                     for code, value in flag.evidence.items()],
    } for flag in submission.flags.all()]


class CaseActionView(ClinicianRequiredMixin, View):
    """POST-only actions on a case, each one service call, then back to where work goes on."""

    def post(self, request, reference, action):
        if action == "acknowledge":
            newly = cases.acknowledge_case(request.user, reference)
            message = ("Alert acknowledged: escalation has stopped." if newly
                       else "This alert had already been acknowledged.")
        elif action == "claim":
            cases.claim_case(request.user, reference)
            message = "You are calling this patient: others can see that."
        elif action == "review":
            try:
                cases.review_case(
                    request.user, reference, note=request.POST.get("note", "")[:5000],
                    outcome=request.POST.get("outcome", ""),
                    judgement=request.POST.get("triage_judgement", ""),
                    judged_flag=request.POST.get("judged_flag", ""))
            except cases.ReviewInvalid as invalid:
                messages.error(request, " ".join(invalid.messages))
                return redirect("case-detail", reference=reference)
            messages.success(request, "Marked reviewed: the case has left the open queue.")
            return redirect("queue")
        elif action == "reopen":
            cases.reopen_case(request.user, reference)
            message = "Reopened: the case is back on the queue."
        elif action == "call-outcome":
            try:
                recorded = cases.record_call_outcome(
                    request.user, reference, outcome=request.POST.get("outcome", ""))
            except Invalid:
                messages.error(request, "Choose what came of the call, then record it.")
                return redirect("case-detail", reference=reference)
            except Conflict as refused:
                messages.error(request, str(refused))
                return redirect("case-detail", reference=reference)
            message = (f"Recorded: {recorded.get_outcome_display()}." + (
                "" if recorded.resolves else " The alert stays open: try again, and record "
                "the next call's outcome."))
        else:
            raise Http404("No such action.")
        messages.success(request, message)
        return redirect("case-detail", reference=reference)


class PerformanceView(ClinicianRequiredMixin, View):
    """How the screening performs, per rule-set version: for clinical leads (the
    ``screening.view_performance`` permission).  ``?rule_set=<id>`` picks the version (no
    patient data in the URL); ``?format=csv`` gives the rules' figures as CSV."""

    template_name = "clinic/performance.html"

    def get(self, request):
        if not request.user.has_perm(performance.PERMISSION):
            raise PermissionDenied("Only clinical leads can see the screening's performance.")
        rule_sets = performance.performance_rule_sets(request.user)
        chosen = next((r for r in rule_sets if str(r.pk) == request.GET.get("rule_set")),
                      rule_sets[0] if rule_sets else None)
        figures = performance.screening_performance(request.user, chosen) if chosen else None
        if figures is not None and request.GET.get("format") == "csv":
            return _performance_csv(figures)
        return render(request, self.template_name, {
            "rule_sets": rule_sets, "chosen": chosen, "figures": figures,
            "weekly": performance.weekly_chart(figures) if figures else None,
            "rules_chart": performance.rules_chart(figures) if figures else None,
            "urgencies": performance.URGENCIES,
            "judgement_counts": [(label, figures.judgements.get(value, 0))
                                 for value, label in Submission.Judgement.choices]
            if figures else [],
        })


def _performance_csv(figures) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="screening-rule-set-{figures.rule_set.version}.csv"')
    writer = csv.writer(response)
    writer.writerow(["rule", "title", "tier", "fired", "share of intakes", "judged right",
                     "judged too high", "judged too low"])
    for rule in figures.rules:
        writer.writerow([rule.code, rule.title, rule.tier, rule.fired, f"{rule.rate:.4f}",
                         rule.judged.get("right", 0), rule.judged.get("too_high", 0),
                         rule.judged.get("too_low", 0)])
    writer.writerow([])
    writer.writerow(["week", *performance.URGENCIES])
    for week, counts in figures.weeks:
        writer.writerow([week.isoformat(), *(counts.get(u, 0) for u in performance.URGENCIES)])
    return response


class AlertResponseView(ClinicianRequiredMixin, View):
    """How quickly alerts are answered, for clinic leads (``clinic.view_alert_response``):
    ``?weeks=`` from 1 to ``response.MAX_WEEKS``, ``?clinic=<id>`` one of the lead's clinics,
    ``?format=csv`` the figures as CSV.  Every look is audited (by the service)."""

    template_name = "clinic/alert_response.html"

    def get(self, request):
        if not request.user.has_perm(response.PERMISSION):
            raise PermissionDenied("Only clinic leads can see how quickly alerts are answered.")
        weeks = _choice(request.GET.get("weeks"), range(1, response.MAX_WEEKS + 1),
                        response.DEFAULT_WEEKS)
        clinic_id = _choice(request.GET.get("clinic"), None, None)
        as_csv = request.GET.get("format") == "csv"
        report = response.response_report(request.user, weeks=weeks, clinic_id=clinic_id,
                                          as_csv=as_csv)
        if as_csv:
            return _response_csv(report)
        return render(request, self.template_name, {
            "report": report, "weeks": weeks,
            "week_choices": sorted({*response.WEEK_CHOICES, weeks}),
            "all_clinics": response.report_clinics(request.user), "chosen_clinic": clinic_id,
            "urgencies": response.URGENCIES,
            "rows": [(week, figures, response.minutes(figures.median_seconds),
                      response.minutes(figures.p90_seconds),
                      [figures.failed.get(channel, 0) for channel in report.channels])
                     for week, figures in report.weeks],
            "overall_median": response.minutes(report.overall.median_seconds),
            "overall_p90": response.minutes(report.overall.p90_seconds),
            "overall_failed": [report.overall.failed.get(c, 0) for c in report.channels],
            "alerts_chart": response.alerts_chart(report),
            "acknowledge_chart": response.acknowledge_chart(report),
            "failures_chart": response.failures_chart(report),
        })


def _choice(raw, allowed, default):
    """``raw`` as a whole number, if it is one (and one of ``allowed``, when given)."""
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return default
    return value if allowed is None or value in allowed else default


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _response_csv(report) -> HttpResponse:
    out = HttpResponse(content_type="text/csv; charset=utf-8")
    out["Content-Disposition"] = (
        f'attachment; filename="alert-response-{report.first_week:%Y-%m-%d}.csv"')
    writer = csv.writer(out)
    writer.writerow(["week", *response.URGENCIES, "alerts", "acknowledged", "not acknowledged",
                     "median seconds to acknowledge", "90th percentile seconds to acknowledge",
                     "escalated", *(f"failed {channel} deliveries" for channel in
                                    report.channels)])
    for week, figures in [*report.weeks, ("all weeks", report.overall)]:
        writer.writerow([week if isinstance(week, str) else week.isoformat(),
                         *(figures.alerts.get(u, 0) for u in response.URGENCIES),
                         figures.total, figures.acknowledged, figures.unacknowledged,
                         _seconds(figures.median_seconds), _seconds(figures.p90_seconds),
                         figures.escalated,
                         *(figures.failed.get(channel, 0) for channel in report.channels)])
    return out


NEW_CALENDAR_ADDRESS_KEY = "duty_calendar_new_address"


class AppointmentDayView(LoginRequiredMixin, View):
    """A clinic's appointments on one day, for reception and clinicians: who has not filled in
    the form yet, and the urgency of those who have (``?clinic=<slug>&date=YYYY-MM-DD``; by
    default the first clinic the user manages, today)."""

    template_name = "clinic/appointments.html"

    def get(self, request):
        clinics = list(appointment_service.managed_clinics(request.user))
        if not clinics:
            raise PermissionDenied("You manage no clinic's appointments.")
        slug = request.GET.get("clinic") or clinics[0].slug
        chosen = next((c for c in clinics if c.slug == slug), clinics[0])
        date = request.GET.get("date") or local_time(chosen, timezone.now()).date().isoformat()
        try:
            clinic, day, rows = appointment_service.day(request.user, slug, date)
        except appointment_service.AppointmentInvalid as invalid:
            return render(request, self.template_name, {
                "clinics": clinics, "clinic": chosen, "errors": invalid.messages}, status=400)
        return render(request, self.template_name, {
            "clinics": clinics, "clinic": clinic, "day": day, "rows": rows,
            "previous_day": day - datetime.timedelta(days=1),
            "next_day": day + datetime.timedelta(days=1),
            "not_done": sum(row.intake is None for row in rows
                            if row.appointment.status == "booked"),
            "is_clinician": is_clinician(request.user),
        })


class DutyCalendarView(ClinicianRequiredMixin, View):
    """A clinician's own duty calendar: their coming shifts, and the private address of the
    iCalendar feed a calendar app subscribes to (shown once, when made; POST ``make`` makes a
    new one, ``revoke`` turns it off)."""

    template_name = "clinic/duty_calendar.html"

    def get(self, request):
        clinician = getattr(request.user, "clinician", None)
        token = request.session.pop(NEW_CALENDAR_ADDRESS_KEY, None)
        feed_url = (settings.SITE_URL.rstrip("/") + reverse("duty-calendar-feed", args=[token])
                    if token and clinician else None)
        now = timezone.now()
        return render(request, self.template_name, {
            "clinician": clinician, "feed_url": feed_url,
            "webcal_url": feed_url.replace("https://", "webcal://", 1).replace(
                "http://", "webcal://", 1) if feed_url else None,
            "link": DutyCalendarLink.objects.filter(clinician=clinician).first()
            if clinician else None,
            "shifts": calendar_feed.shifts_of(clinician, now, now + datetime.timedelta(
                weeks=2)) if clinician else [],
            "weeks_ahead": calendar_feed.WEEKS_AHEAD,
        })

    def post(self, request):
        clinician = getattr(request.user, "clinician", None)
        if clinician is None:
            raise Http404("You have no clinician record.")
        if request.POST.get("action") == "make":
            request.session[NEW_CALENDAR_ADDRESS_KEY] = calendar_feed.make_link(
                clinician, by=request.user)
        elif request.POST.get("action") == "revoke":
            calendar_feed.revoke_link(clinician, by=request.user)
            messages.success(request, "Your calendar address is turned off: calendar apps "
                                      "subscribed to it no longer get your shifts.")
        return redirect("duty-calendar")


class DutyCalendarFeedView(View):
    """The iCalendar feed itself (``text/calendar``): no sign-in, since calendar apps cannot;
    the unguessable token in the address is the key.  An unknown or revoked token is a 404."""

    def get(self, request, token):
        clinician = calendar_feed.clinician_for_token(token)
        if clinician is None:
            raise Http404("No such calendar.")
        feed = HttpResponse(calendar_feed.duty_calendar(clinician),
                            content_type="text/calendar; charset=utf-8")
        feed["Content-Disposition"] = 'inline; filename="duty-rota.ics"'
        return feed


class AlertLinkView(ClinicianRequiredMixin, View):
    """The acknowledgement link in a page (``/alerts/<token>/``), after the usual sign-in.
    GET only shows what the link can do, with one button (POST) that acknowledges: mail
    scanners and link previews fetch links, and must not acknowledge anything.  A link that is
    not valid, used, expired or for another clinic gets a page saying so (and, when the user
    may see it, a link to the case), never an error page."""

    template_name = "clinic/alert_link.html"
    STATUS = {"unknown": 404, "not_allowed": 403, "used": 410, "expired": 410}

    def get(self, request, token):
        return self._page(request, cases.link_state(request.user, token))

    def post(self, request, token):
        try:
            reference, newly = cases.acknowledge_by_link(request.user, token)
        except (NotFound, Forbidden, Conflict):
            return self._page(request, cases.link_state(request.user, token))
        if newly:
            messages.success(request, "Alert acknowledged: escalation has stopped. Call the "
                                      "patient, then record the call's outcome here.")
        else:
            messages.success(request, "This alert had already been acknowledged.")
        return redirect("case-detail", reference=reference)

    def _page(self, request, state):
        return render(request, self.template_name, {
            "state": state, "alert": state.link.alert if state.link else None,
            "max_age_hours": round(settings.ALERT_LINK_MAX_AGE_MINUTES / 60, 1),
        }, status=self.STATUS.get(state.kind, 200))
