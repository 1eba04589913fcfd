"""Outcomes (issue 14): reviewing a case records, optionally, what happened to the patient and
the clinician's judgement of the screening, on the page and through the API; the screening
performance page counts them per rule-set version, cases judged too low first, for clinical
leads only, with the figures as CSV."""

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import AuditEvent
from intake.models import Submission
from tests.factories import patient_aged, routine_answers

pytestmark = pytest.mark.django_db

LEFT_ARM = {**routine_answers(), "pain_radiates_to": ["left_arm"]}  # soon: cardiac_feature...


def submit(answers) -> str:
    response = APIClient().post("/api/submissions/", {
        "patient": patient_aged(45, timezone.localdate()), "answers": answers}, format="json")
    assert response.status_code == 201
    return response.json()["reference"]


@pytest.fixture
def lead(clinician):
    clinician.user_permissions.add(Permission.objects.get(codename="view_performance"))
    return type(clinician).objects.get(pk=clinician.pk)


def test_review_with_outcome_on_the_page(clinician_client):
    reference = submit(LEFT_ARM)

    response = clinician_client.post(f"/cases/{reference}/review/", {
        "note": "Called: pain from the neck.", "outcome": "appointment",
        "triage_judgement": "too_high", "judged_flag": "cardiac_feature"})

    assert response.status_code == 302
    submission = Submission.objects.get(reference=reference)
    assert (submission.status, submission.outcome, submission.triage_judgement,
            submission.judged_flag) == ("reviewed", "appointment", "too_high", "cardiac_feature")
    event = AuditEvent.objects.get(action="review", reference=reference)
    assert "outcome appointment" in event.detail and "judged too_high (cardiac_feature)" in \
        event.detail


def test_the_outcome_is_optional(clinician_client):
    reference = submit(LEFT_ARM)

    clinician_client.post(f"/cases/{reference}/review/", {"note": ""})

    submission = Submission.objects.get(reference=reference)
    assert (submission.status, submission.outcome, submission.triage_judgement) == (
        "reviewed", "", "")


def test_review_with_outcome_through_the_api(clinician):
    reference = submit(LEFT_ARM)
    api = APIClient()
    api.force_authenticate(clinician)

    response = api.post(f"/api/submissions/{reference}/review/", {
        "outcome": "same_day", "triage_judgement": "right"}, format="json")

    assert response.status_code == 200
    assert (response.json()["outcome"], response.json()["triage_judgement"]) == (
        "same_day", "right")


@pytest.mark.parametrize(("field", "value"), [
    ("outcome", "went_home"), ("triage_judgement", "meh"), ("judged_flag", "no_such_rule")])
def test_a_bad_outcome_is_a_400_and_changes_nothing(clinician, field, value):
    reference = submit(LEFT_ARM)
    api = APIClient()
    api.force_authenticate(clinician)

    response = api.post(f"/api/submissions/{reference}/review/", {field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Submission.objects.get(reference=reference).status == "open"


def test_the_performance_page_counts_outcomes_per_rule_too_low_first(lead):
    api = APIClient()
    api.force_authenticate(lead)
    missed = submit(LEFT_ARM)
    fine = submit(LEFT_ARM)
    submit(routine_answers())
    api.post(f"/api/submissions/{missed}/review/", {
        "triage_judgement": "too_low", "judged_flag": "cardiac_feature_risk",
        "outcome": "emergency_department"}, format="json")
    api.post(f"/api/submissions/{fine}/review/", {
        "triage_judgement": "right", "judged_flag": "cardiac_feature"}, format="json")
    client = api  # the page is for a signed-in lead
    client.force_login(lead)

    page = client.get("/performance/").content.decode()

    assert "3 intakes screened with Rule set v2" in page
    assert page.index("Judged too low") < page.index("Intakes by urgency")
    assert missed in page and fine not in page
    assert "Sent to A&amp;E / 999" in page
    csv_rows = client.get("/performance/?format=csv").content.decode().splitlines()
    assert csv_rows[0].startswith("rule,title,tier,fired,share of intakes")
    feature = next(r for r in csv_rows if r.startswith("cardiac_feature,"))
    assert feature.split(",")[3:] == ["2", "0.6667", "1", "0", "0"]
    risk = next(r for r in csv_rows if r.startswith("cardiac_feature_risk,"))
    assert risk.split(",")[-3:] == ["0", "0", "1"]


def test_the_performance_page_is_for_clinical_leads_only(clinician_client, client):
    assert clinician_client.get("/performance/").status_code == 403
    assert client.get("/performance/").status_code == 302  # to the login page
