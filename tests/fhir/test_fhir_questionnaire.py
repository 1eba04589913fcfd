"""Published questionnaire versions as FHIR R4 Questionnaires: public, valid R4, saying the same
as /api/questionnaires/current/, the current version active and older ones retired."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from intake.selectors import current_version
from intake.services.publishing import publish_version
from intake.services.questionnaires import create_draft_from
from interop.fhir import mapping
from tests.factories import (
    CURRENT_ID,
    FHIR_JSON,
    api,
    current_questionnaire,
    fhir_json,
    issues,
    validated,
)

pytestmark = pytest.mark.django_db

URL = mapping.questionnaire_url("upper-back-pain")


def questions(questionnaire: dict) -> dict[str, dict]:
    return {item["linkId"]: item for group in questionnaire["item"] for item in group["item"]}


def test_anyone_reads_the_current_version_as_a_valid_r4_questionnaire():
    body = current_questionnaire()
    model = validated(body)
    assert model.get_resource_type() == "Questionnaire"
    assert body["id"] == CURRENT_ID
    assert body["url"] == URL == "http://127.0.0.1:8000/fhir/Questionnaire/upper-back-pain"
    assert body["version"] == "2"
    assert body["status"] == "active"
    assert body["title"] == current_version().title
    assert [group["type"] for group in body["item"]] == ["group"] * len(body["item"])


def test_the_questionnaire_says_what_the_json_api_says(client):
    served = client.get("/api/questionnaires/current/").json()
    body = current_questionnaire()
    assert [g["text"] for g in body["item"]] == [s["title"] for s in served["sections"]]
    items = questions(body)
    expected_types = {"boolean": "boolean", "single_choice": "choice", "multi_choice": "choice",
                      "integer": "integer", "text": "text"}
    for section, group in zip(served["sections"], body["item"], strict=True):
        assert [i["linkId"] for i in group["item"]] == [q["code"] for q in section["questions"]]
        for question in section["questions"]:
            item = items[question["code"]]
            assert item["text"] == question["text"]
            assert item["type"] == expected_types[question["type"]]
            assert item["required"] is question["required"]
            assert item.get("repeats", False) is (question["type"] == "multi_choice")
            codes = [o["valueCoding"]["code"] for o in item.get("answerOption", [])]
            assert codes == [c["value"] for c in question["choices"]]
            if question["help_text"]:
                [help_item] = item["item"]
                assert help_item["type"] == "display"
                assert help_item["text"] == question["help_text"]


def test_choices_are_codings_of_the_questionnaires_own_system():
    items = questions(current_questionnaire())
    [none] = [o for o in items["treatments_tried"]["answerOption"]
              if o["valueCoding"]["code"] == "none"]
    assert none["valueCoding"] == {"system": f"{URL}/choices/treatments_tried", "code": "none",
                                   "display": "Nothing yet"}
    assert none["extension"] == [{"url": mapping.OPTION_EXCLUSIVE, "valueBoolean": True}]


def test_ranges_lengths_and_show_conditions_use_the_standard_elements():
    items = questions(current_questionnaire())
    assert items["pain_severity"]["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueInteger": 0},
        {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueInteger": 10}]
    cancer = items["cancer_details"]
    assert cancer["maxLength"] == 500
    assert cancer["required"] is False
    assert cancer["enableWhen"] == [{"question": "history_of_cancer", "operator": "=",
                                     "answerBoolean": True}]
    assert cancer["enableBehavior"] == "all"


def test_a_choice_condition_is_an_answer_coding():
    # As version 2 shipped: the follow-up on meals is shown when "upper_abdomen" is chosen.
    assert questions(current_questionnaire())["pain_after_meals"]["enableWhen"] == [{
        "question": "pain_location", "operator": "=",
        "answerCoding": {"system": f"{URL}/choices/pain_location", "code": "upper_abdomen",
                         "display": "The top of your tummy, just below your ribs"}}]
    version = create_draft_from(current_version())
    question = version.questions.get(code="trauma_details")
    question.condition_question, question.condition_answer = "pain_onset", "after_injury"
    question.save()
    publish_version(version)
    items = questions(fhir_json(api().get("/api/fhir/Questionnaire/upper-back-pain-3")))
    assert items["trauma_details"]["enableWhen"] == [{
        "question": "pain_onset", "operator": "=",
        "answerCoding": {"system": f"{URL}/choices/pain_onset", "code": "after_injury",
                         "display": "After a fall, an accident or a blow"}}]


def test_older_published_versions_are_retired_and_drafts_are_not_served():
    publish_version(create_draft_from(current_version()))
    draft = create_draft_from(current_version())
    for retired in ("upper-back-pain-1", "upper-back-pain-2"):
        assert fhir_json(api().get(f"/api/fhir/Questionnaire/{retired}"))["status"] == \
            "retired"
    assert fhir_json(api().get("/api/fhir/Questionnaire/upper-back-pain-3"))["status"] == \
        "active"
    missing = api().get(f"/api/fhir/Questionnaire/upper-back-pain-{draft.number}")
    assert issues(missing, 404)[0]["code"] == "not-found"


def test_search_by_url_and_version_is_a_searchset_bundle():
    publish_version(create_draft_from(current_version()))
    client = api()
    every = fhir_json(client.get("/api/fhir/Questionnaire", {"url": URL}))
    assert every["type"] == "searchset"
    assert every["total"] == 3
    assert [(e["resource"]["version"], e["resource"]["status"]) for e in every["entry"]] == [
        ("3", "active"), ("2", "retired"), ("1", "retired")]
    assert every["entry"][2]["fullUrl"] == \
        "http://testserver/api/fhir/Questionnaire/upper-back-pain-1"
    one = fhir_json(client.get("/api/fhir/Questionnaire", {"url": URL, "version": "1"}))
    assert [e["resource"]["id"] for e in one["entry"]] == ["upper-back-pain-1"]
    assert fhir_json(client.get("/api/fhir/Questionnaire"))["total"] == 3


@pytest.mark.parametrize("query", [
    {"url": "http://example.org/fhir/Questionnaire/upper-back-pain"},
    {"url": f"{URL}/extra"},
    {"url": URL, "version": "7"},
    {"url": URL, "version": "one"},
    {"version": "-1"},
])
def test_a_search_that_matches_nothing_is_an_empty_bundle(query):
    body = fhir_json(api().get("/api/fhir/Questionnaire", query))
    assert body["total"] == 0
    assert "entry" not in body


@pytest.mark.parametrize("bad_id", ["upper-back-pain", "upper-back-pain-9", "nonsense",
                                    "upper_back_pain-1", "-1"])
def test_unknown_ids_are_404_operation_outcomes(bad_id):
    assert issues(api().get(f"/api/fhir/Questionnaire/{bad_id}"), 404)[0]["code"] == "not-found"


def test_the_canonical_base_can_be_set(settings):
    settings.FHIR_CANONICAL_BASE = "https://fhir.clinic.example.org/"
    body = current_questionnaire()
    assert body["url"] == "https://fhir.clinic.example.org/Questionnaire/upper-back-pain"
    choice = questions(body)["sex"]["answerOption"][0]["valueCoding"]
    assert choice["system"] == "https://fhir.clinic.example.org/Questionnaire/upper-back-pain/" \
        "choices/sex"


def test_slugs_with_underscores_get_valid_ids():
    from intake.models import Questionnaire

    Questionnaire.objects.filter(slug="upper-back-pain").update(slug="upper_back_pain")
    version = current_version("upper_back_pain")
    assert mapping.questionnaire_id(version) == "upper.back.pain-2"
    body = fhir_json(api().get("/api/fhir/Questionnaire/upper.back.pain-2"))
    assert body["url"].endswith("/Questionnaire/upper_back_pain")


class TestMediaType:
    def test_fhir_json_by_default_and_for_anything_unknown(self):
        for accept in (None, "*/*", FHIR_JSON, "text/html", "application/xml"):
            headers = {"Accept": accept} if accept else {}
            response = api().get(f"/api/fhir/Questionnaire/{CURRENT_ID}", headers=headers)
            assert response.status_code == 200
            assert response["Content-Type"] == FHIR_JSON, accept

    def test_plain_json_when_asked_for(self):
        response = api().get(f"/api/fhir/Questionnaire/{CURRENT_ID}",
                             headers={"Accept": "application/json"})
        assert response["Content-Type"] == "application/json"
        assert response.json()["resourceType"] == "Questionnaire"

    def test_errors_are_operation_outcomes_in_the_same_media_type(self):
        response = api().get("/api/fhir/Questionnaire/nope", headers={"Accept":
                                                                     "application/json"})
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        validated(response.json())

    def test_other_methods_and_paths_are_operation_outcomes(self):
        client = api()
        not_allowed = client.delete(f"/api/fhir/Questionnaire/{CURRENT_ID}")
        assert issues(not_allowed, 405)[0]["code"] == "not-supported"
        assert "GET" in not_allowed["Allow"]
        assert issues(client.options("/api/fhir/Questionnaire"), 405)
        assert issues(client.get("/api/fhir/Patient/1"), 404)[0]["code"] == "not-found"
        assert issues(client.post("/api/fhir/", {}, format="json"), 404)
        slash = issue_texts(client.get("/api/fhir/Questionnaire/"))
        assert "Did you mean /api/fhir/Questionnaire ?" in slash


def issue_texts(response) -> str:
    return " ".join(i["details"]["text"] for i in issues(response, 404))


def test_reading_a_questionnaire_takes_a_fixed_number_of_queries():
    client = api()
    with CaptureQueriesContext(connection) as queries:
        fhir_json(client.get(f"/api/fhir/Questionnaire/{CURRENT_ID}"))
    # The version (with whether it is the latest), sections, questions, choices.
    assert len(queries) == 4, [q["sql"] for q in queries]
