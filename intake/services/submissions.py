"""Submitting an intake: the one path the web form and the REST API both take.

``submit_intake`` validates the patient's details and answers against the exact questionnaire
version, screens the answers, and stores the submission (its answers in it), its flags and, for
an urgent or emergency one, its alert in one statement (in a transaction with whatever else is
written), then returns a ``SubmissionOutcome``: what the patient must be told, which the
REST API, the form and FHIR each render in their own way.  Nothing is stored unless everything
is valid (``SubmissionInvalid``), and a failure inside screening never loses the submission (it
is stored, marked ``screening_failed`` and treated as urgent).
"""

import contextlib
import copy
import datetime
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, transaction
from django.db.models import QuerySet, Subquery
from django.utils import timezone

from clinic.alerting import alerts
from clinic.hours import hours_as_json, local_time, with_hours
from clinic.models import Clinic
from core import configuration
from core.db import CompiledRead, insert_new
from core.errors import Conflict, Invalid
from intake.advice import advice_for
from intake.models import IdempotencyRecord, Invitation, QuestionnaireVersion, Submission
from intake.quoting import quoted
from intake.references import new_reference
from intake.selectors import VersionSchema, latest_published, loaded_version
from intake.services import invitations
from intake.services.answers import AnswersInvalid, clean_answers
from intake.services.patients import PatientInvalid, clean_patient
from screening import services as screening
from screening.models import Category

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_MAX_LENGTH = 255


class SubmissionInvalid(Invalid):
    """Bad input; ``errors`` is keyed like the request: ``patient``, ``answers``, ``version``,
    each with the messages of the fields at fault."""


class IdempotencyKeyReused(Conflict):
    """The key was used before with a different request."""

    default_message = ("This Idempotency-Key was already used with a different request. Use a "
                       "new key for a new submission.")


@dataclass(frozen=True)
class ReportedFlag:
    """A red flag as the patient's client is told of it (not the stored ``Flag``)."""

    code: str
    category: str  # a screening.models.Category
    urgency: str  # the rule's tier
    explanation: str


@dataclass(frozen=True)
class SubmissionOutcome:
    """What submitting an intake came to: what the patient is told, for the REST API, the form
    and FHIR to render.  A replay (``replayed``) carries what the first answer to its
    Idempotency-Key said, word for word, even if the advice would differ now."""

    submission: Submission
    reference: str
    urgency: str  # a Submission.Urgency
    advice: str  # what the patient should do now, in plain words
    flags: tuple[ReportedFlag, ...]
    submitted_at: datetime.datetime
    replayed: bool = False  # True when an earlier outcome for the same key was returned

    def as_json(self) -> dict:
        """What the patient is told, as JSON: the REST API's 201 body (documented by
        ``intake.api.schema.SubmissionOutputDoc``), and what is kept with an Idempotency-Key
        for ``_replay`` to tell again word for word.  ``submitted_at`` as stamped, in UTC
        written "+00:00"."""
        return {"reference": self.reference, "urgency": self.urgency, "advice": self.advice,
                "flags": [{"code": flag.code, "category": flag.category,
                           "urgency": flag.urgency, "explanation": flag.explanation}
                          for flag in self.flags],
                "submitted_at": self.submitted_at.isoformat()}


@dataclass(frozen=True)
class Place:
    """Where an intake is going: its clinic, and the invitation it was sent with (if any), with
    the patient's details (the appointment's, unless the client sent its own)."""

    clinic: Clinic | None
    invitation: Invitation | None
    patient: Any


