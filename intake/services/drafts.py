"""The patient's form, a page at a time, saved as they go (``FormDraft``).

The form is pages: "About you" (name, date of birth in three boxes, phone, email), then one page
per section of the questionnaire, then "Check your answers", then it is sent with
``submit_intake`` like any intake.  Each page's answers are saved on the draft when the patient
presses Continue, valid or not, so Back, a closed tab or a lost connection loses nothing; each
page is checked on its own (only its own problems are shown, in words written for the patient
by the question's type), and everything again before sending.

A draft is found by a random key kept in the patient's session (only its hash is stored), or,
for an invitation, by the invitation itself: opening the link on another device and giving the
date of birth resumes it there.  A walk-in's draft lasts ``FORM_DRAFT_HOURS`` after its last
change; an invitation's until the appointment starts.  The version it was started on is kept;
if another is published meanwhile, the answers move to it by question code.
"""

import datetime
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from clinic.hours import local_time
from clinic.models import Clinic
from intake.forms import DateInvalid, answers_from_form, date_from_parts
from intake.models import FormDraft, Invitation, Question, QuestionnaireVersion, Section
from intake.question_types import type_of
from intake.selectors import VersionSchema
from intake.services.answers import AnswersInvalid, clean_answers
from intake.services.patients import PatientInvalid, clean_patient

ABOUT_FIELDS = ("full_name", "dob_day", "dob_month", "dob_year", "phone", "email")


@dataclass(frozen=True)
class Page:
    number: int  # from 1
    title: str
    section: Section | None = None  # None: "About you"

    @property
    def is_about_you(self) -> bool:
        return self.section is None


def pages_of(version: QuestionnaireVersion) -> list[Page]:
    """The form's pages for ``version`` (its sections and questions prefetched)."""
    return [Page(1, "About you"), *(Page(number, section.title, section) for number, section
                                    in enumerate(version.sections.all(), start=2))]


# --- Finding and starting a draft ---------------------------------------------------------------


def start(*, clinic: Clinic, version: QuestionnaireVersion, invitation: Invitation | None = None,
          now: datetime.datetime | None = None) -> tuple[FormDraft, str]:
    """A new draft and its key (for the session), with what the clinic knows filled in."""
    now = now or timezone.now()
    key = secrets.token_urlsafe(32)
    draft = FormDraft.objects.create(
        key_hash=_hash(key), clinic=clinic, version=version, invitation=invitation,
        patient=known_patient(invitation), created_at=now, updated_at=now,
        expires_at=_expiry(invitation, now))
    return draft, key


def find(key: Any, *, clinic: Clinic, version: QuestionnaireVersion,
         now: datetime.datetime | None = None) -> FormDraft | None:
    """The walk-in draft this session's key opens for this clinic, if it has not expired."""
    if not isinstance(key, str) or not key:
        return None
    draft = (FormDraft.objects.filter(key_hash=_hash(key), clinic=clinic,
                                      invitation__isnull=True,
                                      expires_at__gt=now or timezone.now()).first())
    return _on_version(draft, version) if draft else None


def of_invitation(invitation: Invitation, *, version: QuestionnaireVersion,
                  now: datetime.datetime | None = None) -> FormDraft:
    """The invitation's draft, from any device (the caller has checked the date of birth)."""
    draft = FormDraft.objects.filter(invitation=invitation).first()
    if draft is None:
        draft, _ = start(clinic=invitation.appointment.clinic, version=version,
                         invitation=invitation, now=now)
    return _on_version(draft, version)


def discard(draft: FormDraft) -> None:
    FormDraft.objects.filter(pk=draft.pk).delete()


