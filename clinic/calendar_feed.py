"""A clinician's duty calendar: their effective shifts (``clinic.rota.effective_rota``) for the
coming weeks as an iCalendar feed (RFC 5545, built with the ``icalendar`` library), at a private
address a calendar app subscribes to.

The address carries a random token, since a calendar app cannot sign in.  Only the token's
SHA-256 is stored (``DutyCalendarLink``), so the address is shown once, when it is made; making a
new one or turning it off stops the old one working.  The feed holds shifts only: the clinic,
the times and whether it is cover.  No patient data, no alerts, no other clinician's shifts.
"""

import datetime
import hashlib
import secrets

import icalendar
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clinic import audit
from clinic.models import AuditEvent, Clinic, Clinician, DutyCalendarLink
from clinic.rota import Duty, effective_rota

WEEKS_AHEAD = 8
DAYS_BEHIND = 7  # last week's shifts stay visible, for the record
PRODUCT_ID = "-//BackCheck//Duty rota//EN"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def make_link(clinician: Clinician, *, by) -> str:
    """A new calendar token for ``clinician`` (any earlier one stops working), audited; the
    caller shows it once."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        DutyCalendarLink.objects.update_or_create(
            clinician=clinician,
            defaults={"token_hash": _hash(token), "created_at": timezone.now(),
                      "last_used_at": None})
        audit.record(by, AuditEvent.Action.CALENDAR_LINK,
                     detail=f"made a duty calendar link for clinician {clinician.pk}")
    return token


def revoke_link(clinician: Clinician, *, by) -> bool:
    """Turn off ``clinician``'s calendar address; False when they had none."""
    with transaction.atomic():
        deleted, _ = DutyCalendarLink.objects.filter(clinician=clinician).delete()
        if deleted:
            audit.record(by, AuditEvent.Action.CALENDAR_LINK,
                         detail=f"turned off the duty calendar link of clinician {clinician.pk}")
    return bool(deleted)


def clinician_for_token(token: str) -> Clinician | None:
    """The active clinician whose calendar address carries ``token``, or None; notes the use."""
    link = (DutyCalendarLink.objects.select_related("clinician")
            .filter(token_hash=_hash(token), clinician__is_active=True).first())
    if link is None:
        return None
    DutyCalendarLink.objects.filter(pk=link.pk).update(last_used_at=timezone.now())
    return link.clinician


def duty_calendar(clinician: Clinician, *, now: datetime.datetime | None = None) -> bytes:
    """The iCalendar document of ``clinician``'s shifts from a week ago to ``WEEKS_AHEAD``
    weeks ahead, at every clinic that has them on its rota, as the rota stands now (cover and
    leave applied).  Times are in UTC, which every calendar app shows in its own time zone."""
    now = now or timezone.now()
    since = now - datetime.timedelta(days=DAYS_BEHIND)
    until = now + datetime.timedelta(weeks=WEEKS_AHEAD)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Duty rota: {clinician.name}")
    # Calendar apps that honour it fetch the feed again every hour.
    calendar.add("refresh-interval", datetime.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for clinic, duty in shifts_of(clinician, since, until):
        event = icalendar.Event()
        event.add("uid", f"duty-{clinic.pk}-{clinician.pk}-"
                         f"{duty.starts_at:%Y%m%dT%H%M%SZ}@{settings.ALERT_MESSAGE_ID_DOMAIN}")
        event.add("dtstamp", now.astimezone(datetime.UTC))
        event.add("dtstart", duty.starts_at)
        event.add("dtend", duty.ends_at)
        event.add("summary", f"On duty: {clinic.name}" + (" (cover)" if duty.is_cover else ""))
        event.add("description", _description(duty))
        event.add("transp", "OPAQUE")
        event.add("categories", ["Duty rota"])
        calendar.add_component(event)
    return calendar.to_ical()


def shifts_of(clinician: Clinician, since: datetime.datetime,
              until: datetime.datetime) -> list[tuple[Clinic, Duty]]:
    """``clinician``'s stretches of duty overlapping ``[since, until)`` at every clinic with a
    weekly shift or a cover for them, earliest first, on the effective rota."""
    clinics = (Clinic.objects.filter(pk__in=clinician.shifts.values("clinic"))
               | Clinic.objects.filter(pk__in=clinician.covers.values("clinic")))
    found = [(clinic, duty) for clinic in clinics.prefetch_related("opening_hours")
             for duty in effective_rota(clinic, since, until)
             if duty.clinician.pk == clinician.pk]
    return sorted(found, key=lambda pair: (pair[1].starts_at, pair[0].name))


def _description(duty: Duty) -> str:
    if not duty.is_cover:
        return "On duty on the weekly rota: you are paged for urgent and emergency intakes."
    cover = duty.cover
    instead = f" instead of {cover.instead_of.name}" if cover.instead_of_id else ""
    note = f" ({cover.note})" if cover.note else ""
    return f"Cover{instead}{note}: you are paged for urgent and emergency intakes."