def place_of(*, clinic: Any = None, invitation: Any = None, patient: Any = None) -> Place:
    """Find the clinic a client named by its slug and the invitation it holds the token of;
    raise ``SubmissionInvalid`` (under ``clinic`` or ``invitation``) if either is not usable."""
    errors: dict[str, list[str]] = {}
    found_clinic = None
    if clinic is not None:
        found_clinic = (Clinic.objects.prefetch_related("opening_hours")
                        .filter(slug=clinic).first() if isinstance(clinic, str) else None)
        if found_clinic is None:
            errors["clinic"] = [f"No clinic {quoted(str(clinic))}; name one by its slug, "
                                "e.g. “bedford”, or leave it out for the default."]
    found_invitation = None
    if invitation is not None:
        try:
            found_invitation = invitations.find(invitation)
        except invitations.InvitationUnusable as unusable:
            errors["invitation"] = [unusable.reason]
        else:
            appointment = found_invitation.appointment
            if found_clinic is not None and found_clinic.pk != appointment.clinic_id:
                errors["clinic"] = ["The invitation is for another clinic; leave “clinic” out."]
            patient = _appointment_patient(appointment, patient)
    if errors:
        raise SubmissionInvalid(errors)
    return Place(found_clinic, found_invitation, patient)


def _appointment_patient(appointment, sent: Any) -> Any:
    """The appointment's patient details, with whatever the client sent in their place."""
    details = {"full_name": appointment.full_name, "phone": appointment.phone,
               "email": appointment.email}
    if appointment.date_of_birth is not None:
        details["date_of_birth"] = appointment.date_of_birth.isoformat()
    details = {key: value for key, value in details.items() if value}
    if sent is None:
        return details
    if not isinstance(sent, dict):
        return sent  # reported by clean_patient, as any patient of the wrong shape is
    return {**details, **sent}


def submit_intake(
    *,
    patient: Any,
    answers: Any,
    version_number: Any = None,
    idempotency_key: str | None = None,
    clinic: Clinic | None = None,
    invitation: Invitation | None = None,
    language: str = "en-gb",
    now: datetime.datetime | None = None,
) -> SubmissionOutcome:
    """Validate, screen and store one intake; return what the patient is to be told.

    ``patient`` and ``answers`` are what the client sent (JSON types).  ``version_number``, when
    given, names the published version the patient saw; otherwise the current one is used.
    ``clinic`` is the clinic the form was for (by default the default clinic).  With an
    ``invitation``, the intake is its appointment's, at its clinic, and uses the link up: a
    link that no longer works is an error under ``invitation``.
    ``now`` is the moment of submission (the clock's, unless a test controls time).
    Raises ``SubmissionInvalid`` naming every problem, or ``IdempotencyKeyReused``.
    """
    if idempotency_key is not None:
        # What was sent, kept with the key: it tells a retry from a reuse of the key.
        fingerprint = _fingerprint(patient, answers, version_number)
        replay = _replay(idempotency_key, fingerprint)
        if replay:
            return replay

    now = now or timezone.now()
    errors: dict[str, Any] = {}
    if invitation is not None:
        clinic = invitation.appointment.clinic
        try:
            invitations.check_usable(invitation, now=now)
        except invitations.InvitationUnusable as unusable:
            errors["invitation"] = [unusable.reason]
    # The clinic, annotated with the current version and the active rule set.
    clinic = _clinic_with_current(clinic)
    version = _version(clinic, version_number)
    schema = VersionSchema.of(version)
    try:
        details = clean_patient(patient, today=local_time(clinic, now).date())
    except PatientInvalid as invalid:
        errors["patient"] = invalid.errors
    try:
        cleaned = clean_answers(schema, answers)
    except AnswersInvalid as invalid:
        errors["answers"] = invalid.errors
    if errors:
        raise SubmissionInvalid(errors)

    submission = Submission(
        reference=new_reference(), clinic=clinic,
        appointment=invitation.appointment if invitation else None, language=language,
        questionnaire_version=version, full_name=details.full_name,
        date_of_birth=details.date_of_birth, phone=details.phone, email=details.email,
        submitted_at=now)
    # Screening is a pure function of the answers and the compiled rule set: done before the
    # transaction starts, it keeps the transaction short.
    result = _screen(submission, cleaned, clinic)
    # The submission, its flags and (for an urgent or emergency one) its alert with its first
    # notifications are one statement (``insert_new``), atomic on its own; a transaction is
    # needed only when more is written with them (the invitation's use, the idempotency record)
    # or a lock must be held until they commit (an urgent alert's burst, ``alerts``).  Most
    # submissions, emergencies among them, are stored in one round trip.
    alone = (invitation is None and idempotency_key is None
             and not alerts.needs_transaction(result.urgency))
    try:
        with contextlib.nullcontext() if alone else transaction.atomic():
            if invitation is not None and not invitations.mark_used(invitation, now=now):
                raise SubmissionInvalid({"invitation": [
                    "You have already sent your answers with this link. Thank you: the clinic "
                    "has them."]})
            outcome = _store(submission, cleaned, result, now)
            if idempotency_key is not None:
                IdempotencyRecord.objects.create(
                    key=idempotency_key, fingerprint=fingerprint,
                    submission=outcome.submission, response=outcome.as_json(),
                )
    except IntegrityError:
        # A concurrent request with the same key won the race; its transaction committed and
        # ours rolled back whole, so there is exactly one submission.  Answer as it did.
        if idempotency_key is None:
            raise
        replay = _replay(idempotency_key, fingerprint)
        if replay is None:
            raise
        return replay
    return outcome