def delete_expired(*, now: datetime.datetime | None = None) -> int:
    deleted, _ = FormDraft.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _on_version(draft: FormDraft, version: QuestionnaireVersion) -> FormDraft:
    """Move a draft started on an older version to ``version``: answers by question code
    (those it no longer asks are dropped), and back to the first page to check them."""
    if draft.version_id != version.pk:
        codes = set(VersionSchema.of(version).questions)
        draft.answers = {code: value for code, value in draft.answers.items() if code in codes}
        draft.version = version
        draft.pages_done = 0
        draft.save(update_fields=["answers", "version", "pages_done"])
    return draft


def known_patient(invitation: Invitation | None) -> dict:
    if invitation is None:
        return {}
    appointment = invitation.appointment
    born = appointment.date_of_birth
    return {"full_name": appointment.full_name, "phone": appointment.phone,
            "email": appointment.email,
            "dob_day": str(born.day) if born else "", "dob_month": str(born.month) if born else "",
            "dob_year": str(born.year) if born else ""}


def _expiry(invitation: Invitation | None, now) -> datetime.datetime:
    if invitation is not None:
        return invitation.appointment.starts_at
    return now + datetime.timedelta(hours=settings.FORM_DRAFT_HOURS)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --- Saving a page ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageProblems:
    """The problems on one page, for the patient: by field (a question's code, or one of the
    "About you" fields), each with its messages."""

    errors: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.errors)


def save_page(draft: FormDraft, page: Page, posted: QueryDict, *,
              now: datetime.datetime | None = None) -> PageProblems:
    """Keep what the patient entered on ``page`` (even when it has problems), then check it.
    The draft counts the page as done only when it has none."""
    now = now or timezone.now()
    if page.is_about_you:
        draft.patient = {name: posted.get(name, "") for name in ABOUT_FIELDS}
        problems = about_you_problems(draft.patient, draft.clinic, now)
    else:
        for question in page.section.questions.all():
            draft.answers[question.code] = type_of(question).form_value(posted, question.code)
        problems = section_problems(draft, page)
    if not problems and draft.pages_done == page.number - 1:
        draft.pages_done = page.number
    # Judged as typed (a NUL is a problem named to the patient), stored without NULs, which
    # PostgreSQL's JSON cannot hold.
    draft.patient, draft.answers = _storable(draft.patient), _storable(draft.answers)
    draft.updated_at = now
    if draft.invitation_id is None:
        draft.expires_at = _expiry(None, now)
    draft.save(update_fields=["patient", "answers", "pages_done", "updated_at", "expires_at"])
    return problems


