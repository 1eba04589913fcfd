"""The clinicians' work on cases: the queue, one case, and what they do with it.

Every read is scoped to the clinics the asking user works at (``visible_submissions``), and
every look at a case and every action on it leaves an ``AuditEvent``.  Pages and the API both
call these functions; neither queries submissions itself.  Refusals are ``core.errors``
(``Forbidden``, ``NotFound``, ``Invalid``), which each entry point answers in its own form.
"""

import datetime
import functools
import hashlib
import zoneinfo
from dataclasses import dataclass
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    JSONField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import JSONObject
from django.utils import timezone

from clinic import audit
from clinic.alerting import alerts, links
from clinic.models import (
    Alert,
    AlertLink,
    AuditEvent,
    CallOutcome,
    Clinic,
    Clinician,
    Notification,
)
from core.db import CompiledRead, JSONList
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.roles import is_clinician
from intake.models import Appointment, Submission, age_when_submitted
from intake.references import normalise_reference
from screening.models import Flag, Rule, title_from_code


def visible_submissions(user) -> QuerySet[Submission]:
    """The submissions ``user`` may see: those of the clinics they work at (every clinic for a
    superuser), and none for anyone who is not a clinician."""
    _require_clinician(user)
    return _scoped(user.pk, everywhere=user.is_superuser)


def _require_clinician(user) -> None:
    if not is_clinician(user):
        raise Forbidden("Only clinicians can see cases.")


def _scoped(user_pk: int, *, everywhere: bool) -> QuerySet[Submission]:
    """The submissions of the clinics the user ``user_pk`` works at (all, ``everywhere``)."""
    submissions = Submission.objects.all()
    if not everywhere:
        submissions = submissions.filter(clinic__in=Clinician.clinics.through.objects.filter(
            clinician__user=user_pk).values("clinic"))
    return submissions


@dataclass(frozen=True)
class QueueFilters:
    urgency: str = ""  # one of Submission.Urgency, or "" for all
    status: str = Submission.Status.OPEN  # "open", "reviewed" or "" for all
    since: datetime.date | None = None
    until: datetime.date | None = None
    search: str = ""  # a reference, or part of a patient's name


def _filtered(user, filters: QueueFilters) -> QuerySet[Submission]:
    """The cases the user may see that match the filters, in no order and with nothing loaded."""
    return _matching(visible_submissions(user), filters)


def _matching(submissions: QuerySet[Submission], filters: QueueFilters) -> QuerySet[Submission]:
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
    return submissions


def queue(user, filters: QueueFilters = QueueFilters()) -> QuerySet[Submission]:
    """Cases in queue order: most urgent first, then oldest first (a soon case by its
    appointment), as model instances with what a row shows, in a fixed number of queries
    however long the queue.  The order as the ORM says it plainly: the pages and the API read
    the same order faster (``queue_page``, ``queue_after``), and the tests hold them to this."""
    return (
        _filtered(user, filters)
        .select_related("alert__acknowledged_by", "claimed_by", "clinic",
                        "appointment")
        .prefetch_related(
            Prefetch("flags", queryset=Flag.objects.only(
                "pk", "submission_id", "rule_code", "title", "tier", "category", "position")),
        )
        # What a row shows of the answers: the patient's sex, not the whole document.
        .defer("answers").annotate(sex_answer=KT("answers__sex"))
        .order_by("priority", SOONEST_APPOINTMENT_FIRST, "submitted_at", "id")
    )


@dataclass(frozen=True)
class QueuePage:
    """The queue's rows from ``start`` up to ``shown`` (the first ``shown`` cases when
    ``start`` is 0), and whether more cases follow them."""

    rows: list["QueueRow"]
    more: bool
    next_reference: str  # the first case after these ("" when none): where "Show more" leads