def _clinic_with_current(clinic: Clinic | None) -> Clinic:
    """What a submission depends on, read in one query: its clinic (by default the default
    clinic) with its opening hours, which version of the questionnaire is current
    (``version_pk``, ``version_published_at``) and which rule set is active (``rule_set_*``),
    as attributes of the clinic.  The version's questions and the compiled rule set then come
    from this process's memory (both are frozen once published or active).  The query is
    compiled once per process (``CompiledRead``): building it cost more than running it.

    What it read is kept in the process under the configuration generation the request's
    connection was checked out with (``core.configuration``), and given again (a copy) while
    the generation is the same, without a query: any change of those tables makes a new
    generation.  Without one (SQLite, outside a request), it reads every time."""
    slug = settings.INTAKE_QUESTIONNAIRE_SLUG
    generation = configuration.current()
    kept_as = (clinic.pk if clinic is not None else None, slug)
    kept = _KEPT.get(kept_as) if generation is not None else None
    if kept is not None and kept[0] == generation:
        return copy.copy(kept[1])
    if clinic is None:
        row = _DEFAULT_CLINIC_WITH_CURRENT.first(0, key=(slug,))
    else:
        row = _CLINIC_WITH_CURRENT.first(clinic.pk, key=(slug,))
    if row is None:
        raise Clinic.DoesNotExist("no default clinic" if clinic is None else "no such clinic")
    fields = len(_CLINIC_FIELDS)
    found = Clinic.from_db(DEFAULT_DB_ALIAS, _CLINIC_FIELDS, row[:fields])
    for name, value in zip(_CURRENT, row[fields:], strict=True):
        setattr(found, name, value)
    found = with_hours(found, found.hours_json)
    if generation is not None:
        if len(_KEPT) >= _KEPT_AT_MOST:
            _KEPT.clear()
        _KEPT[kept_as] = (generation, copy.copy(found))
    return found


# What ``_clinic_with_current`` read, by clinic (None: the default) and questionnaire, with the
# generation it was read in; a few clinics at most.
_KEPT: dict[tuple, tuple[int, Clinic]] = {}
_KEPT_AT_MOST = 256


_CLINIC_FIELDS = [field.attname for field in Clinic._meta.concrete_fields]
_CURRENT = ("version_pk", "version_published_at", "rule_set_pk", "rule_set_version",
            "rule_set_created_at", "hours_json")


def _with_current(clinics) -> QuerySet:
    latest = latest_published()
    return clinics.annotate(
        version_pk=Subquery(latest.values("pk")[:1]),
        version_published_at=Subquery(latest.values("published_at")[:1]),
        **screening.active_rule_set_columns(settings.INTAKE_QUESTIONNAIRE_SLUG),
        hours_json=hours_as_json(),
    ).values_list(*_CLINIC_FIELDS, *_CURRENT)


