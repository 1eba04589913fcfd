"""The patient's pages: the form a page at a time, "check your answers", the invitation
link's date-of-birth check, and the advice with what happens next and a copy of the answers.

No patient data goes into a URL: the draft's key and, after sending, the reference are kept in
the session, and the browser is redirected to /advice/.
"""

import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from clinic.hours import local_time
from clinic.models import Clinic
from core.throttling import SubmissionThrottle, wait_seconds
from intake import copies, forms
from intake.advice import advice_for, next_steps
from intake.models import FormDraft, Invitation, Submission
from intake.selectors import current_version
from intake.services import drafts, invitations, translations
from intake.services.submissions import IdempotencyKeyReused, SubmissionInvalid, submit_intake
from screening.models import Category

logger = logging.getLogger(__name__)

SESSION_KEY = "intake_submission"
DRAFTS_KEY = "intake_drafts"  # {clinic slug: the key of this session's draft there}
LANGUAGE_KEY = "intake_language"  # the language the patient chose for the form
INVITATION_KEY = "intake_invitation"  # the invitation whose date of birth the patient gave


class Flow:
    """Where a form is being filled in: the default clinic (``/``), one clinic
    (``/c/<slug>/``) or an invitation (``/invitation/``, from the session after the date of
    birth was given).  Each has its pages at ``step/<n>/`` and its check page at ``check/``."""

    def __init__(self, *, clinic: Clinic, slug: str | None = None,
                 invitation: Invitation | None = None):
        self.clinic = clinic
        self.slug = slug
        self.invitation = invitation

    def _prefix(self) -> str:
        if self.invitation is not None:
            return "intake:invitation-"
        return "intake:clinic-" if self.slug else "intake:"

    def _args(self) -> list:
        return [self.slug] if self.slug and self.invitation is None else []

    def page_url(self, number: int) -> str:
        if number == 1:
            return reverse(self._prefix() + "form", args=self._args())
        return reverse(self._prefix() + "step", args=[*self._args(), number])

    def check_url(self) -> str:
        return reverse(self._prefix() + "check", args=self._args())


class FormFlowMixin:
    """Finds the flow, the current version and the patient's draft for every page of the
    form; a page that cannot be shown answers at once."""

    def dispatch(self, request, *args, slug=None, from_invitation=False, **kwargs):
        if from_invitation:
            invitation = (Invitation.objects.select_related("appointment__clinic")
                          .filter(pk=request.session.get(INVITATION_KEY)).first())
            if invitation is None:
                return render(request, "intake/invitation_unusable.html", {
                    "reason": "Open the link in the message we sent you again: this page only "
                              "works after that."}, status=403)
            try:
                invitations.check_usable(invitation)
            except invitations.InvitationUnusable as unusable:
                return _unusable(request, unusable)
            self.flow = Flow(clinic=invitation.appointment.clinic, invitation=invitation)
        elif slug is not None:
            self.flow = Flow(clinic=get_object_or_404(
                Clinic.objects.prefetch_related("opening_hours"), slug=slug), slug=slug)
        else:
            self.flow = Flow(clinic=_clinic())
        self.version = current_version()
        if self.version is None or self.flow.clinic is None:
            return render(request, "intake/unavailable.html", {"clinic": self.flow.clinic},
                          status=503)
        self.pages = drafts.pages_of(self.version)
        self.draft = self._find_draft(request)
        self.language = translations.language_offered(self.version,
                                                      request.session.get(LANGUAGE_KEY))
        self.texts = translations.texts_for(self.version, self.language)
        with translation.override(self.language):
            return super().dispatch(request, *args, **kwargs)

    def _find_draft(self, request) -> FormDraft | None:
        if self.flow.invitation is not None:
            return drafts.of_invitation(self.flow.invitation, version=self.version)
        return drafts.find(request.session.get(DRAFTS_KEY, {}).get(self.flow.clinic.slug),
                           clinic=self.flow.clinic, version=self.version)

    def _new_draft(self, request) -> FormDraft:
        draft, key = drafts.start(clinic=self.flow.clinic, version=self.version)
        keys = request.session.get(DRAFTS_KEY, {})
        keys[self.flow.clinic.slug] = key
        request.session[DRAFTS_KEY] = keys
        return draft

    def _forget_draft(self, request) -> None:
        keys = request.session.get(DRAFTS_KEY, {})
        keys.pop(self.flow.clinic.slug, None)
        request.session[DRAFTS_KEY] = keys
        request.session.pop(INVITATION_KEY, None)

    def _context(self, **extra) -> dict:
        appointment = self.flow.invitation.appointment if self.flow.invitation else None
        return {
            "clinic": self.flow.clinic, "version": self.version, "appointment": appointment,
            # The clinic's wall-clock time, naive so that templates show it as it is rather
            # than in the site's time zone.
            "appointment_time": (local_time(self.flow.clinic, appointment.starts_at)
                                 .replace(tzinfo=None) if appointment else None),
            "steps": len(self.pages), **_language_context(self.language, self.texts),
            "languages": translations.offered_languages(self.version), **extra,
        }


