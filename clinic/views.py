"""Clinicians' pages: a case and its alert.  Every view of a case is audited."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from clinic import alerts, audit
from clinic.models import AuditEvent
from clinic.permissions import ClinicianRequiredMixin
from intake.models import Submission
from intake.references import normalise_reference


def _case(reference: str) -> Submission:
    canonical = normalise_reference(reference)
    submission = (
        Submission.objects.select_related("clinic", "questionnaire_version", "alert")
        .filter(reference=canonical).first() if canonical else None
    )
    if submission is None:
        raise Http404("No case with that reference.")
    return submission


class CaseView(ClinicianRequiredMixin, View):
    template_name = "clinic/case.html"

    def get(self, request, reference):
        submission = _case(reference)
        audit.record(request.user, AuditEvent.Action.VIEW_CASE, submission=submission)
        alert = getattr(submission, "alert", None)
        return render(request, self.template_name, {
            "submission": submission,
            "alert": alert,
            "flags": submission.flags.all(),
            "answers": submission.answers.all(),
            "notifications": alert.notifications.select_related("clinician")
            .prefetch_related("attempts") if alert else [],
        })


class AcknowledgeView(ClinicianRequiredMixin, View):
    def post(self, request, reference):
        submission = _case(reference)
        alert = getattr(submission, "alert", None)
        if alert is None:
            messages.info(request, "This case has no alert to acknowledge.")
        elif alerts.acknowledge(alert, by=request.user):
            audit.record(request.user, AuditEvent.Action.ACKNOWLEDGE, submission=submission)
            messages.success(request, "Alert acknowledged: escalation has stopped.")
        else:
            messages.info(request, "This alert had already been acknowledged.")
        return redirect("case-detail", reference=submission.reference)