def queue_page(user, filters: QueueFilters = QueueFilters(), *, shown: int,
               start: int = 0) -> QueuePage:
    """What the queue page shows: the cases from ``start`` up to ``shown`` in queue order, read
    with what their rows show in one query (``_in_queue_order``: index scans however long the
    queue)."""
    found = _in_queue_order(user, filters, shown + 1, rows=True)
    return QueuePage(rows=[QueueRow._make(row[2:]) for row in found[start:shown]],
                     more=len(found) > shown,
                     next_reference=found[shown][2] if len(found) > shown else "")


@dataclass(frozen=True)
class QueueKey:
    """Where a case stands in the queue's order (``queue``): what the API's cursor carries."""

    priority: int
    starts: datetime.datetime | None  # a soon case's appointment, if it has one
    submitted_at: datetime.datetime
    pk: int


def queue_after(user, filters: QueueFilters = QueueFilters(), *, after: QueueKey | None,
                limit: int) -> tuple[list["QueueRow"], QueueKey | None]:
    """Up to ``limit`` cases that come after ``after`` in queue order (from the top when it is
    None), as the API shows them (``QueueRow``), and the key of the last one when more follow.
    Read as ``queue_page`` reads its keys, with each case's columns, alert and flags in the
    same query: one query, and no model instances."""
    found = _in_queue_order(user, filters, limit + 1, after=after, rows=True)
    page = [QueueRow._make(row[2:]) for row in found[:limit]]
    return page, found[limit - 1][0] if len(found) > limit else None


class QueueRow(NamedTuple):
    """One case of the queue as the API shows it (``serializers.queue_items``)."""

    reference: str
    urgency: str
    screening_failed: bool
    status: str
    submitted_at: datetime.datetime
    full_name: str
    date_of_birth: datetime.date | None
    clinic_timezone: str
    sex: str | None
    flags: list[dict] | None  # code, title, category, tier, position; None: no flags
    claimed_by: str | None  # the username
    claimed_at: datetime.datetime | None
    # The alert's columns as in ``AlertSummary``, its moments as JSON gives them (text), and
    # ``acknowledged_by`` the username; None: no alert.
    alert: dict | None
    # What the queue page says of the appointment (``appointment_note``); None: none.
    appointment_starts_at: datetime.datetime | None
    appointment_status: str | None
    clinic_name: str
    clinic_soon_review_hours: int

    @property
    def age(self) -> int | None:
        return age_when_submitted(self.date_of_birth, self.submitted_at, self.clinic_timezone)

    @property
    def urgency_label(self) -> str:
        return Submission.Urgency(self.urgency).label

    @property
    def flags_shown(self) -> list[dict]:
        """The flags in the order screening gave them, each with its title (the rule code's
        words where the rule had none)."""
        return [{**flag, "title": flag["title"] or title_from_code(flag["code"])}
                for flag in sorted(self.flags or (), key=lambda flag: flag["position"])]


# The columns of a QueueRow after its reference, as the queue's query reads them.
_ROW_COLUMNS = ("urgency", "screening_failed", "status", "submitted_at", "full_name",
                "date_of_birth", "clinic__timezone", "sex_answer", "flag_list",
                "claimed_by_name", "claimed_at", "alert_summary", "appointment__starts_at",
                "appointment__status", "clinic__name", "clinic__soon_review_hours")
assert len(_ROW_COLUMNS) + 1 == len(QueueRow._fields)