_CLINIC_WITH_CURRENT = CompiledRead(lambda pk: _with_current(Clinic.objects.filter(pk=pk)),
                                    prepared=True)
_DEFAULT_CLINIC_WITH_CURRENT = CompiledRead(
    lambda _: _with_current(Clinic.objects.filter(is_default=True)), prepared=True)


def _version(clinic: Clinic, version_number) -> QuestionnaireVersion:
    """The current version; a client that names a version must name the current one, since the
    active rules are checked against it (an older version may lack what they ask about)."""
    if clinic.version_pk is None:
        raise SubmissionInvalid({"version": ["No questionnaire has been published yet."]})
    version = loaded_version(None, clinic.version_pk, clinic.version_published_at)
    if version_number is None:
        return version
    if type(version_number) is not int:
        raise SubmissionInvalid({"version": ["Send the version number as a whole number."]})
    if version_number != version.number:
        raise SubmissionInvalid({"version": [
            f"Version {version_number} is not the current version of the questionnaire "
            f"({version.number}); fetch /api/questionnaires/current/ and answer that."
        ]})
    return version


def _store(submission: Submission, cleaned: dict, result, now) -> SubmissionOutcome:
    submission.answers = cleaned
    submission.urgency = result.urgency
    submission.screening_failed = result.failed
    submission.rule_set_id = result.rule_set_id
    # What the patient is told is settled before anything is stored: nothing after the store
    # can fail and leave a stored submission with an error for an answer.
    advice = str(advice_for(submission.urgency, submission.clinic, now, possible_cardiac=any(
        flag.category == Category.POSSIBLE_CARDIAC for flag in result.flags)))
    # The alert is written with the submission (an outbox): no submission without its alert.
    alert = alerts.new_alert(submission, now=now)
    insert_new(submission, screening.flags_to_store(result),
               *([alert.to_store()] if alert else []))
    if alert:
        alert.stored()
    logger.info("submission %s stored with urgency %s", submission.reference, submission.urgency)
    return SubmissionOutcome(
        submission=submission, reference=submission.reference, urgency=submission.urgency,
        advice=advice, submitted_at=submission.submitted_at,
        flags=tuple(ReportedFlag(code=f.code, category=f.category, urgency=f.tier,
                                 explanation=f.explanation) for f in result.flags))


def _screen(submission: Submission, answers: dict, clinic: Clinic):
    """Screen the answers; if screening raises, treat the submission as urgent and say so.

    Screening reads the database only to compile a rule set it has not compiled before.
    Inside a caller's transaction a savepoint keeps a database error there from spoiling it;
    outside one (a request) there is nothing to spoil and no savepoint is paid for.  The log
    line names the submission and the error's type only: an exception's message may quote an
    answer.
    """
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    try:
        with guard:
            return screening.screen_answers(submission.questionnaire_version, answers,
                                            screening.facts_of(submission), active=clinic)
    except Exception as error:
        logger.error("screening failed for submission %s: %s; stored as urgent",
                     submission.reference, type(error).__name__)
        return screening.ScreeningResult.failure()


def _fingerprint(patient, answers, version_number) -> str:
    canonical = json.dumps(
        {"patient": patient, "answers": answers, "version": version_number},
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(key: str, fingerprint: str) -> SubmissionOutcome | None:
    record = IdempotencyRecord.objects.select_related("submission").filter(key=key).first()
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    kept = record.response
    return SubmissionOutcome(
        submission=record.submission, reference=kept["reference"], urgency=kept["urgency"],
        advice=kept["advice"], flags=tuple(ReportedFlag(**flag) for flag in kept["flags"]),
        submitted_at=datetime.datetime.fromisoformat(kept["submitted_at"]), replayed=True)
