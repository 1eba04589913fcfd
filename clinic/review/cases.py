"""The clinicians' work on cases: the queue, one case, and what they do with it.

Every read is scoped to the clinics the asking user works at (``visible_submissions``), and
every look at a case and every action on it leaves an ``AuditEvent``.  Pages and the API both
call these functions; neither queries submissions itself.  Refusals are ``core.errors``
(``Forbidden``, ``NotFound``, ``Invalid``), which each entry point answers in its own form.
"""

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, F, Prefetch, Q, QuerySet, When
from django.utils import timezone

from clinic import audit
from clinic.alerting import alerts
from clinic.hours import local_time
from clinic.models import AuditEvent, Clinic, Notification
from core.errors import Forbidden, Invalid, NotFound
from core.roles import is_clinician
from intake.models import Answer, Submission
from intake.references import normalise_reference
from screening.models import Flag, Rule


def visible_submissions(user) -> QuerySet[Submission]:
    """The submissions ``user`` may see: those of the clinics they work at (every clinic for a
    superuser), and none for anyone who is not a clinician."""
    if not is_clinician(user):
        raise Forbidden("Only clinicians can see cases.")
    submissions = Submission.objects.all()
    if not user.is_superuser:
        submissions = submissions.filter(
            clinic__in=Clinic.objects.filter(clinicians__user=user))
    return submissions


@dataclass(frozen=True)
class QueueFilters:
    urgency: str = ""  # one of Submission.Urgency, or "" for all
    status: str = Submission.Status.OPEN  # "open", "reviewed" or "" for all
    since: datetime.date | None = None
    until: datetime.date | None = None
    search: str = ""  # a reference, or part of a patient's name


def queue(user, filters: QueueFilters = QueueFilters()) -> QuerySet[Submission]:
    """Cases in queue order: most urgent first, then oldest first, with what a row shows
    loaded in a fixed number of queries however long the queue."""
    submissions = visible_submissions(user)
    if filters.status:
        submissions = submissions.filter(status=filters.status)
    if filters.urgency:
        submissions = submissions.filter(urgency=filters.urgency)
    if filters.since:
        submissions = submissions.filter(submitted_at__date__gte=filters.since)
    if filters.until:
        submissions = submissions.filter(submitted_at__date__lte=filters.until)
    if filters.search.strip():
        reference = normalise_reference(filters.search)
        name = Q(full_name__icontains=filters.search.strip())
        submissions = submissions.filter(Q(reference=reference) | name if reference else name)
    return (
        submissions.select_related("alert__acknowledged_by", "claimed_by", "clinic",
                                   "appointment")
        .prefetch_related(
            Prefetch("flags", queryset=Flag.objects.only(
                "pk", "submission_id", "rule_code", "title", "tier", "category", "position")),
            Prefetch("answers", queryset=Answer.objects.filter(question_code="sex").only(
                "pk", "submission_id", "question_code", "value"), to_attr="sex_answers"),
        )
        .order_by("priority", SOONEST_APPOINTMENT_FIRST, "submitted_at", "id")
    )


# Within the soon cases, the one whose appointment comes first comes first (those without an
# appointment after them, oldest first); in the other tiers, oldest first.
SOONEST_APPOINTMENT_FIRST = Case(
    When(urgency=Submission.Urgency.SOON, then=F("appointment__starts_at")), default=None,
).asc(nulls_last=True)


@dataclass(frozen=True)
class AppointmentNote:
    """What the queue and the case page say about a case's appointment."""

    starts_at: datetime.datetime  # the clinic's wall-clock time (naive: templates show it as is)
    clinic_name: str
    status: str
    # A soon case whose appointment comes before the clinic's review window would end: it must
    # be reviewed before then, not "within the window".
    sooner_than_review: bool
    review_hours: int


def appointment_note(submission: Submission, *,
                     now: datetime.datetime | None = None) -> AppointmentNote | None:
    appointment = submission.appointment
    if appointment is None:
        return None
    now = now or timezone.now()
    clinic = submission.clinic
    window = datetime.timedelta(hours=clinic.soon_review_hours)
    return AppointmentNote(
        starts_at=local_time(clinic, appointment.starts_at).replace(tzinfo=None),
        clinic_name=clinic.name,
        status=appointment.get_status_display(),
        sooner_than_review=(submission.urgency == Submission.Urgency.SOON
                            and submission.status == Submission.Status.OPEN
                            and appointment.status == appointment.Status.BOOKED
                            and now < appointment.starts_at < now + window),
        review_hours=clinic.soon_review_hours,
    )


def _find_case(user, reference: str, queryset=None) -> Submission:
    """The case with this reference among those the user may see.  Raises ``NotFound`` for a
    reference the user cannot see, whether or not it exists, so probing reveals nothing."""
    canonical = normalise_reference(reference)
    submission = None
    if canonical:
        submission = (queryset or visible_submissions(user)).filter(reference=canonical).first()
    if submission is None:
        raise NotFound("No case with that reference.")
    return submission


