"""Clinicians' pages: the live queue and a case.  Each view calls one function of
``clinic.review.cases``, which scopes what the user may see and audits every look at a case.

The queue's filters are kept in the session, not the URL, so a patient's name typed into the
search box never lands in a URL, a browser history or an access log.
"""

import csv

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from rest_framework.exceptions import ValidationError

from clinic.review import cases, performance
from clinic.review.api import queue_filters
from core.permissions import ClinicianRequiredMixin
from intake.models import Submission

FILTERS_SESSION_KEY = "queue_filters"
FILTER_FIELDS = ("urgency", "status", "since", "until", "search")
QUEUE_LIMIT = 200


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


class QueueView(ClinicianRequiredMixin, View):
    template_name = "clinic/queue.html"

    def get(self, request):
        filters, raw, errors = _filters(request)
        rows = list(cases.queue(request.user, filters)[:QUEUE_LIMIT])
        return render(request, self.template_name, {
            "rows": rows, "filters": raw, "errors": errors, "limit": QUEUE_LIMIT,
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


class QueueRowsView(ClinicianRequiredMixin, View):
    """The queue's rows alone, polled by static/js/queue.js to update the page in place."""

    def get(self, request):
        filters, _, _ = _filters(request)
        rows = list(cases.queue(request.user, filters)[:QUEUE_LIMIT])
        response = render(request, "clinic/_queue_rows.html", {"rows": rows})
        # Every open emergency, whatever the filters: the page announces new ones even when a
        # filter hides them.  References only (no patient data), so a header is fine.
        response["X-Open-Emergencies"] = " ".join(cases.open_emergencies(request.user))
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
    answers = {answer.question_code: answer for answer in submission.answers.all()}
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
