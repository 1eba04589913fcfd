"""Appointments: made by a booking system over REST, by a CSV import or in the admin; each one
invites its patient to fill in the intake before it (``intake.services.invitations``).

Who may: a superuser, or a user with the appointment permissions (``intake.add_appointment``
to make or change, ``intake.view_appointment`` to list) who manages the clinic, as its staff
(``Clinic.staff``: reception, practice managers, a booking system's account) or as one of its
clinicians.  Anyone else is refused; an appointment at a clinic the user does not manage is
"not found", whether or not it exists.

A booking system names an appointment by its own ``external_id``, unique per clinic: sending
the same one again updates the appointment (an upsert, safe to retry, and safe when two arrive
at once: the database's unique constraint decides, and the loser updates).
"""

import csv
import datetime
import io
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from clinic.hours import local_time
from clinic.models import Clinic, Clinician
from core.errors import Forbidden, Invalid, NotFound
from intake.models import Appointment, Invitation, Submission
from intake.quoting import quoted
from intake.services import invitations
from intake.services.patients import PatientInvalid, clean_patient

FIELDS = ("clinic", "starts_at", "external_id", "practitioner", "status", "patient")
MAX_EXTERNAL_ID = 100


class AppointmentInvalid(Invalid):
    """``errors`` maps each field at fault (``patient`` to its own mapping) to its messages."""


@dataclass(frozen=True)
class SavedAppointment:
    appointment: Appointment
    invitation: Invitation
    created: bool

    @property
    def invitation_token(self) -> str:
        return invitations.token_of(self.invitation)

    @property
    def invitation_url(self) -> str:
        return invitations.link_of(self.invitation)


# --- Who may ----------------------------------------------------------------------------------


def managed_clinics(user, *, change: bool = False) -> QuerySet[Clinic]:
    """The clinics whose appointments ``user`` may list (or, with ``change``, make and change)."""
    permission = "intake.add_appointment" if change else "intake.view_appointment"
    if not (user.is_authenticated and user.is_active and user.has_perm(permission)):
        raise Forbidden("Only a clinic's staff can see or make its appointments; ask an admin "
                        "for the appointment permissions.")
    if user.is_superuser:
        return Clinic.objects.all()
    return Clinic.objects.filter(Q(staff=user) | Q(clinicians__user=user)).distinct()


def appointment_for(user, pk: Any, *, change: bool = False) -> Appointment:
    clinics = managed_clinics(user, change=change)
    if type(pk) is not int:
        raise NotFound("No such appointment.")
    appointment = (Appointment.objects.select_related("clinic", "invitation")
                   .filter(pk=pk, clinic__in=clinics).first())
    if appointment is None:
        raise NotFound("No such appointment.")
    return appointment


# --- Making and changing ----------------------------------------------------------------------


def save_appointment(user, data: Any, *, now: datetime.datetime | None = None) -> SavedAppointment:
    """Make an appointment from ``data`` (JSON types, as ``POST /api/appointments/`` takes it),
    or update the one with the same ``external_id`` at the same clinic."""
    now = now or timezone.now()
    clinics = managed_clinics(user, change=True)
    cleaned = _clean(data, clinics, partial=False, now=now)
    try:
        with transaction.atomic():
            return _upsert(cleaned, now)
    except IntegrityError:
        # Another request made the same appointment at the same moment: update it.
        if not cleaned.get("external_id"):
            raise
        with transaction.atomic():
            return _upsert(cleaned, now)


def change_appointment(user, pk: Any, data: Any, *,
                       now: datetime.datetime | None = None) -> SavedAppointment:
    """Reschedule, cancel or correct an appointment (``PATCH``): only the fields sent change."""
    now = now or timezone.now()
    appointment = appointment_for(user, pk, change=True)
    cleaned = _clean(data, Clinic.objects.filter(pk=appointment.clinic_id), partial=True, now=now,
                     clinic=appointment.clinic)
    if "clinic" in cleaned and cleaned["clinic"].pk != appointment.clinic_id:
        raise AppointmentInvalid({"clinic": ["An appointment cannot move to another clinic; "
                                             "cancel it and make a new one there."]})
    with transaction.atomic():
        _apply(appointment, cleaned, now)
        invitation = _invitation(appointment)
    return SavedAppointment(appointment, invitation, created=False)


def _upsert(cleaned: dict, now) -> SavedAppointment:
    existing = None
    if cleaned.get("external_id"):
        existing = (Appointment.objects.select_for_update()
                    .filter(clinic=cleaned["clinic"], external_id=cleaned["external_id"]).first())
    if existing is not None:
        _apply(existing, cleaned, now)
        return SavedAppointment(existing, _invitation(existing), created=False)
    appointment = Appointment(created_at=now)
    _apply(appointment, cleaned, now)
    return SavedAppointment(appointment, _invitation(appointment), created=True)


def _apply(appointment: Appointment, cleaned: dict, now) -> None:
    for field, value in cleaned.items():
        if field == "patient":
            for name in ("full_name", "date_of_birth", "phone", "email"):
                setattr(appointment, name, getattr(value, name))
        else:
            setattr(appointment, field, value)
    appointment.updated_at = now
    appointment.save()
    # The queue's row of the intake made from it shows the appointment.
    Submission.objects.filter(appointment=appointment).update(changed_at=now)