class FormPageView(FormFlowMixin, View):
    """One page of the form: "About you" (step 1, at the flow's own address) or a section.
    What is entered is kept when Continue is pressed, whatever its problems; Continue goes on
    only when the page has none.  A page further on than the first one not done yet sends the
    patient to that one."""

    template_name = "intake/form_page.html"

    def get(self, request: HttpRequest, step: int = 1) -> HttpResponse:
        page = self._page(step)
        if page is None:
            return redirect(self.flow.page_url(1))
        done = self.draft.pages_done if self.draft else 0
        if page.number > done + 1:
            return redirect(self.flow.page_url(done + 1))
        return self._render(request, page, changing=request.GET.get("change") == "1")

    def post(self, request: HttpRequest, step: int = 1) -> HttpResponse:
        page = self._page(step)
        if page is None:
            return redirect(self.flow.page_url(1))
        if self.draft is None:
            self.draft = self._new_draft(request)
        elif page.number > self.draft.pages_done + 1:
            return redirect(self.flow.page_url(self.draft.pages_done + 1))
        problems = drafts.save_page(self.draft, page, request.POST)
        changing = request.POST.get("change") == "1"
        if problems:
            return self._render(request, page, problems=problems.errors, changing=changing)
        if changing or self.draft.pages_done >= len(self.pages):
            return redirect(self.flow.check_url())
        return redirect(self.flow.page_url(page.number + 1))

    def _page(self, step: int) -> drafts.Page | None:
        return self.pages[step - 1] if 1 <= step <= len(self.pages) else None

    def _render(self, request, page, *, problems=None, changing=False):
        problems = problems or {}
        draft = self.draft
        return render(request, self.template_name, self._context(
            page=page, changing=changing,
            back_url=self.flow.page_url(page.number - 1) if page.number > 1 else None,
            patient=draft.patient if draft else drafts.known_patient(self.flow.invitation),
            values=draft.answers if draft else {},
            errors=problems if not page.is_about_you else {},
            patient_errors=problems if page.is_about_you else {},
            error_summary=_error_summary(page, problems),
            sections=[page.section] if page.section else [],
            updated=bool(draft and draft.pages_done == 0 and draft.answers),
        ))


