"""What a page says about an alert besides its reference: what the patient was told, and the
deadline before the sweep acts, in the clinic's local time.

The advice must be what the patient actually read.  ``intake.advice`` wrote it, with the same
inputs this reads back from the alert: the urgency, whether the clinic was open at the moment
of submitting (``Alert.out_of_hours``, decided at the same instant by the same
``clinic.hours.is_open``), and the clinic's emergency and out-of-hours numbers.  (Alerting sits
below ``intake.advice`` in the layers, so it cannot ask it; ``tests/alerts`` checks the two
agree.)  Nothing about the patient: not even the safety net a cardiac flag adds.
"""

import datetime

from clinic.hours import local_time
from clinic.models import Alert, Notification
from screening.urgency import Urgency


def patient_told(alert: Alert) -> str:
    """What the patient was told to do, as a clause: "call 999 now"."""
    clinic = alert.clinic
    if alert.urgency == Urgency.EMERGENCY:
        return f"call {clinic.emergency_number} now"
    if alert.out_of_hours:
        return (f"the clinic is closed, call {clinic.out_of_hours_number} now for urgent "
                "medical advice")
    return "a clinician will phone them today"


def local_deadline(alert: Alert, at: datetime.datetime | None) -> str:
    """``at`` in the clinic's time zone, in words a phone shows in full: "14:35 BST, Tue 3 Jun"
    ("" for none)."""
    if at is None:
        return ""
    local = local_time(alert.clinic, at)
    return f"{local:%H:%M} {local.tzname()}, {local:%a} {local.day} {local:%b}"


def deadline_of(notification: Notification) -> datetime.datetime | None:
    """When the sweep acts next on the alert this page is about: its escalation time while it
    is unacknowledged, its follow-up time after."""
    alert = notification.alert
    return alert.follow_up_at if notification.is_follow_up else alert.escalate_at