def open_emergencies(user, limit: int = 50) -> list[str]:
    """References of the open emergency cases the user can see, oldest first."""
    return list(
        visible_submissions(user)
        .filter(status=Submission.Status.OPEN, urgency=Submission.Urgency.EMERGENCY)
        .order_by("priority", "submitted_at", "id")
        .values_list("reference", flat=True)[:limit]
    )


def get_case(user, reference: str, *, audit_view: bool = True) -> Submission:
    """One case with everything the case page shows, in a fixed number of queries; the look is
    audited unless the caller has just acted on it (and audited that)."""
    submission = _find_case(user, reference, visible_submissions(user)
        .select_related("clinic", "questionnaire_version", "alert__acknowledged_by",
                        "claimed_by", "reviewed_by", "appointment")
        .prefetch_related(
            # With each answer's question and its choices, to show the labels the patient saw.
            Prefetch("answers", queryset=Answer.objects.select_related("question")
                     .prefetch_related("question__choices").order_by("pk")),
            "flags",
            Prefetch("alert__notifications", queryset=Notification.objects.select_related(
                "clinician").prefetch_related("attempts").order_by("level", "pk")),
        ))
    if audit_view:
        audit.record(user, AuditEvent.Action.VIEW_CASE, submission=submission)
    return submission


def alert_of(submission: Submission):
    return getattr(submission, "alert", None)


def acknowledge_case(user, reference: str) -> bool:
    """Acknowledge the case's alert; True when this call acknowledged it (False: already
    done)."""
    submission = _find_case(user, reference, visible_submissions(user).select_related("alert"))
    alert = alert_of(submission)
    if alert is None:
        raise NotFound("This case has no alert to acknowledge.")
    newly = alerts.acknowledge(alert, by=user)
    if newly:
        audit.record(user, AuditEvent.Action.ACKNOWLEDGE, submission=submission)
    return newly


def claim_case(user, reference: str) -> None:
    """"I'm calling this patient": others see who has it."""
    _act(user, reference, AuditEvent.Action.CLAIM, claimed_by=user, claimed_at=timezone.now())


class ReviewInvalid(Invalid):
    """A review's outcome or judgement was not one the service knows; nothing was changed."""


def review_case(
    user, reference: str, *, note: str, outcome: str = "", judgement: str = "",
    judged_flag: str = "",
) -> None:
    """Mark the case reviewed, with a note and, optionally, what happened to the patient
    (``Submission.Outcome``) and the clinician's judgement of the screening's urgency
    (``Submission.Judgement``), about one flag (a rule of the rule set that screened it, fired
    or not: "too low" is often about the rule that should have fired).  The case leaves the
    open queue.  Raises ``ReviewInvalid``."""
    note = (note or "").strip()
    problems = {}
    if outcome and outcome not in Submission.Outcome.values:
        problems["outcome"] = [f"Choose one of {', '.join(Submission.Outcome.values)}."]
    if judgement and judgement not in Submission.Judgement.values:
        problems["triage_judgement"] = [
            f"Choose one of {', '.join(Submission.Judgement.values)}."]
    if judged_flag:
        submission = _find_case(user, reference)
        if not Rule.objects.filter(rule_set_id=submission.rule_set_id, code=judged_flag).exists():
            problems["judged_flag"] = ["Name a rule of the rule set that screened this case."]
    if problems:
        raise ReviewInvalid(problems)
    detail = ", ".join(part for part in (
        "with a note" if note else "", f"outcome {outcome}" if outcome else "",
        f"judged {judgement}" + (f" ({judged_flag})" if judged_flag else "") if judgement
        else "") if part)
    _act(user, reference, AuditEvent.Action.REVIEW, detail=detail,
         status=Submission.Status.REVIEWED, reviewed_by=user, reviewed_at=timezone.now(),
         review_note=note, outcome=outcome, triage_judgement=judgement, judged_flag=judged_flag)


def rules_of(submission: Submission) -> list[Rule]:
    """The rules of the rule set that screened ``submission`` (for judging its triage)."""
    if submission.rule_set_id is None:
        return []
    return list(Rule.objects.filter(rule_set_id=submission.rule_set_id, enabled=True)
                .only("code", "title").order_by("position", "code"))


def reopen_case(user, reference: str) -> None:
    """Put a reviewed case back on the open queue (its outcome and judgement are kept until the
    next review replaces them)."""
    _act(user, reference, AuditEvent.Action.REOPEN, status=Submission.Status.OPEN,
         reviewed_by=None, reviewed_at=None)


def _act(user, reference: str, action: str, *, detail: str = "", **changes) -> None:
    submission = _find_case(user, reference)
    with transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(**changes)
        audit.record(user, action, submission=submission, detail=detail)
