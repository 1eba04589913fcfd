"""The version 2 clinical vignettes (``tests/data/vignettes-v2.json``, a copy of the shared
specification's cases): each gives exactly its expected urgency and exactly its expected flags,

- screened by the engine with rule set version 2 as ``migrate`` stored it,
- submitted to ``POST /api/submissions/``,
- submitted as a FHIR QuestionnaireResponse built by a FHIR client library,

with the date of birth set from the case's age (the birthday was the day before the
submission, so the derived age is exactly the case's age).  Version 1's cases still give their
results with rule set version 1, now retired: old results stay reproducible.
"""

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from intake.models import Submission
from intake.selectors import current_version
from screening.engine import Facts, screen
from screening.models import RuleSet
from screening.services import active_rule_set_for, compile_rule_set
from tests.factories import (
    VIGNETTES,
    VIGNETTES_V1,
    api,
    build_response,
    date_of_birth_for,
    fhir_json,
    patient_aged,
    post_response,
)

pytestmark = pytest.mark.django_db

IDS = [case["id"] for case in VIGNETTES]


def today() -> datetime.date:
    """The submission date in the default clinic's time zone (Europe/London)."""
    return timezone.localdate()


@pytest.mark.parametrize("case", VIGNETTES, ids=IDS)
def test_the_engine_gives_each_case_exactly_its_urgency_and_flags(case):
    on = datetime.date(2026, 12, 1)
    facts = Facts(date_of_birth=date_of_birth_for(case["age"], on), submitted_on=on)

    result = screen(case["answers"], active_rule_set_for(current_version()), facts)

    assert result.urgency == case["expected_urgency"]
    assert sorted(result.flag_codes) == sorted(case["expected_flags"])
    assert not result.failed
    assert result.rule_set_version == 2


@pytest.mark.parametrize("case", VIGNETTES, ids=IDS)
def test_the_rest_api_gives_each_case_exactly_its_urgency_and_flags(case):
    body = {"patient": patient_aged(case["age"], today()), "answers": case["answers"]}

    response = APIClient().post("/api/submissions/", body, format="json")

    assert response.status_code == 201, response.content[:2000]
    assert response.json()["urgency"] == case["expected_urgency"]
    assert sorted(f["code"] for f in response.json()["flags"]) == sorted(case["expected_flags"])
    submission = Submission.objects.get(reference=response.json()["reference"])
    assert submission.age == case["age"]
    assert submission.rule_set.version == 2
    assert sorted(submission.flags.values_list("rule_code", flat=True)) == sorted(
        case["expected_flags"])


@pytest.mark.parametrize("case", VIGNETTES, ids=IDS)
def test_the_fhir_api_gives_each_case_exactly_its_urgency_and_flags(case):
    version = current_version()
    questionnaire = fhir_json(
        api().get(f"/api/fhir/Questionnaire/upper-back-pain-{version.number}"))
    response = build_response(questionnaire, case["answers"], patient_aged(case["age"], today()))

    body = fhir_json(post_response(api(), response), 201)

    submission = Submission.objects.get(reference=body["entry"][0]["resource"]["id"])
    assert submission.urgency == case["expected_urgency"]
    assert sorted(submission.flags.values_list("rule_code", flat=True)) == sorted(
        case["expected_flags"])
    flags = [entry["resource"] for entry in body["entry"] if entry["resource"]["resourceType"]
             == "Flag"]
    assert sorted(f["code"]["coding"][0]["code"] for f in flags) == sorted(case["expected_flags"])


@pytest.mark.parametrize("case", VIGNETTES_V1, ids=[c["id"] for c in VIGNETTES_V1])
def test_version_1_cases_still_give_their_results_with_the_retired_rule_set_1(case):
    rule_set_1 = RuleSet.objects.get(questionnaire__slug="upper-back-pain", version=1)
    assert rule_set_1.status == RuleSet.Status.RETIRED

    result = screen(case["answers"], compile_rule_set(rule_set_1))

    assert result.urgency == case["expected_urgency"]
    assert sorted(result.flag_codes) == sorted(case["expected_flags"])
