"""The patient's pages: the intake form and the advice shown after submitting.

No patient data goes into a URL: after a successful POST the reference is kept in the session
and the browser is redirected to /advice/.
"""

import re
import secrets

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views import View

from clinic.hours import local_time
from clinic.models import Clinic
from core.throttling import SubmissionThrottle, wait_seconds
from intake import forms
from intake.advice import advice_for
from intake.models import Invitation, Submission
from intake.selectors import VersionSchema, current_version
from intake.services import invitations
from intake.services.submissions import IdempotencyKeyReused, SubmissionInvalid, submit_intake
from screening.models import Category

SESSION_KEY = "intake_submission"
INVITATION_KEY = "intake_invitation"  # the invitation whose date of birth the patient gave
# The form's one-time token, as the form makes it (secrets.token_urlsafe); anything else (a NUL
# byte, say, which the database refuses in text) is replaced by a fresh one.
_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class IntakeFormView(View):
    """The form, for the default clinic (``/``), one clinic (``/c/<slug>/``), or the
    appointment whose invitation the patient opened and proved (``/invitation/``, from the
    session: the link's token is never in this page's URL)."""

    template_name = "intake/form.html"
    clinic: Clinic | None = None
    invitation: Invitation | None = None

    def dispatch(self, request, *args, slug=None, from_invitation=False, **kwargs):
        if from_invitation:
            self.invitation = (Invitation.objects.select_related("appointment__clinic")
                               .filter(pk=request.session.get(INVITATION_KEY)).first())
            if self.invitation is None:
                return render(request, "intake/invitation_unusable.html", {
                    "reason": "Open the link in the message we sent you again: this page only "
                              "works after that."}, status=403)
            try:
                invitations.check_usable(self.invitation)
            except invitations.InvitationUnusable as unusable:
                return _unusable(request, unusable)
            self.clinic = self.invitation.appointment.clinic
        elif slug is not None:
            self.clinic = get_object_or_404(Clinic.objects.prefetch_related("opening_hours"),
                                            slug=slug)
        else:
            self.clinic = _clinic()
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        version = current_version()
        if version is None:
            return render(request, "intake/unavailable.html", {"clinic": self.clinic},
                          status=503)
        return self._render(request, version, token=secrets.token_urlsafe(16),
                            patient=self._known_patient())

    def post(self, request: HttpRequest) -> HttpResponse:
        # Counted with POST /api/submissions/ and the FHIR POST: one limit per address.
        wait = wait_seconds(request, SubmissionThrottle())
        if wait is not None:
            response = render(request, "intake/throttled.html",
                              {"clinic": self.clinic, "minutes": max(1, round(wait / 60))},
                              status=429)
            response["Retry-After"] = str(wait)
            return response
        version = current_version()
        if version is None:
            return render(request, "intake/unavailable.html", {"clinic": self.clinic},
                          status=503)
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
            "clinic": self.clinic,
            "invitation": self.invitation,
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
        request.session.pop(INVITATION_KEY, None)
        return redirect("intake:advice", permanent=False)

    def _known_patient(self) -> dict:
        """What the clinic knows of the patient, to fill in for them."""
        if self.invitation is None:
            return {}
        appointment = self.invitation.appointment
        return {"full_name": appointment.full_name, "phone": appointment.phone,
                "email": appointment.email,
                "date_of_birth": (appointment.date_of_birth.isoformat()
                                  if appointment.date_of_birth else "")}

    def _render(self, request, version, *, token, errors=None, values=None, patient=None):
        errors = errors or {}
        appointment = self.invitation.appointment if self.invitation else None
        context = {
            "clinic": self.clinic,
            "appointment": appointment,
            # The clinic's wall-clock time, naive so that templates show it as it is rather
            # than in the site's time zone.
            "appointment_time": (local_time(self.clinic, appointment.starts_at)
                                 .replace(tzinfo=None) if appointment else None),
            "form_action": request.path,
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


class InvitationView(View):
    """The invitation link: the patient proves who they are with their date of birth (three
    fields, as GOV.UK asks for a date) before anything about the appointment is shown; then the
    session holds the invitation and the form opens at ``/invitation/``."""

    template_name = "intake/invitation_check.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            invitations.find(token)
        except invitations.InvitationUnusable as unusable:
            return _unusable(request, unusable)
        return render(request, self.template_name, {"values": {}})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            invitation = invitations.find(token)
        except invitations.InvitationUnusable as unusable:
            return _unusable(request, unusable)
        values = {part: request.POST.get(f"dob_{part}", "").strip()
                  for part in ("day", "month", "year")}
        try:
            born = forms.date_from_parts(**values, what="Your date of birth")
        except forms.DateInvalid as invalid:
            # 200, as the form's own errors are: the page is the answer, asking again.
            return render(request, self.template_name,
                          {"values": values, "error": str(invalid), "error_field": invalid.part})
        check = invitations.check_date_of_birth(invitation, born)
        if not check.passed:
            if check.tries_left == 0:
                return _unusable(request, invitations.InvitationUnusable(
                    "This link has been locked after too many wrong dates of birth. Contact "
                    "the clinic to unlock it.", invitation))
            tries = "1 more try" if check.tries_left == 1 else f"{check.tries_left} more tries"
            return render(request, self.template_name, {
                "values": values, "error_field": "day",
                "error": f"That date of birth does not match the one the clinic has for this "
                         f"appointment. Check it and try again: you have {tries}."})
        request.session.cycle_key()
        request.session[INVITATION_KEY] = invitation.pk
        return redirect("intake:invitation-form")


def _unusable(request, unusable: invitations.InvitationUnusable) -> HttpResponse:
    clinic = unusable.invitation.appointment.clinic if unusable.invitation else None
    return render(request, "intake/invitation_unusable.html",
                  {"reason": unusable.reason, "clinic": clinic},
                  status=404 if unusable.invitation is None else 410)


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