def _row_columns() -> dict:
    """What a ``QueueRow`` reads beside the submission's own columns.  The flags, the alert
    and the claimant are each a subquery of the row, run for the rows shown alone: as joins,
    the alert and the two people made PostgreSQL's planning of the queue's query 8 ms (against
    2 ms without them), several times what running it takes."""
    return {
        "sex_answer": KT("answers__sex"),
        "flag_list": Subquery(
            Flag.objects.filter(submission=OuterRef("pk")).order_by().values("submission")
            .annotate(flags=JSONList(JSONObject(
                code=F("rule_code"), title=F("title"), category=F("category"), tier=F("tier"),
                position=F("position")))).values("flags")),
        "claimed_by_name": Subquery(get_user_model().objects.filter(
            pk=OuterRef("claimed_by_id")).values(get_user_model().USERNAME_FIELD)),
        "alert_summary": Subquery(Alert.objects.filter(submission=OuterRef("pk")).order_by().values(
            summary=JSONObject(
                urgency=F("urgency"), created_at=F("created_at"), level=F("level"),
                escalate_at=F("escalate_at"), acknowledged_at=F("acknowledged_at"),
                acknowledged_by=F(f"acknowledged_by__{get_user_model().USERNAME_FIELD}"),
                out_of_hours=F("out_of_hours"), follow_up_at=F("follow_up_at"),
                resolved_at=F("resolved_at"))), output_field=JSONField()),
    }


_SOON = Submission.Urgency.SOON.rank


def _after_in_order(*fields: str, key: tuple) -> Q:
    """The rows whose ``fields`` come after ``key``, compared in order as a tuple."""
    condition = Q()
    for position in range(len(fields) - 1, -1, -1):
        equal = dict(zip(fields[:position], key[:position], strict=True))
        after = Q(**equal, **{f"{fields[position]}__gt": key[position]})
        condition = after if position == len(fields) - 1 else after | condition
    return condition


def _parts_after(key: QueueKey | None) -> list[Q | None]:
    """For each part of ``_in_queue_order``, which of its rows come after ``key`` (None:
    none of them)."""
    everything = Q()
    if key is None:
        return [everything] * 4
    p, s, t, i = key.priority, key.starts, key.submitted_at, key.pk
    by_tier = _after_in_order("priority", "submitted_at", "id", key=(p, t, i))
    return [
        by_tier if p < _SOON else None,
        everything if p < _SOON else (
            _after_in_order("appointment__starts_at", "submitted_at", "id", key=(s, t, i))
            if p == _SOON and s is not None else None),
        everything if p < _SOON or (p == _SOON and s is not None) else (
            _after_in_order("submitted_at", "id", key=(t, i)) if p == _SOON else None),
        everything if p <= _SOON else by_tier,
    ]


def _in_queue_order(user, filters: QueueFilters, limit: int, *, after: QueueKey | None = None,
                    rows: bool = False) -> list[tuple]:
    """The first ``limit`` cases the user may see that match the filters, in the queue's order
    (after ``after``, when given), each as its key followed by its pk and reference (and, with
    ``rows``, the columns of a ``QueueRow`` after the reference).

    That order (``queue``) puts the soon cases in the order of their appointments, a column of
    another table, so no index can give it and PostgreSQL would join and sort every open case
    to find the first fifty (86 ms with 10,000 open).  Split where the appointment matters,
    each part is read in the order of the open queue's index (``open_queue_order``) and stops
    at ``limit``: the more urgent tiers, the soon cases with an appointment (the few invited
    ones, by their appointment), those without, the routine ones.  One query: the parts'
    keys (UNION ALL), then their rows in the queue's order, with their columns, up to ``limit``.

    The top of the queue (no cursor, no search or dates), which every page, poll and first API
    page asks for, is read by a query built once per process for each shape (``CompiledRead``):
    building the four parts took several times what PostgreSQL takes to run them."""
    if after is None and not (filters.search.strip() or filters.since or filters.until):
        _require_clinician(user)
        everywhere = user.is_superuser
        clinics = () if everywhere else tuple(pk for (pk,) in _CLINICS_OF.rows(user.pk))
        shape = (everywhere, len(clinics), filters.status, filters.urgency, limit, rows)
        read = _TOP_OF_QUEUE.get(shape)
        if read is None:
            read = CompiledRead(
                lambda *clinic_ids: _in_parts(_matching(
                    _in_clinics(clinic_ids, everywhere=shape[0]), filters), limit, rows=rows),
                arguments=(int,) * len(clinics), prepared=True, literal=True)
            if len(_TOP_OF_QUEUE) < _TOP_OF_QUEUE_SHAPES:
                _TOP_OF_QUEUE[shape] = read
        found = read.rows(*clinics) if everywhere or clinics else []
    else:
        parts = _in_parts(_filtered(user, filters), limit, after=after, rows=rows)
        found = [] if parts is None else list(parts)
    return [(QueueKey(priority=row[2], starts=row[3], submitted_at=row[4], pk=row[0]),
             row[0], row[1], *row[5:]) for row in found]


