"""The life cycle of a patient's data: anonymising after the retention period, exporting one
patient's data (a subject access request) and erasing it.

The audit trail outlives all three: audit events keep the case reference when the submission
is anonymised or erased, and each of these operations writes an audit event of its own.
"""

import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent
from intake.models import Appointment, IdempotencyRecord, Question, Submission
from intake.question_types import codes_of_types
from intake.references import normalise_reference

# Idempotency keys are kept at least 24 hours (the contract); after two days they go.
IDEMPOTENCY_KEY_DAYS = 2


def anonymise_expired(*, now: datetime.datetime | None = None, batch: int = 500) -> int:
    """Anonymise submissions older than DATA_RETENTION_DAYS: the patient's name, date of birth,
    phone, email, free-text answers and review note are removed; the urgency, flags, structured
    answers and the audit trail stay, so the clinic's decisions can still be accounted for.
    Returns how many were anonymised.  Safe to run repeatedly and concurrently."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.DATA_RETENTION_DAYS)
    done = 0
    while True:
        with transaction.atomic():
            ids = list(
                Submission.objects.select_for_update(skip_locked=True)
                .filter(submitted_at__lt=cutoff, anonymised_at__isnull=True)
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return done
            _drop_free_text_answers(ids)
            Submission.objects.filter(pk__in=ids).update(
                full_name="", date_of_birth=None, phone="", email="", review_note="",
                anonymised_at=now, changed_at=now)
            AuditEvent.objects.bulk_create(
                AuditEvent(actor=None, action=AuditEvent.Action.ANONYMISE, submission_id=pk,
                           reference=reference, at=now)
                for pk, reference in Submission.objects.filter(pk__in=ids)
                .values_list("pk", "reference")
            )
        done += len(ids)


def _drop_free_text_answers(ids: list[int]) -> None:
    """Take the answers to free-text questions out of these submissions' answers."""
    documents = list(Submission.objects.filter(pk__in=ids)
                     .values_list("pk", "questionnaire_version_id", "answers"))
    free_text: dict[int, set[str]] = {}
    for version_id, code in Question.objects.filter(
            version_id__in={version_id for _, version_id, _ in documents},
            type__in=codes_of_types(free_text=True)).values_list("version_id", "code"):
        free_text.setdefault(version_id, set()).add(code)
    kept = [Submission(pk=pk, answers={code: value for code, value in answers.items()
                                       if code not in free_text.get(version_id, ())})
            for pk, version_id, answers in documents
            if free_text.get(version_id, set()) & set(answers)]
    Submission.objects.bulk_update(kept, ["answers"])


def forget_idempotency_keys(*, now: datetime.datetime | None = None) -> int:
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=IDEMPOTENCY_KEY_DAYS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def submissions_of(*, references: list[str] = (), full_name: str = "",
                   date_of_birth: datetime.date | None = None) -> list[Submission]:
    """A patient's submissions, found by reference(s), or by name and date of birth."""
    query = Submission.objects.none()
    canonical = [r for r in (normalise_reference(x) for x in references) if r]
    if canonical:
        query = query | Submission.objects.filter(reference__in=canonical)
    if full_name and date_of_birth:
        query = query | Submission.objects.filter(
            full_name__iexact=" ".join(full_name.split()), date_of_birth=date_of_birth)
    return list(query.order_by("submitted_at"))


def export_patient(submissions: list[Submission], *, by) -> dict[str, Any]:
    """Everything held about the patient in these submissions, as JSON-ready data."""
    exported = []
    for submission in submissions:
        alert = getattr(submission, "alert", None)
        exported.append({
            "reference": submission.reference,
            "submitted_at": submission.submitted_at.isoformat(),
            "patient": {
                "full_name": submission.full_name,
                "date_of_birth": (submission.date_of_birth.isoformat()
                                  if submission.date_of_birth else None),
                "phone": submission.phone, "email": submission.email,
            },
            "questionnaire_version": submission.questionnaire_version.number,
            "answers": [{"code": a.question_code, "question": a.question_text, "answer": a.value}
                        for a in submission.answered],
            "urgency": submission.urgency,
            "screening_failed": submission.screening_failed,
            "flags": [{"code": f.rule_code, "urgency": f.tier, "explanation": f.explanation}
                      for f in submission.flags.all()],
            "status": submission.status,
            "review_note": submission.review_note,
            "alert": None if alert is None else {
                "created_at": alert.created_at.isoformat(),
                "acknowledged_at": (alert.acknowledged_at.isoformat()
                                    if alert.acknowledged_at else None),
            },
            "anonymised_at": (submission.anonymised_at.isoformat()
                              if submission.anonymised_at else None),
        })
        audit.record(by, AuditEvent.Action.EXPORT, submission=submission,
                     detail="subject access export")
    return {"exported_at": timezone.now().isoformat(), "submissions": exported}


def erase_patient(submissions: list[Submission], *, by) -> list[str]:
    """Delete these submissions with their answers, flags and alerts.  The audit trail stays:
    its events keep the reference (their link to the submission becomes empty), and an
    erasure event is added.  Returns the references erased."""
    references = []
    with transaction.atomic():
        for submission in submissions:
            audit.record(by, AuditEvent.Action.ERASE, submission=submission,
                         detail="erased on request")
            references.append(submission.reference)
            appointment_id = submission.appointment_id
            submission.delete()
            if appointment_id is not None:
                # The appointment stays for the clinic's diary; the patient's details go.
                Appointment.objects.filter(pk=appointment_id).update(**APPOINTMENT_PATIENT_GONE)
    return references


# What is left of an appointment's patient once their data is erased or has expired.
APPOINTMENT_PATIENT_GONE = {"full_name": "", "date_of_birth": None, "phone": "", "email": ""}


def anonymise_expired_appointments(*, now: datetime.datetime | None = None) -> int:
    """Empty the patient's details of appointments that started longer ago than
    DATA_RETENTION_DAYS (their intakes are anonymised by ``anonymise_expired``)."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=settings.DATA_RETENTION_DAYS)
    return (Appointment.objects.filter(starts_at__lt=cutoff)
            .exclude(full_name="", date_of_birth=None, phone="", email="")
            .update(**APPOINTMENT_PATIENT_GONE))