def invite(appointment: Appointment) -> Invitation:
    """Make sure a saved appointment (made in the admin, say) has its invitation."""
    return _invitation(appointment)


def unlock(invitation: Invitation) -> None:
    """Let the patient try their date of birth again (after they called the clinic)."""
    Invitation.objects.filter(pk=invitation.pk).update(locked_at=None, failed_checks=0)


# --- A CSV file of appointments -----------------------------------------------------------------

CSV_COLUMNS = ("clinic", "starts_at", "external_id", "full_name", "date_of_birth", "phone",
               "email")
MAX_CSV_ROWS = 5000


@dataclass(frozen=True)
class ImportRow:
    line: int
    values: dict
    errors: list[str]
    action: str = ""  # "new" or "update" once checked; "made" or "updated" once imported


@dataclass(frozen=True)
class ImportReport:
    rows: list[ImportRow]
    problems: list[str]  # with the file itself

    @property
    def ok(self) -> bool:
        return not self.problems and all(not row.errors for row in self.rows)


def import_csv(user, text: str, *, commit: bool, now: datetime.datetime | None = None
               ) -> ImportReport:
    """Check (``commit=False``: the preview) or import a CSV of appointments, one per row,
    with the columns ``CSV_COLUMNS`` (a header row first).  Every row is checked as the REST
    API checks one; nothing is imported unless every row is right, and then all are, in one
    transaction (rows with an ``external_id`` already there update it)."""
    now = now or timezone.now()
    clinics = managed_clinics(user, change=True)
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in ("clinic", "starts_at", "full_name", "date_of_birth")
               if name not in header]
    unknown = [name for name in header if name not in CSV_COLUMNS]
    problems = []
    if missing:
        problems.append("The first row must name the columns; missing: " + ", ".join(missing)
                        + ". The columns are: " + ", ".join(CSV_COLUMNS) + ".")
    if unknown:
        problems.append("Unknown columns: " + ", ".join(unknown) + ".")
    if problems:
        return ImportReport([], problems)
    rows = []
    for number, record in enumerate(reader, start=2):
        if len(rows) >= MAX_CSV_ROWS:
            return ImportReport(rows, [f"More than {MAX_CSV_ROWS} rows: split the file."])
        values = {(key or "").strip(): (value or "").strip() for key, value in record.items()
                  if key is not None}
        rows.append(_check_row(number, values, clinics, now))
    if not rows:
        return ImportReport([], ["The file has no appointments below its first row."])
    report = ImportReport(rows, [])
    if not commit or not report.ok:
        return report
    with transaction.atomic():
        done = [ImportRow(row.line, row.values, [], _import_row(row.values, clinics, now))
                for row in rows]
    return ImportReport(done, [])


def _as_data(values: dict) -> dict:
    data = {"clinic": values.get("clinic"), "starts_at": values.get("starts_at"),
            "patient": {field: values.get(field, "")
                        for field in ("full_name", "date_of_birth", "phone", "email")}}
    if values.get("external_id"):
        data["external_id"] = values["external_id"]
    return data


def _check_row(number: int, values: dict, clinics, now) -> ImportRow:
    try:
        cleaned = _clean(_as_data(values), clinics, partial=False, now=now)
    except AppointmentInvalid as invalid:
        return ImportRow(number, values, _row_messages(invalid.errors))
    exists = bool(cleaned.get("external_id")) and Appointment.objects.filter(
        clinic=cleaned["clinic"], external_id=cleaned["external_id"]).exists()
    return ImportRow(number, values, [], "update" if exists else "new")


def _import_row(values: dict, clinics, now) -> str:
    saved = _upsert(_clean(_as_data(values), clinics, partial=False, now=now), now)
    return "made" if saved.created else "updated"


def _row_messages(errors: dict, prefix: str = "") -> list[str]:
    messages = []
    for field, problems in errors.items():
        name = field if field != "non_field_errors" else ""
        if isinstance(problems, dict):
            messages += _row_messages(problems, prefix)
        else:
            messages += [f"{prefix}{name}: {problem}" if name else problem
                         for problem in problems]
    return messages


def _invitation(appointment: Appointment) -> Invitation:
    """The appointment's invitation, made (and queued to send after commit) the first time."""
    invitation = Invitation.objects.filter(appointment=appointment).first()
    if invitation is None:
        invitation = invitations.new_invitation(appointment)
        transaction.on_commit(lambda: invitations.queue(invitation.pk))
    invitation.appointment = appointment
    return invitation


# --- Checking what was sent ---------------------------------------------------------------------


