"""Test data in one place: the clinical vignettes, answer sets and patients to submit, and the
helpers that submit them.

Every test that needs answers to the current questionnaire (version 2) takes them from here, so
a new questionnaire version means changing this module, not fifty tests.  Version 1 data stays
for the tests that prove old records stay readable.  No test module imports another test module:
what two of them share lives here (or, for the browser, in ``tests/browser/patient.py`` and
``tests/browser/clinician.py``).

The data itself (vignettes, answers, patients) is in ``support/clinical_data.py``, which the
benchmarks in ``bench/`` use too; this module adds what only tests do with it.
"""

from __future__ import annotations

import datetime
import json

from django.utils import timezone

from intake.models import Submission
from intake.services.submissions import submit_intake
from support.clinical_data import (
    ANSWERS_BY_URGENCY,
    CHEST_PAIN,
    EMERGENCY,
    PATIENT,
    PATIENT_OF_ANY_AGE,
    ROUTINE,
    SOON,
    URGENT,
    VIGNETTES,
    VIGNETTES_V1,
    date_of_birth_for,
    facts,
    patient_aged,
    routine_answers,
    routine_answers_v1,
    vignette,
)

__all__ = [
    "ANSWERS_BY_URGENCY", "CHEST_PAIN", "EMERGENCY", "PATIENT", "PATIENT_OF_ANY_AGE", "ROUTINE",
    "SOON", "SUBMISSIONS_URL", "URGENT", "VIGNETTES", "VIGNETTES_V1", "about_you",
    "date_of_birth_for", "facts", "fill_form", "form_data", "make_case", "patient_aged",
    "post_submission", "routine_answers", "routine_answers_v1", "send_form", "vignette",
]

SUBMISSIONS_URL = "/api/submissions/"


def post_submission(client, body, **headers):
    """POST ``body`` (a dict, sent as JSON, or the raw str or bytes) to /api/submissions/ with
    Django's test ``client``, as a REST client sends an intake."""
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(SUBMISSIONS_URL, data=data, content_type="application/json",
                       headers=headers)


def form_data(answers=ROUTINE, **extra):
    """What a browser posts from a page of the patient's form: the answers as strings, a list
    per several-choices question (a page keeps the ones it asks and ignores the rest)."""
    data = {}
    for code, value in answers.items():
        if isinstance(value, bool):
            data[code] = "true" if value else "false"
        elif isinstance(value, list):
            data[code] = value
        else:
            data[code] = str(value)
    return {**data, **extra}


def about_you(patient=PATIENT) -> dict:
    """What a browser posts from the form's "About you" page (the date of birth in three
    boxes)."""
    born = datetime.date.fromisoformat(patient["date_of_birth"])
    return {"full_name": patient["full_name"], "dob_day": str(born.day),
            "dob_month": str(born.month), "dob_year": str(born.year),
            "phone": patient["phone"], "email": patient.get("email", "")}


def fill_form(client, answers=ROUTINE, patient=PATIENT, *, start="/", **request):
    """Fill in the patient's form page by page, as a browser without JavaScript does, from its
    first page at ``start`` up to "Check your answers" (not sent); ``request`` goes with each
    POST (e.g. ``REMOTE_ADDR``).  Returns the last response: the redirect to the check page, or
    the page that had problems (200)."""
    response = client.post(start, about_you(patient), **request)
    while response.status_code == 302 and "/step/" in response["Location"]:
        response = client.post(response["Location"], form_data(answers), **request)
    return response


def send_form(client, answers=ROUTINE, patient=PATIENT, *, start="/", **request):
    """Fill in the form (``fill_form``) and send it from "Check your answers"; returns the
    response to the send (a redirect to /advice/ when it went), or the page with problems."""
    response = fill_form(client, answers, patient, start=start, **request)
    if response.status_code != 302:
        return response
    return client.post(response["Location"], **request)


def make_case(urgency, *, name="Ada Example", minutes_ago=0):
    """A case in the review queue: ``PATIENT``, called ``name``, sent answers of ``urgency``
    (``ANSWERS_BY_URGENCY``) through the submission service ``minutes_ago`` minutes ago."""
    submission = submit_intake(patient={**PATIENT, "full_name": name},
                               answers=ANSWERS_BY_URGENCY[urgency]).submission
    Submission.objects.filter(pk=submission.pk).update(
        submitted_at=timezone.now() - datetime.timedelta(minutes=minutes_ago))
    assert submission.urgency == urgency
    return submission
