"""What the end-to-end alerting tests share: submitting through the API, what an alert must
never carry, and bounded waits on the database."""

import datetime
import re

from django.utils import timezone
from rest_framework.test import APIClient

from clinic.alerting import alerts
from clinic.models import Alert, Heartbeat, Notification
from support.real_services import wait_until
from tests.factories import (
    EMERGENCY,
    PATIENT,
    URGENT,
    patient_aged,
    post_submission,
    routine_answers,
)

SITE_URL = "https://clinic.test"
# A worker holds a notification this long before another may take it over; short, so a test
# that kills a worker does not wait a minute for the sweep to hand its work on.
CLAIM_SECONDS = 3
SWEEP_SECONDS = 1

END_OF_DAY = datetime.time(23, 59, 59, 999999)

TRAUMA_TEXT = "Slipped on the ice outside Tesco and landed on my back"
# Chest pain (an emergency), and a minor fall told in the patient's own words.
ANSWERS = routine_answers(**EMERGENCY, recent_trauma=True, trauma_details=TRAUMA_TEXT)

# What an alert must never carry: who the patient is, and what they answered.
PATIENT_DATA = [
    PATIENT["full_name"], "Ada", PATIENT["phone"], "7700 900123", "7700900123",
    PATIENT["date_of_birth"], "02/03/1971", "1971", PATIENT["email"], TRAUMA_TEXT, "Tesco",
    "chest", "between_shoulder_blades", "after_strain", "desk_sitting",
]


def patient_data_in(text: str) -> list[str]:
    return [item for item in PATIENT_DATA
            if re.search(rf"(?<!\w){re.escape(item)}(?!\w)", text, re.IGNORECASE)]


def submit_emergency(client) -> str:
    response = post_submission(client, {"patient": PATIENT, "answers": ANSWERS})
    assert response.status_code == 201, response.content
    assert response.json()["urgency"] == "emergency"
    return response.json()["reference"]


def raise_urgent() -> Alert:
    """An urgent intake through the API (in this process, no broker); its alert."""
    response = APIClient().post("/api/submissions/", {
        "patient": patient_aged(40, timezone.localdate()), "answers": routine_answers(**URGENT)},
        format="json")
    assert response.json()["urgency"] == "urgent"
    return Alert.objects.get(submission__reference=response.json()["reference"])


def notification_for(reference: str, clinician) -> Notification:
    return Notification.objects.get(alert__submission__reference=reference, clinician=clinician)


def wait_for_status(notification: Notification, status: str, *, detail=None,
                    timeout: float = 30) -> Notification:
    def reached():
        notification.refresh_from_db()
        return notification.status == status

    wait_until(reached, what=f"notification {notification.pk} to be {status}", detail=detail,
               timeout=timeout)
    return notification


def wait_for_sweeps(count: int = 2, *, detail=None) -> None:
    """Let the beat-driven sweep run ``count`` more times (it would re-queue anything due)."""
    since = Heartbeat.objects.get(name=alerts.SWEEP_HEARTBEAT).last_run_at

    def swept():
        heartbeat = Heartbeat.objects.get(name=alerts.SWEEP_HEARTBEAT).last_run_at
        return (heartbeat - since).total_seconds() >= count * SWEEP_SECONDS

    wait_until(swept, what=f"{count} more sweeps", detail=detail,
               timeout=10 + count * SWEEP_SECONDS * 3)