def _clean(data: Any, clinics: QuerySet[Clinic], *, partial: bool, now,
           clinic: Clinic | None = None) -> dict:
    if not isinstance(data, dict):
        raise AppointmentInvalid({"non_field_errors": [
            "Send the appointment as a JSON object with clinic, starts_at, external_id and "
            "patient."]})
    errors: dict[str, Any] = {}
    unknown = [key for key in data if key not in FIELDS]
    if unknown:
        errors["non_field_errors"] = [
            f"Unknown field {quoted(str(key))}; an appointment has {', '.join(FIELDS)}."
            for key in unknown[:5]]
    cleaned: dict[str, Any] = {}
    if not partial or "clinic" in data:
        clinic = _check(errors, cleaned, "clinic", lambda: _clinic(data.get("clinic"), clinics))
    if clinic is None:
        raise AppointmentInvalid(errors)
    checks = {
        "starts_at": lambda value: _starts_at(value, clinic),
        "external_id": _external_id,
        "practitioner": lambda value: _practitioner(value, clinic),
        "status": _status,
        "patient": lambda value: _patient(value, clinic, now),
    }
    optional = {"external_id", "practitioner", "status"}
    for field, check in checks.items():
        if field in data or (not partial and field not in optional):
            _check(errors, cleaned, field, lambda check=check, field=field: check(data.get(field)))
    if errors:
        raise AppointmentInvalid(errors)
    return cleaned


def _check(errors: dict, cleaned: dict, field: str, check):
    try:
        cleaned[field] = check()
    except PatientInvalid as invalid:
        errors[field] = invalid.errors
    except _Wrong as wrong:
        errors[field] = [str(wrong)]
    return cleaned.get(field)


class _Wrong(Exception):
    pass


def _clinic(value, clinics: QuerySet[Clinic]) -> Clinic:
    if not isinstance(value, str) or not value:
        raise _Wrong("Name the clinic by its slug, e.g. “bedford”.")
    clinic = clinics.filter(slug=value).first()
    if clinic is None:
        raise _Wrong(f"No clinic {quoted(value)} that you manage.")
    return clinic


def _starts_at(value, clinic: Clinic) -> datetime.datetime:
    if not isinstance(value, str):
        raise _Wrong("Send the start as an ISO 8601 date and time, e.g. "
                     "2026-12-07T09:30:00+00:00.")
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise _Wrong("Send the start as an ISO 8601 date and time, e.g. "
                     "2026-12-07T09:30:00+00:00.") from None
    if timezone.is_naive(moment):
        # No offset: the clinic's local time.
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(clinic.timezone))
    return moment


def _external_id(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise _Wrong("Send the booking system's id as text.")
    value = str(value).strip()
    if len(value) > MAX_EXTERNAL_ID or not value.isprintable():
        raise _Wrong(f"Keep the id to {MAX_EXTERNAL_ID} printable characters.")
    return value


def _practitioner(value, clinic: Clinic) -> Clinician | None:
    if value is None:
        return None
    if type(value) is not int:
        raise _Wrong("Name the practitioner by their clinician id (a whole number), or null.")
    clinician = Clinician.objects.filter(pk=value, clinics=clinic).first()
    if clinician is None:
        raise _Wrong(f"No clinician {value} at this clinic.")
    return clinician


def _status(value) -> str:
    if value not in Appointment.Status.values:
        raise _Wrong("The status is one of " + ", ".join(Appointment.Status.values) + ".")
    return value


def _patient(value, clinic: Clinic, now):
    return clean_patient(value, today=local_time(clinic, now).date(), phone_required=False)


# --- The day's list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayRow:
    appointment: Appointment
    intake: Submission | None

    @property
    def starts_local(self) -> datetime.datetime:
        """The clinic's wall-clock time (naive: templates show it as it is)."""
        return local_time(self.appointment.clinic, self.appointment.starts_at).replace(
            tzinfo=None)

    @property
    def intake_status(self) -> str:
        if self.intake is not None:
            return "done"
        invitation = getattr(self.appointment, "invitation", None)
        if invitation is not None and invitation.locked_at is not None:
            return "locked"
        return "not started"


def day(user, clinic_slug: Any, date: Any) -> tuple[Clinic, datetime.date, list[DayRow]]:
    """A clinic's appointments on one local date, each with its intake (if done): a fixed
    number of queries, however many appointments."""
    clinics = managed_clinics(user)
    errors = {}
    clinic = clinics.filter(slug=clinic_slug).first() if isinstance(clinic_slug, str) else None
    if clinic is None:
        errors["clinic"] = ["Name a clinic you manage by its slug, e.g. ?clinic=bedford."]
    try:
        on = datetime.date.fromisoformat(date) if isinstance(date, str) else None
    except ValueError:
        on = None
    if on is None:
        errors["date"] = ["Give the date as YYYY-MM-DD, e.g. ?date=2026-12-07."]
    if errors:
        raise AppointmentInvalid(errors)
    zone = zoneinfo.ZoneInfo(clinic.timezone)
    start = datetime.datetime.combine(on, datetime.time(0), tzinfo=zone)
    end = datetime.datetime.combine(on + datetime.timedelta(days=1), datetime.time(0),
                                    tzinfo=zone)
    appointments = (Appointment.objects.filter(clinic=clinic, starts_at__gte=start,
                                               starts_at__lt=end)
                    .select_related("clinic", "invitation", "practitioner", "intake")
                    .order_by("starts_at", "pk"))
    rows = [DayRow(a, getattr(a, "intake", None)) for a in appointments]
    return clinic, on, rows