# The top of the queue's reads, by (superuser, how many clinics, status, urgency, how many
# cases, rows): a few.  Each is compiled for the clinics it is asked about with their ids (and
# every other value) written into the statement, and prepared on each pooled connection: the
# plan for those clinics is made once per connection instead of on every request (1.1 ms of
# PostgreSQL's time, against 1.9 ms to run it, with the clinics as a subquery).  A generic
# plan, with the clinics as a parameter, took a hundred times longer.
_TOP_OF_QUEUE: dict[tuple, CompiledRead] = {}
_TOP_OF_QUEUE_SHAPES = 64

# The clinics a user works at, in order: what the top of the queue is read for.
_CLINICS_OF = CompiledRead(
    lambda user_pk: Clinician.clinics.through.objects.filter(clinician__user=user_pk)
    .order_by("clinic").values_list("clinic").distinct(), prepared=True)


def _in_clinics(clinic_ids: tuple[int, ...], *, everywhere: bool) -> QuerySet[Submission]:
    """The submissions of these clinics (all, ``everywhere``)."""
    submissions = Submission.objects.all()
    return submissions if everywhere else submissions.filter(clinic__in=clinic_ids)


def _in_parts(cases: QuerySet[Submission], limit: int, *, after: QueueKey | None = None,
              rows: bool = False) -> QuerySet | None:
    """The first ``limit`` of ``cases`` in the queue's order, read as ``_in_queue_order``
    says: (pk, reference, priority, a soon case's appointment, submitted_at) rows, with
    ``rows`` followed by a ``QueueRow``'s other columns; None when no part can hold a row."""
    starts = Case(When(urgency=Submission.Urgency.SOON, then=F("appointment__starts_at")),
                  default=None, output_field=DateTimeField())
    parts = [
        cases.filter(priority__lt=_SOON).order_by("priority", "submitted_at", "id"),
        cases.filter(priority=_SOON, appointment__isnull=False)
        .order_by("appointment__starts_at", "submitted_at", "id"),
        cases.filter(priority=_SOON, appointment__isnull=True).order_by("submitted_at", "id"),
        cases.filter(priority__gt=_SOON).order_by("priority", "submitted_at", "id"),
    ]
    parts = [part.filter(condition).values("pk")[:limit]
             for part, condition in zip(parts, _parts_after(after), strict=True)
             if condition is not None]
    if not connections[DEFAULT_DB_ALIAS].features.supports_slicing_ordering_in_compound:
        # SQLite: a compound statement may not hold LIMITs directly, but its subqueries may.
        parts = [Submission.objects.filter(pk__in=part).order_by().values("pk")
                 for part in parts]
    if not parts:
        return None
    columns = {"starts": starts, **(_row_columns() if rows else {})}
    # The parts' rows are put in order and their columns read once, for the parts together.
    return (Submission.objects.filter(pk__in=parts[0].union(*parts[1:], all=True))
            .annotate(**columns)
            .order_by("priority", F("starts").asc(nulls_last=True), "submitted_at", "id")
            .values_list("pk", "reference", "priority", "starts", "submitted_at",
                         *(_ROW_COLUMNS if rows else ()))[:limit])


