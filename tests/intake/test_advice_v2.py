"""What the patient is told with rule set version 2: an urgent possible-cardiac result also
says when to call 999 after all (NICE CG95 safety-netting), in the API's advice and on the
advice page; other urgent results and emergencies are unchanged."""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import Clinic
from intake.advice import advice_for
from intake.views import SESSION_KEY
from tests.factories import CHEST_PAIN, patient_aged, routine_answers

pytestmark = pytest.mark.django_db

SAFETY_NET = "If you have the pain now, or it comes back and lasts more than 15 minutes, call 999"
THINKS_HEART = {**routine_answers(), "thinks_heart": True}  # urgent: patient_thinks_heart
FEVER = {**routine_answers(), "fever_chills": True}  # urgent: fever, not cardiac


def submit(answers) -> dict:
    response = APIClient().post("/api/submissions/", {
        "patient": patient_aged(40, timezone.localdate()), "answers": answers}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_an_urgent_possible_cardiac_result_says_when_to_call_999():
    body = submit(THINKS_HEART)

    assert body["urgency"] == "urgent"
    assert [f["category"] for f in body["flags"]] == ["possible_cardiac"]
    assert SAFETY_NET in body["advice"]


def test_other_urgent_results_and_emergencies_say_what_they_said_before():
    clinic = Clinic.objects.get(is_default=True)
    now = timezone.now()

    fever = submit(FEVER)
    emergency = submit(CHEST_PAIN)

    assert fever["urgency"] == "urgent" and SAFETY_NET not in fever["advice"]
    assert fever["advice"] == str(advice_for("urgent", clinic, now))
    assert emergency["advice"] == str(advice_for("emergency", clinic, now))
    assert emergency["advice"].startswith("Call 999 now.")


@pytest.mark.parametrize("moment", [
    datetime.datetime(2026, 12, 1, 11, 0, tzinfo=datetime.UTC),  # open: we will phone today
    datetime.datetime(2026, 12, 5, 11, 0, tzinfo=datetime.UTC),  # Saturday: call 111
])
def test_the_safety_net_comes_in_and_out_of_hours(moment):
    clinic = Clinic.objects.get(is_default=True)

    advice = advice_for("urgent", clinic, moment, possible_cardiac=True)

    assert SAFETY_NET in str(advice)
    assert advice.headline == advice_for("urgent", clinic, moment).headline


def test_the_advice_page_shows_the_safety_net(client):
    body = submit(THINKS_HEART)
    session = client.session
    session[SESSION_KEY] = body["reference"]
    session.save()

    page = client.get("/advice/").content.decode()

    assert SAFETY_NET in page
