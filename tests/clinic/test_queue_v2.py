"""What clinicians see of a version 2 case: the patient's age on the day and sex in the queue
and on the case page, the flags' plain titles in the queue's "why" column, and the derived
values (age, scores) that made a flag fire."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import patient_aged, routine_answers

pytestmark = pytest.mark.django_db

MARBURG = {**routine_answers(), "sex": "male", "pain_walking_or_stairs": True,
           "pain_unchanged_by_movement": True}


@pytest.fixture
def case() -> str:
    response = APIClient().post("/api/submissions/", {
        "patient": patient_aged(67, timezone.localdate()), "answers": MARBURG}, format="json")
    assert response.json()["urgency"] == "emergency"
    return response.json()["reference"]


def test_the_queue_shows_age_sex_and_flag_titles(clinician_client, case):
    page = clinician_client.get("/queue/rows/").content.decode()

    assert "67, male" in page
    assert "Marburg Heart Score 3 or more" in page
    assert "cardiac_marburg_high" not in page


def test_the_queue_api_gives_age_sex_and_titles(clinician, case):
    api = APIClient()
    api.force_authenticate(clinician)

    row = api.get("/api/queue/").json()["results"][0]

    assert (row["reference"], row["age"], row["sex"]) == (case, 67, "male")
    assert {"code": "cardiac_marburg_high", "title": "Marburg Heart Score 3 or more",
            "category": "possible_cardiac", "urgency": "emergency"} in row["flags"]


def test_the_case_page_shows_age_sex_and_the_scores_that_fired(clinician_client, case):
    page = clinician_client.get(f"/cases/{case}/").content.decode()

    assert "67, male" in page
    assert "Marburg Heart Score (0-5): <strong>3</strong>" in page
    assert "standing in for an examination finding" in page  # the palpation proxy


def test_the_case_api_gives_the_flags_derived_values(clinician, case):
    api = APIClient()
    api.force_authenticate(clinician)

    body = api.get(f"/api/submissions/{case}/").json()

    assert (body["patient"]["age"], body["patient"]["sex"]) == (67, "male")
    marburg = next(f for f in body["flags"] if f["code"] == "cardiac_marburg_high")
    assert marburg["evidence"] == {"pain_walking_or_stairs": True,
                                   "pain_unchanged_by_movement": True, "sex": "male"}
    score = next(d for d in marburg["derived"] if d["name"] == "marburg_heart_score")
    assert score["value"] == 3 and len(score["items"]) == 3
