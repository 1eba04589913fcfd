"""POST /api/fhir/QuestionnaireResponse: a response built by a FHIR client library is screened and
stored exactly like the same answers sent to POST /api/submissions/; bad FHIR is a 400
OperationOutcome naming what is wrong, never a 500, and stores nothing."""

import copy

import pytest
from django.utils import timezone

from intake.api.views import SubmissionThrottle
from intake.models import Submission
from intake.selectors import current_version
from intake.services.publishing import publish_version
from intake.services.questionnaires import create_draft_from
from interop.fhir import mapping
from tests.factories import (
    FHIR_JSON,
    PATIENT,
    ROUTINE,
    VIGNETTES,
    api,
    build_response,
    current_questionnaire,
    fhir_json,
    issue_text,
    issues,
    patient_aged,
    post_response,
    validated,
)

pytestmark = pytest.mark.django_db

URL = mapping.questionnaire_url("upper-back-pain")


def stored(submission: Submission) -> dict:
    submission.refresh_from_db()
    return submission.answers


def flag_codes(submission: Submission) -> list[str]:
    return sorted(submission.flags.values_list("rule_code", flat=True))


def accepted(response) -> tuple[dict, Submission]:
    body = fhir_json(response, 201)
    assert body["type"] == "collection"
    submission = Submission.objects.get(reference=body["entry"][0]["resource"]["id"])
    return body, submission


