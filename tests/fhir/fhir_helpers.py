"""What the FHIR tests share: validating what the service emits with fhir.resources' R4B models,
reading FHIR responses, and building a QuestionnaireResponse the way a FHIR client would."""

import json

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.contactpoint import ContactPoint
from fhir.resources.R4B.humanname import HumanName
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaireresponse import (
    QuestionnaireResponse,
    QuestionnaireResponseItem,
    QuestionnaireResponseItemAnswer,
)
from fhir.resources.R4B.reference import Reference
from rest_framework.test import APIClient

FHIR_JSON = "application/fhir+json"
CURRENT_ID = "upper-back-pain-2"  # version 2 is current


def validated(resource: dict):
    """``resource`` parsed by the R4B model of its type, which refuses anything FHIR R4 does not
    allow (unknown elements, wrong types, malformed ids, dates and codes); every contained
    resource and bundle entry is parsed as its own type too."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for contained in resource.get("contained", []):
        validated(contained)
    for entry in resource.get("entry", []):
        validated(entry["resource"])
    return model


def fhir_json(response, status: int = 200) -> dict:
    """The body of a FHIR response, after checking its status, media type and validity."""
    assert response.status_code == status, response.content[:2000]
    assert response["Content-Type"] == FHIR_JSON, response["Content-Type"]
    body = response.json()
    validated(body)
    return body


def issues(response, status: int = 400) -> list[dict]:
    """The issues of an OperationOutcome error response."""
    body = fhir_json(response, status)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"]
    return body["issue"]


def issue_text(response, status: int = 400) -> str:
    return "\n".join(i["details"]["text"] for i in issues(response, status))


def api(user=None, **credentials) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    if credentials:
        client.credentials(**credentials)
    return client


def current_questionnaire() -> dict:
    return fhir_json(api().get(f"/api/fhir/Questionnaire/{CURRENT_ID}"))


def build_response(questionnaire: dict, answers: dict, patient: dict) -> QuestionnaireResponse:
    """A QuestionnaireResponse as a FHIR client builds one: from the served Questionnaire's
    items (groups of questions), typed as each item's type says, with fhir.resources' models."""
    groups = []
    for group in questionnaire["item"]:
        items = [
            QuestionnaireResponseItem(linkId=question["linkId"], text=question["text"],
                                      answer=_answers(question, answers[question["linkId"]]))
            for question in group["item"] if answers.get(question["linkId"]) is not None
        ]
        if items:
            groups.append(QuestionnaireResponseItem(linkId=group["linkId"], text=group["text"],
                                                    item=items))
    telecom = [ContactPoint(system="phone", value=patient["phone"])]
    if patient.get("email"):
        telecom.append(ContactPoint(system="email", value=patient["email"]))
    return QuestionnaireResponse(
        contained=[Patient(id="patient", name=[HumanName(text=patient["full_name"])],
                           birthDate=patient["date_of_birth"], telecom=telecom)],
        questionnaire=f"{questionnaire['url']}|{questionnaire['version']}",
        status="completed",
        subject=Reference(reference="#patient"),
        item=groups,
    )


def _answers(question: dict, value) -> list[QuestionnaireResponseItemAnswer]:
    if question["type"] == "choice":
        options = {o["valueCoding"]["code"]: o["valueCoding"] for o in question["answerOption"]}
        values = value if isinstance(value, list) else [value]
        return [QuestionnaireResponseItemAnswer(valueCoding=Coding(**options[v])) for v in values]
    key = {"boolean": "valueBoolean", "integer": "valueInteger", "text": "valueString",
           "string": "valueString"}[question["type"]]
    return [QuestionnaireResponseItemAnswer(**{key: value})]


def post_response(client, body, content_type: str = FHIR_JSON):
    """POST a QuestionnaireResponse: a model is sent as its FHIR JSON, a str or bytes as is."""
    if isinstance(body, QuestionnaireResponse):
        body = body.model_dump_json()
    elif not isinstance(body, str | bytes):
        body = json.dumps(body)
    return client.generic("POST", "/api/fhir/QuestionnaireResponse", data=body,
                          content_type=content_type)