class CheckAnswersView(FormFlowMixin, View):
    """"Check your answers", with a change link to each answer's page, and the button that
    sends the form."""

    template_name = "intake/check_answers.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.draft is None:
            return self._after_sending(request)
        if self.draft.pages_done < len(self.pages):
            return redirect(self.flow.page_url(self.draft.pages_done + 1))
        return self._render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        # Counted with POST /api/submissions/ and the FHIR POST: one limit per address.
        wait = wait_seconds(request, SubmissionThrottle())
        if wait is not None:
            response = render(request, "intake/throttled.html",
                              {"clinic": self.flow.clinic, "minutes": max(1, round(wait / 60))},
                              status=429)
            response["Retry-After"] = str(wait)
            return response
        if self.draft is None:
            return self._after_sending(request)
        unfinished = drafts.first_page_with_problems(self.draft, self.pages, timezone.now())
        if unfinished is not None or self.draft.pages_done < len(self.pages):
            number = unfinished.number if unfinished else self.draft.pages_done + 1
            return redirect(self.flow.page_url(number))
        submission_input = {
            "patient": drafts.patient_details(self.draft.patient),
            "answers": drafts.submitted_answers(self.draft),
            "version_number": self.version.number, "clinic": self.flow.clinic,
            "invitation": self.flow.invitation, "language": self.language,
        }
        try:
            try:
                # The draft's key makes a double-click or a resent POST one submission.
                outcome = submit_intake(**submission_input,
                                        idempotency_key=f"form:{self.draft.key_hash[:48]}")
            except IdempotencyKeyReused:
                # Sent, then changed and sent again (from another tab): a new intake.
                outcome = submit_intake(**submission_input)
        except SubmissionInvalid as invalid:
            return self._render(request, problems=invalid.messages)
        drafts.discard(self.draft)
        self._forget_draft(request)
        request.session[SESSION_KEY] = outcome.reference
        return redirect("intake:advice", permanent=False)

    def _after_sending(self, request):
        """No draft: the form was just sent (a second click, or Back then Send again), or
        there is nothing to check yet."""
        if request.session.get(SESSION_KEY):
            return redirect("intake:advice", permanent=False)
        return redirect(self.flow.page_url(1))

    def _render(self, request, problems=None):
        return render(request, self.template_name, self._context(
            checked=drafts.answers_to_check(self.draft, self.pages, self.texts),
            page_urls={page.number: self.flow.page_url(page.number) for page in self.pages},
            back_url=self.flow.page_url(len(self.pages)), problems=problems or []))


class LanguageView(View):
    """The patient's choice of language for the form (POST ``language``, and ``next``, the
    page to go back to): kept in their session; only a language offered for the current
    version (English, or a signed-off translation) is taken."""

    def post(self, request: HttpRequest) -> HttpResponse:
        version = current_version()
        if version is not None:
            request.session[LANGUAGE_KEY] = translations.language_offered(
                version, request.POST.get("language"))
        back = request.POST.get("next", "/")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            back = "/"
        return redirect(back)


def _language_context(language: str, texts: dict) -> dict:
    return {"texts": texts, "language": language,
            "page_language": "en-GB" if language == translations.ENGLISH else language,
            "text_direction": "rtl" if translations.is_right_to_left(language) else "ltr"}


class AdviceView(View):
    """What to do now, what happens next, the reference, and the patient's copy of their
    answers (to print, or a link by email)."""

    template_name = "intake/advice.html"

    def dispatch(self, request, *args, **kwargs):
        # In the language the patient filled the form in.
        sent = _just_sent(request)
        with translation.override(sent.language if sent else translations.ENGLISH):
            return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        submission = _just_sent(request)
        if submission is None:
            return redirect("intake:form")
        return render(request, self.template_name, _advice_context(request, submission))

    def post(self, request: HttpRequest) -> HttpResponse:
        """Email a link to a copy of the answers, to the address given."""
        submission = _just_sent(request)
        if submission is None:
            return redirect("intake:form")
        address = request.POST.get("email", "").strip()
        try:
            validate_email(address)
        except ValidationError:
            context = _advice_context(request, submission)
            context["email_error"] = "Enter an email address in the correct format, like " \
                                     "name@example.com"
            context["email_value"] = address[:254]
            return render(request, self.template_name, context)
        try:
            copies.email_link(submission, address)
        except Exception as error:  # the mail server is down: say so, keep the page
            logger.warning("copy of answers not emailed (%s)", type(error).__name__)
            messages.error(request, "We could not send the email just now. Print or save "
                                    "this page's copy instead, or try again later.")
        else:
            messages.success(request, f"We have sent a link to your answers to {address}.")
        return redirect("intake:advice")