def queue_version(user, filters: QueueFilters = QueueFilters(), *, shown: int = 0,
                  start: int = 0, now: datetime.datetime | None = None) -> str:
    """A short string that changes whenever what ``queue_page(user, filters, shown=...,
    start=...)`` and ``open_emergencies(user)`` show may have changed, read from two indexes
    without touching a case's row: the polled rows answer ``304 Not Modified`` while it stays
    the same.

    Per clinic the user works at: the latest ``Submission.changed_at`` (a new case, and every
    service that changes what a row shows, stamps it) and how many cases are open (which also
    catches a case committed after a later one was stamped, or erased).  A row also depends on
    the clock ("20 minutes ago"; an appointment now sooner than the review window) and on what
    no case stamps (a clinic's settings, a user's name), so the current minute is part of it
    too: whatever happens, the rows are rendered afresh at least once a minute."""
    _require_clinician(user)
    now = now or timezone.now()
    state = _QUEUE_STATE[user.is_superuser].rows(user.pk)
    key = repr((user.pk, filters, shown, start, state,
                now.replace(second=0, microsecond=0).isoformat()))
    return hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _queue_state(user_pk: int, *, everywhere: bool) -> QuerySet:
    """Per clinic of the user (every clinic, ``everywhere``): its pk, the latest
    ``changed_at`` of its cases and how many are open."""
    clinics = Clinic.objects.all() if everywhere else Clinic.objects.filter(
        clinicians__user=user_pk)
    latest = (Submission.objects.filter(clinic=OuterRef("pk")).order_by("-changed_at")
              .values("changed_at")[:1])
    open_cases = (Submission.objects.filter(clinic=OuterRef("pk"), status=Submission.Status.OPEN)
                  .order_by().values("clinic").annotate(n=Count("*")).values("n"))
    return (clinics.annotate(latest=Subquery(latest), open_cases=Subquery(open_cases))
            .order_by("pk").values_list("pk", "latest", "open_cases"))


# Asked by every poll of every open queue page: built once per process (``CompiledRead``), for
# a superuser (every clinic) and for anyone else.
_QUEUE_STATE = {everywhere: CompiledRead(functools.partial(_queue_state, everywhere=everywhere))
                for everywhere in (False, True)}


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