def _storable(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    return value


def about_you_problems(patient: dict, clinic: Clinic, now) -> PageProblems:
    errors: dict[str, list[str]] = {}
    try:
        born = date_from_parts(day=patient.get("dob_day", ""), month=patient.get("dob_month", ""),
                               year=patient.get("dob_year", ""),
                               today=local_time(clinic, now).date())
    except DateInvalid as invalid:
        errors["date_of_birth"] = [str(invalid)]
        born = None
    try:
        clean_patient(patient_details(patient, born), today=local_time(clinic, now).date())
    except PatientInvalid as invalid:
        for name, messages in invalid.errors.items():
            if name != "date_of_birth" or "date_of_birth" not in errors:
                errors.setdefault(name, list(messages))
    return PageProblems(errors)


def patient_details(patient: dict, born: datetime.date | None = None) -> dict:
    """The "About you" page as ``submit_intake``'s patient (the date of birth as ISO)."""
    if born is None:
        try:
            born = date_from_parts(day=patient.get("dob_day", ""),
                                   month=patient.get("dob_month", ""),
                                   year=patient.get("dob_year", ""))
        except DateInvalid:
            born = None
    return {"full_name": patient.get("full_name", ""),
            "date_of_birth": born.isoformat() if born else "",
            "phone": patient.get("phone", ""), "email": patient.get("email", "")}


def section_problems(draft: FormDraft, page: Page) -> PageProblems:
    questions = {q.code: q for q in page.section.questions.all()}
    try:
        clean_answers(VersionSchema.of(draft.version), submitted_answers(draft))
    except AnswersInvalid as invalid:
        return PageProblems({
            code: [type_of(questions[code]).patient_problem(
                questions[code], draft.answers.get(code), messages[0])]
            for code, messages in invalid.errors.items() if code in questions})
    return PageProblems()


def submitted_answers(draft: FormDraft) -> dict:
    """The draft's answers as ``submit_intake`` takes them (JSON types), without answers to
    questions whose show-condition does not hold (answered, then the answer they depend on
    changed: the page hid them, as the patient saw)."""
    schema = VersionSchema.of(draft.version)
    answers = answers_from_form(schema, _as_querydict(draft.answers))
    for code, question in schema.questions.items():
        if question.condition_question and code in answers:
            given = answers.get(question.condition_question)
            target = schema.questions.get(question.condition_question)
            shown = (given is not None and target is not None
                     and _valid(target, given)
                     and target.kind.matches_condition(given, question.condition_answer))
            if not shown:
                del answers[code]
    return answers


def _valid(question, value) -> bool:
    try:
        return question.kind.fits(question, value)
    except (TypeError, ValueError):
        return False


def _as_querydict(values: dict) -> QueryDict:
    data = QueryDict(mutable=True)
    for code, value in values.items():
        if isinstance(value, list):
            data.setlist(code, [str(v) for v in value])
        elif value not in (None, ""):
            data[code] = str(value)
    return data


def first_page_with_problems(draft: FormDraft, pages: list[Page], now) -> Page | None:
    """Where to send a patient who tries to send a form that is not complete."""
    for page in pages:
        problems = (about_you_problems(draft.patient, draft.clinic, now) if page.is_about_you
                    else section_problems(draft, page))
        if problems:
            return page
    return None


# --- Check your answers -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedAnswer:
    label: str
    answer: str
    field_id: str  # the field's id on its page, for the change link


@dataclass(frozen=True)
class CheckedPage:
    page: Page
    answers: list[CheckedAnswer]


def answers_to_check(draft: FormDraft, pages: list[Page],
                     texts: dict | None = None) -> list[CheckedPage]:
    """Every page's answers in words the patient chose them by (labels, not values, in their
    language: ``texts``), for the "Check your answers" page; questions not shown to them are
    left out."""
    texts = texts or {}
    sent = submitted_answers(draft)
    checked = []
    for page in pages:
        if page.is_about_you:
            patient = draft.patient
            born = patient_details(patient)["date_of_birth"]
            rows = [CheckedAnswer(_("Full name"), patient.get("full_name", ""),
                                  "patient_full_name"),
                    CheckedAnswer(_("Date of birth"), _long_date(born), "dob_day"),
                    CheckedAnswer(_("Phone number"), patient.get("phone", ""),
                                  "patient_phone"),
                    CheckedAnswer(_("Email address"), patient.get("email", "") or _("Not given"),
                                  "patient_email")]
        else:
            rows = [CheckedAnswer(texts.get(f"question:{question.code}") or question.text,
                                  _in_words(question, sent.get(question.code), texts),
                                  f"question-{question.code}")
                    for question in page.section.questions.all()
                    if not question.condition_question or question.code in sent]
        checked.append(CheckedPage(page, rows))
    return checked


def _in_words(question: Question, answer: Any, texts: dict) -> str:
    if answer is None or answer == [] or answer == "":
        return _("Not answered")
    labels = {option.value: texts.get(f"choice:{question.code}:{option.value}") or option.label
              for option in type_of(question).options(question)}
    if isinstance(answer, bool):
        return texts.get("yes", _("Yes")) if answer else texts.get("no", _("No"))
    if isinstance(answer, list):
        return ", ".join(labels.get(value, value) for value in answer)
    return labels.get(str(answer), str(answer))


def _long_date(iso: str) -> str:
    if not iso:
        return _("Not given")
    born = datetime.date.fromisoformat(iso)
    return f"{born.day} {born:%B %Y}"
