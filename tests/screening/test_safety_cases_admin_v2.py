"""Safety cases in the admin: exported as JSON by an action, imported from a JSON file (all or
nothing, problems named on the page)."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from intake.models import Questionnaire
from screening.models import SafetyCase

pytestmark = pytest.mark.django_db


def test_the_export_action_downloads_the_selected_cases_as_json(admin_client):
    chosen = list(SafetyCase.objects.filter(name__in=["v2-01", "v2-02"]).values_list(
        "pk", flat=True))

    response = admin_client.post("/admin/screening/safetycase/", {
        "action": "export_action", "_selected_action": chosen})

    assert response["Content-Type"] == "application/json"
    cases = json.loads(response.content)
    assert [case["name"] for case in cases] == ["v2-01", "v2-02"]
    assert cases[0]["expected_urgency"] == "routine" and cases[0]["answers"]["sex"] == "female"


def test_a_json_file_imports_new_cases_and_updates_existing_ones(admin_client):
    questionnaire = Questionnaire.objects.get(slug="upper-back-pain")
    case = SafetyCase.objects.get(name="v2-01")
    upload = [{"name": "v2-01", "description": case.description, "age": 35,
               "answers": case.answers, "expected_urgency": "routine", "expected_flags": []},
              {"name": "incident-1", "description": "Chest pain, missed in a pilot",
               "age": 61, "answers": {**case.answers, "chest_pain": True},
               "expected_urgency": "emergency", "expected_flags": ["cardiac_chest_pain"]}]

    response = admin_client.post("/admin/screening/safetycase/import/", {
        "questionnaire": questionnaire.pk,
        "file": SimpleUploadedFile("cases.json", json.dumps(upload).encode())})

    assert response.status_code == 302
    assert SafetyCase.objects.get(name="v2-01").age == 35
    assert SafetyCase.objects.get(name="incident-1").expected_flags == ["cardiac_chest_pain"]


def test_a_bad_file_changes_nothing_and_says_why(admin_client):
    questionnaire = Questionnaire.objects.get(slug="upper-back-pain")
    before = SafetyCase.objects.count()

    response = admin_client.post("/admin/screening/safetycase/import/", {
        "questionnaire": questionnaire.pk,
        "file": SimpleUploadedFile("cases.json", b'[{"name": "x", "age": -3}]')})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Case 1 (x)" in page and "expected_urgency" in page
    assert SafetyCase.objects.count() == before
    response = admin_client.post("/admin/screening/safetycase/import/", {
        "questionnaire": questionnaire.pk,
        "file": SimpleUploadedFile("cases.json", b"not json")})
    assert "The file is not JSON" in response.content.decode()