def appointment_note(case: "Submission | QueueRow", *,
                     now: datetime.datetime | None = None) -> AppointmentNote | None:
    """The case's appointment as the queue and the case page say it; None without one."""
    if isinstance(case, QueueRow):
        if case.appointment_starts_at is None:
            return None
        starts_at, status = case.appointment_starts_at, case.appointment_status
        timezone_name, clinic_name = case.clinic_timezone, case.clinic_name
        review_hours = case.clinic_soon_review_hours
    else:
        if case.appointment is None:
            return None
        starts_at, status = case.appointment.starts_at, case.appointment.status
        timezone_name, clinic_name = case.clinic.timezone, case.clinic.name
        review_hours = case.clinic.soon_review_hours
    now = now or timezone.now()
    return AppointmentNote(
        starts_at=starts_at.astimezone(zoneinfo.ZoneInfo(timezone_name)).replace(tzinfo=None),
        clinic_name=clinic_name,
        status=Appointment.Status(status).label,
        sooner_than_review=(case.urgency == Submission.Urgency.SOON
                            and case.status == Submission.Status.OPEN
                            and status == Appointment.Status.BOOKED
                            and now < starts_at < now + datetime.timedelta(hours=review_hours)),
        review_hours=review_hours,
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


def open_emergencies(user) -> list[str]:
    """References of the open emergency cases the user can see (the first 50), oldest first."""
    _require_clinician(user)
    return [reference for reference, in _OPEN_EMERGENCIES[user.is_superuser].rows(user.pk)]


# Asked by every page and rendered poll of the queue: built once per process, as _QUEUE_STATE.
# By priority, not urgency (the same, as a number): the open queue's index then gives the
# emergencies in order, where filtering by urgency read every open case (19 ms with 10,000).
_OPEN_EMERGENCIES = {everywhere: CompiledRead(lambda user_pk, everywhere=everywhere: (
    _scoped(user_pk, everywhere=everywhere)
    .filter(status=Submission.Status.OPEN, priority=Submission.Urgency.EMERGENCY.rank)
    .order_by("priority", "submitted_at", "id").values_list("reference")[:50]))
    for everywhere in (False, True)}


def get_case(user, reference: str, *, audit_view: bool = True) -> Submission:
    """One case with everything the case page shows, in a fixed number of queries; the look is
    audited unless the caller has just acted on it (and audited that)."""
    submission = _find_case(user, reference, visible_submissions(user)
        .select_related("clinic", "questionnaire_version", "alert__acknowledged_by",
                        "claimed_by", "reviewed_by", "appointment")
        .prefetch_related(
            "flags",
            Prefetch("alert__notifications", queryset=Notification.objects.select_related(
                "clinician").prefetch_related("attempts").order_by("level", "pk")),
            Prefetch("alert__call_outcomes",
                     queryset=CallOutcome.objects.select_related("recorded_by")),
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
    return _acknowledge(user, submission, alert)


def _acknowledge(user, submission, alert, *, detail: str = "") -> bool:
    newly = alerts.acknowledge(alert, by=user)
    if newly:
        audit.record(user, AuditEvent.Action.ACKNOWLEDGE, submission=submission, detail=detail)
    return newly


def record_call_outcome(user, reference: str, *, outcome: str) -> CallOutcome:
    """Record what came of the call to the patient of the case's alert
    (``CallOutcome.Outcome``); an alert not yet acknowledged is acknowledged first (the
    clinician has plainly seen it), and both are audited.  Raises ``Invalid`` for an unknown
    outcome, ``NotFound`` for a case without an alert, ``Conflict`` once an outcome resolved
    the alert (nothing is changed then)."""
    submission = _find_case(user, reference, visible_submissions(user).select_related("alert"))
    alert = alert_of(submission)
    if alert is None:
        raise NotFound("This case has no alert, so there is no call outcome to record: use "
                       "the review note.")
    with transaction.atomic():
        if not alert.is_acknowledged:
            _acknowledge(user, submission, alert, detail="on recording the call's outcome")
        recorded = alerts.record_outcome(alert, outcome=outcome, by=user)
        audit.record(user, AuditEvent.Action.CALL_OUTCOME, submission=submission,
                     detail=outcome)
    return recorded


# --- The acknowledgement link in a page ---------------------------------------------------------


@dataclass(frozen=True)
class LinkState:
    """What an acknowledgement link can do for the signed-in user, for its page.  ``kind``:
    ``unknown`` (never made, or changed), ``not_allowed`` (a clinic the user does not work
    at), ``used``, ``expired``, ``acknowledged`` (someone acknowledged the alert another way),
    ``ready`` (one tap acknowledges).  ``reference`` and ``link`` are empty unless the user may
    see the case."""

    kind: str
    reference: str = ""
    link: AlertLink | None = None


def link_state(user, token: str, *, now: datetime.datetime | None = None) -> LinkState:
    """What the link made by ``token`` can do for ``user``; looks only, changes nothing (so a
    mail scanner opening the link acknowledges nothing)."""
    now = now or timezone.now()
    link = links.find_link(token)
    if link is None:
        return LinkState("unknown")
    if not visible_submissions(user).filter(pk=link.alert.submission_id).exists():
        return LinkState("not_allowed")
    reference = link.alert.submission.reference
    if link.used_at is not None:
        kind = "used"
    elif link.expires_at <= now:
        kind = "expired"
    elif link.alert.is_acknowledged:
        kind = "acknowledged"
    else:
        kind = "ready"
    return LinkState(kind, reference, link)


LINK_REFUSALS = {
    "unknown": (NotFound, "This link is not valid: it may have been copied incompletely. Open "
                          "the case from the queue instead."),
    "not_allowed": (Forbidden, "This alert is for a clinic you do not work at, so you cannot "
                               "acknowledge it. Sign in as the clinician it was sent to."),
    "used": (Conflict, "This link has been used already: each works once. Open the case "
                       "instead."),
    "expired": (Conflict, "This link has expired. Open the case instead."),
}


def acknowledge_by_link(user, token: str, *,
                        now: datetime.datetime | None = None) -> tuple[str, bool]:
    """Use the link made by ``token``: acknowledge its alert as ``user`` (audited as the case
    page's button is, noting the link) and spend the link, in one transaction.  Returns the
    case's reference and whether this acknowledged it (False: someone had already).  A link
    another request is using waits for it, then finds it used; an alert someone acknowledged
    meanwhile is left as it is (the link is spent all the same).  Raises ``NotFound``,
    ``Forbidden`` or ``Conflict`` (used, expired) as ``link_state`` describes."""
    now = now or timezone.now()
    with transaction.atomic():
        found = links.find_link(token)
        if found is not None:
            # Held until commit: a second tap waits here and then finds the link used.
            AlertLink.objects.select_for_update().filter(pk=found.pk).first()
        state = link_state(user, token, now=now)
        if state.kind in LINK_REFUSALS:
            error, message = LINK_REFUSALS[state.kind]
            raise error(message)
        AlertLink.objects.filter(pk=state.link.pk, used_at__isnull=True).update(
            used_at=now, used_by=user)
        newly = _acknowledge(user, state.link.alert.submission, state.link.alert,
                             detail="from the link in a page")
    return state.reference, newly


# --- The alert's timeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime.datetime
    text: str
    detail: str = ""


def alert_timeline(alert) -> list[TimelineEntry]:
    """Every step of the alert in time order, from the rows that record it (no separate event
    log to disagree with them): raised; each page, escalation and follow-up with whom it went
    to, and each delivery attempt with its channel and outcome; the acknowledgement; each call
    outcome; each "Send again" from the admin (the audit trail).  Uses the notifications and
    call outcomes ``get_case`` loaded, and one query for the audit trail."""
    if alert is None:
        return []
    entries = [TimelineEntry(alert.created_at, f"Alert raised ({alert.get_urgency_display()})",
                             "clinic closed: out-of-hours contacts paged"
                             if alert.out_of_hours else "")]
    for notification in alert.notifications.all():
        name = notification.clinician.name
        held = " (held for their digest)" if notification.grouped else ""
        entries.append(TimelineEntry(
            notification.created_at,
            f"{notification.get_reason_display()}: {name}{held}",
            f"level {notification.level}; {notification.get_status_display().lower()}"))
        for attempt in notification.attempts.all():
            outcome = attempt.get_outcome_display() or "no outcome recorded (interrupted)"
            entries.append(TimelineEntry(
                attempt.finished_at or attempt.started_at,
                f"{attempt.channel} to {name}: {outcome.lower()}",
                attempt.error))
    if alert.acknowledged_at:
        entries.append(TimelineEntry(alert.acknowledged_at,
                                     f"Acknowledged by {alert.acknowledged_by.get_username()}"))
    for recorded in alert.call_outcomes.all():
        entries.append(TimelineEntry(recorded.recorded_at,
                                     f"Call outcome: {recorded.get_outcome_display()}",
                                     f"by {recorded.recorded_by.get_username()}"))
    for event in AuditEvent.objects.filter(
            submission_id=alert.submission_id,
            action=AuditEvent.Action.SEND_AGAIN).select_related("actor"):
        entries.append(TimelineEntry(event.at, f"Sent again by {event.actor}", event.detail))
    return sorted(entries, key=lambda entry: entry.at)


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
        Submission.objects.filter(pk=submission.pk).update(**changes, changed_at=timezone.now())
        audit.record(user, action, submission=submission, detail=detail)