class AnswersCopyView(View):
    """The answers just sent, to print or save, from the same browser."""

    def get(self, request: HttpRequest) -> HttpResponse:
        submission = _just_sent(request)
        if submission is None:
            return redirect("intake:form")
        return _copy_page(request, submission)


class EmailedCopyView(View):
    """The link in the copy email: the date of birth first, then the answers."""

    template_name = "intake/invitation_check.html"

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            copies.submission_for(token)
        except copies.CopyUnavailable as unavailable:
            return render(request, "intake/invitation_unusable.html",
                          {"reason": str(unavailable)}, status=410)
        return render(request, self.template_name, {"values": {}, "copy": True})

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        try:
            submission = copies.submission_for(token)
        except copies.CopyUnavailable as unavailable:
            return render(request, "intake/invitation_unusable.html",
                          {"reason": str(unavailable)}, status=410)
        values = {part: request.POST.get(f"dob_{part}", "").strip()
                  for part in ("day", "month", "year")}
        try:
            born = forms.date_from_parts(**values)
        except forms.DateInvalid as invalid:
            return render(request, self.template_name, {
                "values": values, "error": str(invalid), "error_field": invalid.part,
                "copy": True})
        if not copies.date_of_birth_matches(token, submission, born):
            return render(request, self.template_name, {
                "values": values, "error_field": "day", "copy": True,
                "error": "That date of birth does not match the one you gave with your "
                         "answers. Check it and try again."})
        return _copy_page(request, submission)


def _copy_page(request, submission):
    """The answers, in the language the patient filled the form in."""
    with translation.override(submission.language):
        return render(request, "intake/answers_copy.html", {
            "clinic": submission.clinic, "submission": submission,
            "answers": copies.answers_in_words(submission),
            "submitted_at": local_time(submission.clinic, submission.submitted_at).replace(
                tzinfo=None),
            **_language_context(submission.language, {}),
        })


def _just_sent(request) -> Submission | None:
    reference = request.session.get(SESSION_KEY)
    if not reference:
        return None
    return (Submission.objects.select_related("clinic", "appointment")
            .prefetch_related("clinic__opening_hours").filter(reference=reference).first())


def _advice_context(request, submission: Submission) -> dict:
    """In the language the patient filled the form in (active while this runs)."""
    now = timezone.now()
    advice = advice_for(
        submission.urgency, submission.clinic, now,
        possible_cardiac=submission.flags.filter(category=Category.POSSIBLE_CARDIAC).exists(),
    )
    appointment = submission.appointment
    return {
        "clinic": submission.clinic, "advice": advice, "reference": submission.reference,
        "next": next_steps(submission.urgency, submission.clinic, now,
                           appointment_at=appointment.starts_at if appointment else None),
        "email_value": submission.email,
        **_language_context(submission.language, {}),
    }


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
            born = forms.date_from_parts(**values)
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
    "full_name": ("Full name", "patient_full_name"),
    "date_of_birth": ("Date of birth", "dob_day"),
    "phone": ("Phone number", "patient_phone"),
    "email": ("Email address", "patient_email"),
}


def _error_summary(page: drafts.Page, problems: dict) -> list[dict]:
    """This page's problems, in the page's order, each linking to its field."""
    if not problems:
        return []
    if page.is_about_you:
        return [{"href": f"#{field_id}", "message": problems[name][0]}
                for name, (_, field_id) in PATIENT_LABELS.items() if name in problems]
    return [{"href": f"#question-{question.code}", "message": problems[question.code][0]}
            for question in page.section.questions.all() if question.code in problems]
