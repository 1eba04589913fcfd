"""Who to alert: the clinician on duty now, the backup chain and the out-of-hours contacts.

All times are the clinic's local time (``clinic.hours.local_time``), so the rota follows the
change to and from summer time: a shift from 09:00 to 17:00 is 09:00 to 17:00 on the clock on
the wall, whatever the offset from UTC that day.
"""

import datetime

from clinic.hours import is_open, local_time
from clinic.models import Clinic, Clinician, DutyContact, DutyShift


def on_duty(clinic: Clinic, at: datetime.datetime) -> list[Clinician]:
    """The active clinicians whose shift covers ``at``; a shift with no times follows the
    clinic's opening hours that day."""
    local = local_time(clinic, at)
    now = local.time()
    opening = [h for h in clinic.opening_hours.all() if h.weekday == local.weekday()]
    clinicians = []
    shifts = (
        DutyShift.objects.filter(clinic=clinic, weekday=local.weekday(), clinician__is_active=True)
        .select_related("clinician")
        .order_by("starts", "pk")
    )
    for shift in shifts:
        if shift.starts is None and shift.ends is None and opening:
            covers = any(h.opens <= now < h.closes for h in opening)
        else:
            starts = shift.starts or min((h.opens for h in opening), default=datetime.time.min)
            ends = shift.ends or max((h.closes for h in opening), default=datetime.time.max)
            covers = starts <= now < ends
        if covers and shift.clinician not in clinicians:
            clinicians.append(shift.clinician)
    return clinicians


def contacts(clinic: Clinic, role: str) -> list[Clinician]:
    return [
        contact.clinician
        for contact in DutyContact.objects.filter(
            clinic=clinic, role=role, clinician__is_active=True
        ).select_related("clinician")
    ]


def escalation_chain(clinic: Clinic, at: datetime.datetime) -> tuple[list[list[Clinician]], bool]:
    """The steps an alert raised at ``at`` goes through, and whether the clinic is closed.

    Step 0 is alerted at once: the clinicians on duty and, when the clinic is closed or nobody
    is on duty, the out-of-hours contacts.  Each later step is one backup, in order.  Steps
    repeat from the start until someone acknowledges.  An empty step is left out, so an empty
    rota falls through to whoever is listed.
    """
    closed = not is_open(clinic, at)
    first = on_duty(clinic, at)
    if closed or not first:
        first += [c for c in contacts(clinic, DutyContact.Role.OUT_OF_HOURS) if c not in first]
    backups = [[clinician] for clinician in contacts(clinic, DutyContact.Role.BACKUP)]
    steps = [step for step in [first, *backups] if step]
    return steps, closed