@pytest.mark.parametrize("vignette", VIGNETTES, ids=[v["id"] for v in VIGNETTES])
def test_each_vignette_is_triaged_as_the_json_api_triages_it(vignette):
    client = api()
    # The case's age on the day of submission (the clinic's date).
    patient = patient_aged(vignette["age"], timezone.localdate())
    response = build_response(current_questionnaire(), vignette["answers"], patient)
    body, by_fhir = accepted(post_response(client, response))

    json_response = client.post("/api/submissions/", {"patient": patient,
                                                      "answers": vignette["answers"]},
                                format="json")
    assert json_response.status_code == 201, json_response.content
    by_json = Submission.objects.get(reference=json_response.json()["reference"])

    assert by_fhir.urgency == by_json.urgency == vignette["expected_urgency"]
    assert flag_codes(by_fhir) == flag_codes(by_json) == sorted(vignette["expected_flags"])
    assert stored(by_fhir) == stored(by_json)
    assert (by_fhir.full_name, by_fhir.date_of_birth, by_fhir.phone, by_fhir.email) == \
        (by_json.full_name, by_json.date_of_birth, by_json.phone, by_json.email)
    # The patient learns what the JSON API would tell them.
    risk = body["entry"][1]["resource"]
    assert risk["resourceType"] == "RiskAssessment"
    assert risk["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == by_fhir.urgency
    assert risk["mitigation"] == json_response.json()["advice"]
    flags = [e["resource"]["code"]["coding"][0]["code"] for e in body["entry"][2:]]
    assert sorted(flags) == sorted(vignette["expected_flags"])


def test_the_answer_names_the_stored_response_and_where_to_read_it(clinician):
    response = build_response(current_questionnaire(), ROUTINE, PATIENT)
    created = post_response(api(), response)
    body, submission = accepted(created)
    qr = body["entry"][0]
    assert qr["resource"]["identifier"]["value"] == submission.reference
    assert qr["resource"]["questionnaire"] == f"{URL}|2"
    location = f"http://testserver/api/fhir/QuestionnaireResponse/{submission.reference}"
    assert created["Location"] == qr["fullUrl"] == location
    assert fhir_json(api(clinician).get(location)) == qr["resource"]


def test_plain_json_is_accepted_too():
    response = build_response(current_questionnaire(), ROUTINE, PATIENT)
    created = api().generic("POST", "/api/fhir/QuestionnaireResponse",
                            data=response.model_dump_json(), content_type="application/json",
                            headers={"Accept": "application/json"})
    assert created.status_code == 201
    assert created["Content-Type"] == "application/json"
    validated(created.json())


def test_an_exported_response_posted_back_stores_the_same_answers(clinician):
    answers = {**ROUTINE, "history_of_cancer": True, "cancer_details": "Skin, 2001",
               "treatments_tried": ["rest", "painkillers"]}
    first = api().post("/api/submissions/", {"patient": PATIENT, "answers": answers},
                       format="json").json()["reference"]
    exported = fhir_json(api(clinician).get(f"/api/fhir/QuestionnaireResponse/{first}"))
    _, again = accepted(post_response(api(), exported))
    assert again.reference != first
    assert stored(again) == stored(Submission.objects.get(reference=first))


def test_flat_items_without_groups_are_read_too():
    response = build_response(current_questionnaire(), ROUTINE, PATIENT).model_dump(
        mode="json", exclude_none=True)
    response["item"] = [item for group in response["item"] for item in group["item"]]
    _, submission = accepted(post_response(api(), response))
    assert stored(submission) == ROUTINE


def test_the_documented_example_is_accepted(client):
    document = client.get("/api/schema/?format=json").json()
    content = document["paths"]["/api/fhir/QuestionnaireResponse"]["post"]["requestBody"][
        "content"]
    for media_type in (FHIR_JSON, "application/json"):
        [example] = content[media_type]["examples"].values()
        validated(example["value"])
        _, submission = accepted(post_response(api(), example["value"], media_type))
        assert submission.urgency == "routine"


def test_submissions_share_the_json_apis_throttle(monkeypatch):
    monkeypatch.setattr(SubmissionThrottle, "THROTTLE_RATES", {"submissions": "2/hour"})
    client = api()
    good = build_response(current_questionnaire(), ROUTINE, PATIENT)
    assert client.post("/api/submissions/", {"patient": PATIENT, "answers": ROUTINE},
                       format="json").status_code == 201
    accepted(post_response(client, good))
    throttled = post_response(client, good)
    assert issues(throttled, 429)[0]["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert Submission.objects.count() == 2


# --- Bad FHIR -------------------------------------------------------------------------------


@pytest.fixture
def good() -> dict:
    """A valid routine response as plain JSON, to break in one way per test."""
    return build_response(current_questionnaire(), ROUTINE, PATIENT).model_dump(
        mode="json", exclude_none=True)


def item(body: dict, code: str) -> dict:
    return next(i for group in body["item"] for i in group["item"] if i["linkId"] == code)


def coding(code: str, value: str) -> dict:
    return {"system": mapping.choice_system("upper-back-pain", code), "code": value}


def _answer(code, *answers):
    def change(body):
        item(body, code)["answer"] = list(answers)
    return change


def _add_item(code, *answers):
    def change(body):
        body["item"][0]["item"].append({"linkId": code, "answer": list(answers)})
    return change


def _drop_item(code):
    def change(body):
        for group in body["item"]:
            group["item"] = [i for i in group["item"] if i["linkId"] != code]
    return change


def _patient(**changes):
    def change(body):
        body["contained"][0].update(changes)
        for key, value in changes.items():
            if value is None:
                del body["contained"][0][key]
    return change


def _top(**changes):
    def change(body):
        body.update(changes)
        for key, value in changes.items():
            if value is None:
                del body[key]
    return change


def _nest(depth):
    def change(body):
        inner = body["item"]
        for _ in range(depth):
            inner = [{"linkId": "section-1", "item": inner}]
        body["item"] = inner
    return change


BAD = {
    # Not a QuestionnaireResponse at all.
    "wrong resourceType": (_top(resourceType="Patient"), "the body has resourceType “Patient”"),
    "no resourceType": (_top(resourceType=None), "the body has no resourceType"),
    "unknown element": (_top(colour="blue"), "“colour” is not an element"),
    "modifier extension": (_top(modifierExtension=[{"url": "http://example.org/x"}]),
                           "modifierExtension changes what the resource means"),
    "implicit rules": (_top(implicitRules="http://example.org/rules"),
                       "implicitRules changes what the resource means"),
    "items not a list": (_top(item={"linkId": "chest_pain"}), "item must be a list"),
    "items not objects": (_top(item=["chest_pain"]), "Each entry of item must be an object"),
    "status in progress": (_top(status="in-progress"), 'send "status": "completed"'),
    "no status": (_top(status=None), 'Give the status: "completed"'),
    "status not text": (_top(status=1), "status must be a string"),
    # Another questionnaire, or another version of ours.
    "foreign questionnaire": (_top(questionnaire="http://example.org/Questionnaire/phq-9|1"),
                              "screens answers to"),
    "no version": (_top(questionnaire=URL), "Name the version answered too"),
    "not our version": (_top(questionnaire=f"{URL}|7"),
                        "Version 7 is not the current version of the questionnaire (2)"),
    "no questionnaire": (_top(questionnaire=None), "Name the questionnaire answered"),
    # Answers of the wrong shape or type.
    "string for a boolean": (_answer("chest_pain", {"valueString": "no"}),
                             "Question “chest_pain” is a yes/no question: answer it with "
                             "valueBoolean"),
    "integer as text": (_answer("pain_severity", {"valueInteger": "4"}),
                        "valueInteger must be a whole number"),
    "integer with a fraction": (_answer("pain_severity", {"valueInteger": 4.5}),
                                "valueInteger must be a whole number"),
    "huge integer": (_answer("pain_severity", {"valueInteger": 2**40}),
                     "valueInteger must fit in 32 bits"),
    "boolean as text": (_answer("chest_pain", {"valueBoolean": "false"}),
                        "valueBoolean must be true or false"),
    "two values in one answer": (_answer("chest_pain", {"valueBoolean": False,
                                                        "valueString": "no"}),
                                 "Each answer has exactly one value"),
    "no value": (_answer("chest_pain", {}), "Each answer has exactly one value"),
    "unsupported value type": (_answer("pain_severity", {"valueDecimal": 4.0}),
                               "“valueDecimal” is not an answer type"),
    "answers not a list": (_answer("chest_pain", "no"), None),
    "coding of another system": (
        _answer("sex", {"valueCoding": {"system": "http://snomed.info/sct",
                                        "code": "248153007"}}),
        "Question “sex”'s choices are coded in"),
    "coding without a system": (_answer("sex", {"valueCoding": {"code": "male"}}),
                                "this coding's system is missing"),
    "coding of another question": (_answer("sex", {"valueCoding": coding("daily_posture",
                                                                         "standing")}),
                                   "Question “sex”'s choices are coded in"),
    "coding without a code": (_answer("sex", {"valueCoding": {
        "system": coding("sex", "male")["system"]}}), "Give the choice's code"),
    "coding with an unknown element": (_answer("sex", {"valueCoding": {**coding("sex", "male"),
                                                                       "colour": "red"}}),
                                       "“colour” is not an element"),
    "two answers to a one-choice question": (
        _answer("sex", {"valueCoding": coding("sex", "male")},
                {"valueCoding": coding("sex", "female")}),
        "Question “sex” takes one answer; this item has 2"),
    "answered twice": (_add_item("chest_pain", {"valueBoolean": True}),
                       "Question “chest_pain” is answered in more than one item"),
    "item without linkId": (_add_item(None, {"valueBoolean": True}), "must be a string"),
    "nested too deep": (_nest(12), "nested more than 10 deep"),
    # What submit_intake refuses, named by linkId.
    "unknown linkId": (_add_item("favourite_colour", {"valueString": "blue"}),
                       "Question “favourite_colour”: There is no question with this code"),
    "out of range": (_answer("pain_severity", {"valueInteger": 11}),
                     "Question “pain_severity”: Must be between 0 and 10."),
    "not a choice": (_answer("sex", {"valueCoding": coding("sex", "robot")}),
                     "Question “sex”: “robot” is not one of the choices"),
    "none with another choice": (
        _answer("treatments_tried", {"valueCoding": coding("treatments_tried", "none")},
                {"valueCoding": coding("treatments_tried", "rest")}),
        "Question “treatments_tried”: “none” cannot be chosen together"),
    "required answer missing": (_drop_item("chest_pain"),
                                "Question “chest_pain”: This question needs an answer."),
    "hidden question answered": (_add_item("cancer_details", {"valueString": "None"}),
                                 "Question “cancer_details”: Answer this only when"),
    "text too long": (_add_item("cancer_details", {"valueString": "x" * 501}), None),
    # The patient.
    "no subject": (_top(subject=None), "The response names no patient"),
    "subject not contained": (_top(subject={"reference": "Patient/123"}),
                              "The patient must be contained"),
    "subject names nothing": (_top(subject={"reference": "#someone"}),
                              "“#someone” is not a contained Patient"),
    "contained is not a Patient": (_patient(resourceType="Practitioner"),
                                   "is not a contained Patient"),
    "contained without resourceType": (_patient(resourceType=None),
                                       "Each contained resource needs its resourceType"),
    "no contained": (_top(contained=None), "is not a contained Patient"),
    "bad birth date": (_patient(birthDate="02/03/1971"),
                       "Patient birthDate: Enter the date of birth as year-month-day"),
    "partial birth date": (_patient(birthDate="1971"), "Patient birthDate"),
    "no name": (_patient(name=None), "Patient name: Enter your full name."),
    "name not a list": (_patient(name={"text": "Ada"}), "name must be a list"),
    "name as parts": (_patient(name=[{"given": ["Ada"], "family": 7}]),
                      "Give the name as text, or as given names"),
    "no phone": (_patient(telecom=[{"system": "email", "value": "ada@example.org"}]),
                 "Patient telecom (phone): Enter a phone number"),
    "bad email": (_patient(telecom=[{"system": "phone", "value": "07700 900123"},
                                    {"system": "email", "value": "not an address"}]),
                  "Patient telecom (email): Enter an email address"),
    "telecom without value": (_patient(telecom=[{"system": "phone"}]),
                              "Each telecom needs a system and a value"),
    "patient modifier": (_patient(modifierExtension=[{"url": "http://example.org/x"}]),
                         "modifierExtension changes what the Patient means"),
}


@pytest.mark.parametrize("breakage", list(BAD), ids=list(BAD))
def test_bad_fhir_is_a_400_operation_outcome_naming_the_problem(good, breakage):
    change, expected = BAD[breakage]
    body = copy.deepcopy(good)
    change(body)
    response = post_response(api(), body)
    text = issue_text(response)
    if expected is not None:
        assert expected in text
    assert not Submission.objects.exists()


def test_answer_problems_point_at_the_item(good):
    item(good, "pain_severity")["answer"] = [{"valueInteger": 11}]
    [issue] = issues(post_response(api(), good))
    group = next(n for n, g in enumerate(good["item"])
                 if any(i["linkId"] == "pain_severity" for i in g["item"]))
    index = [i["linkId"] for i in good["item"][group]["item"]].index("pain_severity")
    assert issue["expression"] == [f"QuestionnaireResponse.item[{group}].item[{index}]"]
    assert issue["code"] == "invalid"


def test_every_problem_is_named_at_once(good):
    item(good, "pain_severity")["answer"] = [{"valueInteger": 11}]
    item(good, "sex")["answer"] = [{"valueCoding": coding("sex", "robot")}]
    good["contained"][0]["birthDate"] = "1971-02-30"
    [*found] = issues(post_response(api(), good))
    texts = " ".join(i["details"]["text"] for i in found)
    assert "pain_severity" in texts and "sex" in texts and "Patient birthDate" in texts
    assert "QuestionnaireResponse.contained[0].birthDate" in \
        [e for i in found for e in i.get("expression", [])]


def test_an_answer_to_an_older_version_is_refused_once_a_new_one_is_published(good):
    publish_version(create_draft_from(current_version()))
    [issue] = issues(post_response(api(), good))
    assert issue["code"] == "business-rule"
    assert "Version 2 is not the current version of the questionnaire (3)" in \
        issue["details"]["text"]
    good["questionnaire"] = f"{URL}|3"
    accepted(post_response(api(), good))


@pytest.mark.parametrize(("body", "content_type", "status", "expected"), [
    ("not json", FHIR_JSON, 400, "not valid JSON"),
    ("[]", FHIR_JSON, 400, "Send one FHIR QuestionnaireResponse"),
    ('"QuestionnaireResponse"', FHIR_JSON, 400, "Send one FHIR QuestionnaireResponse"),
    ('{"resourceType": "QuestionnaireResponse", "resourceType": "Patient"}', FHIR_JSON, 400,
     "twice"),
    ('{"resourceType": "QuestionnaireResponse", "item": [{"linkId": "x", "answer": '
     '[{"valueInteger": NaN}]}]}', FHIR_JSON, 400, "NaN is not a JSON number"),
    ("[" * 5000 + "]" * 5000, FHIR_JSON, 400, "nested too deeply"),
    ("", FHIR_JSON, 400, "The request body is empty"),
    ("{}", FHIR_JSON, 400, "The request body is empty"),
    ("<QuestionnaireResponse/>", "application/fhir+xml", 415,
     "send the QuestionnaireResponse as JSON with Content-Type: application/fhir+json"),
    ("resourceType=QuestionnaireResponse", "application/x-www-form-urlencoded", 415,
     "Content-Type: application/fhir+json"),
])
def test_bodies_that_are_not_json_resources_are_refused(body, content_type, status, expected):
    response = post_response(api(), body, content_type)
    assert expected in issue_text(response, status)
    assert not Submission.objects.exists()
