"""The patient's pages: the intake form and the advice shown after submitting.

No patient data goes into a URL: after a successful POST the reference is kept in the session
and the browser is redirected to /advice/.
"""

import re
import secrets

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from clinic.models import Clinic
from core.throttling import SubmissionThrottle, wait_seconds
from intake import forms
from intake.advice import advice_for
from intake.models import Submission
from intake.selectors import VersionSchema, current_version
from intake.services.submissions import IdempotencyKeyReused, SubmissionInvalid, submit_intake
from screening.models import Category

SESSION_KEY = "intake_submission"
# The form's one-time token, as the form makes it (secrets.token_urlsafe); anything else (a NUL
# byte, say, which the database refuses in text) is replaced by a fresh one.
_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class IntakeFormView(View):
    template_name = "intake/form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        version = current_version()
        if version is None:
            return render(request, "intake/unavailable.html", {"clinic": _clinic()}, status=503)
        return self._render(request, version, token=secrets.token_urlsafe(16))

    def post(self, request: HttpRequest) -> HttpResponse:
        # Counted with POST /api/submissions/ and the FHIR POST: one limit per address.
        wait = wait_seconds(request, SubmissionThrottle())
        if wait is not None:
            response = render(request, "intake/throttled.html",
                              {"clinic": _clinic(), "minutes": max(1, round(wait / 60))},
                              status=429)
            response["Retry-After"] = str(wait)
            return response
        version = current_version()
        if version is None:
            return render(request, "intake/unavailable.html", {"clinic": _clinic()}, status=503)
        schema = VersionSchema.of(version)
        token = request.POST.get("form_token", "")
        if not _FORM_TOKEN.fullmatch(token):
            token = secrets.token_urlsafe(16)
        if request.POST.get("version") != str(version.number):
            # The questionnaire was updated while the patient was filling it in: show the
            # current one with their answers kept, rather than refuse what they sent.
            return self._render(
                request, version, token=token,
                errors={"version": ["We have updated this form since you opened it. Your "
                                    "answers are kept: please check them and send the form "
                                    "again."]},
                values=forms.form_values(schema, request.POST),
                patient=forms.patient_from_form(request.POST))
        submission_input = {
            "patient": forms.patient_from_form(request.POST),
            "answers": forms.answers_from_form(schema, request.POST),
            "version_number": version.number,
        }
        try:
            try:
                # The form's one-time token makes a double-click or a resent POST one
                # submission.
                outcome = submit_intake(**submission_input, idempotency_key=f"form:{token}")
            except IdempotencyKeyReused:
                # The same form was sent again with different answers (e.g. after going back):
                # that is a new intake, and it must be screened (and may be invalid).
                outcome = submit_intake(**submission_input)
        except SubmissionInvalid as invalid:
            return self._render(request, version, token=token, errors=invalid.errors,
                                values=forms.form_values(schema, request.POST),
                                patient=forms.patient_from_form(request.POST))
        request.session[SESSION_KEY] = outcome.reference
        return redirect("intake:advice", permanent=False)

    def _render(self, request, version, *, token, errors=None, values=None, patient=None):
        errors = errors or {}
        context = {
            "clinic": _clinic(),
            "version": version,
            "token": token,
            "values": values or {},
            "patient": patient or {},
            "errors": errors.get("answers", {}),
            "patient_errors": errors.get("patient", {}),
            "error_summary": _error_summary(version, errors),
        }
        return render(request, self.template_name, context)


class AdviceView(View):
    template_name = "intake/advice.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        reference = request.session.get(SESSION_KEY)
        submission = (
            Submission.objects.select_related("clinic").filter(reference=reference).first()
            if reference else None
        )
        if submission is None:
            return redirect("intake:form")
        advice = advice_for(
            submission.urgency, submission.clinic, timezone.now(),
            possible_cardiac=submission.flags.filter(category=Category.POSSIBLE_CARDIAC).exists(),
        )
        return render(request, self.template_name, {
            "clinic": submission.clinic, "advice": advice, "reference": submission.reference,
        })


def _clinic() -> Clinic | None:
    return Clinic.objects.filter(is_default=True).prefetch_related("opening_hours").first()


PATIENT_LABELS = {
    "full_name": "Full name", "date_of_birth": "Date of birth", "phone": "Phone number",
    "email": "Email address",
}


def _error_summary(version, errors: dict) -> list[dict]:
    """The errors in page order, each with the id of the field it belongs to."""
    summary = []
    for field, messages in errors.get("patient", {}).items():
        summary.append({"href": f"#patient_{field}", "label": PATIENT_LABELS.get(field, field),
                        "message": messages[0]})
    answer_errors = errors.get("answers", {})
    if answer_errors:
        for question in VersionSchema.of(version).questions.values():
            if question.code in answer_errors:
                summary.append({"href": f"#question-{question.code}", "label": question.text,
                                "message": answer_errors[question.code][0]})
    for field in ("version", "non_field_errors"):
        for message in errors.get(field, []):
            summary.append({"href": "#main", "label": "", "message": message})
    return summary
