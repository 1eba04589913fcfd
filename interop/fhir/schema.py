"""The FHIR endpoints' bodies in the OpenAPI document.

Each resource is described by a small schema of its own (the FHIR specification is the full
one): enough for a client to see the shape, and for the schema fuzz (tests/api) to check every
response against.  The QuestionnaireResponse a client posts is described exactly as
``interop.fhir.responses`` reads it, so that a body breaking the description is refused.
They document; they do not validate.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from intake import default_questionnaire_v2 as default_questionnaire
from intake.api import schema as intake_schema
from intake.question_types import type_of
from interop.fhir import mapping

SPEC = "https://hl7.org/fhir/R4"

_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_OBJECT = {"type": "object"}
_INT32 = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}


def _array(items: dict) -> dict:
    return {"type": "array", "items": items}


def _enum(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


def _resource(name: str, required: list[str], properties: dict, *, closed: bool = False,
              description: str = "") -> dict:
    schema = {
        "type": "object",
        "description": description or f"A FHIR R4 {name} ({SPEC}/{name.lower()}.html).",
        "required": ["resourceType", *required],
        "properties": {"resourceType": _enum(name), **properties},
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


class FHIRDoc(serializers.Serializer):
    """A FHIR structure in the document; subclasses give ``openapi(ref)``, where ``ref(Doc)``
    is a reference to another one."""

    @staticmethod
    def openapi(ref) -> dict:
        raise NotImplementedError


class FHIRDocExtension(OpenApiSerializerExtension):
    target_class = FHIRDoc
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        def ref(doc):
            return auto_schema.resolve_serializer(doc, direction).ref

        return type(self.target).openapi(ref)


# --- Data types -----------------------------------------------------------------------------


class FHIRExtension(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {"type": "object", "additionalProperties": True,
                "description": "An extension: its url and one value[x]."}


class FHIRCoding(FHIRDoc):
    @staticmethod
    def openapi(ref):
        types = {"system": _STRING, "version": _STRING, "code": _STRING, "display": _STRING,
                 "userSelected": _BOOLEAN, "id": _STRING,
                 "extension": _array(ref(FHIRExtension))}
        return {"type": "object", "properties": types, "additionalProperties": False,
                "description": "A code: an answer's choice has the system "
                "{questionnaire url}/choices/{question code} and the choice value as code."}


class FHIRCodeableConcept(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {"type": "object", "properties": {"coding": _array(ref(FHIRCoding)),
                                                 "text": _STRING}}


class FHIRReference(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {"type": "object", "properties": {"reference": _STRING, "display": _STRING}}


class FHIRContainedReference(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {
            "type": "object", "required": ["reference"], "additionalProperties": False,
            "description": 'A reference to a contained resource, e.g. {"reference": "#patient"}.',
            "properties": {"reference": {"type": "string", "pattern": "^#"}, "display": _STRING,
                           "type": _STRING, "identifier": _OBJECT, "id": _STRING,
                           "extension": _array(ref(FHIRExtension))},
        }


class FHIRContained(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {"type": "object", "required": ["resourceType"],
                "properties": {"resourceType": _STRING, "id": _STRING},
                "description": "A contained resource: here, the Patient with name, birthDate "
                "and telecom (phone, email)."}


# --- Questionnaire --------------------------------------------------------------------------


class FHIRQuestionnaireItem(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {
            "type": "object", "required": ["linkId", "type"],
            "description": "A section (group, linkId section-n), a question (linkId = its "
            "code) or a question's help text (display, linkId {code}.help).",
            "properties": {
                "linkId": _STRING, "text": _STRING,
                "type": _enum("group", "display", "boolean", "choice", "integer", "text"),
                "required": _BOOLEAN, "repeats": _BOOLEAN, "maxLength": {"type": "integer"},
                "answerOption": _array({"type": "object", "properties": {
                    "valueCoding": ref(FHIRCoding), "extension": _array(ref(FHIRExtension))}}),
                "enableWhen": _array({"type": "object", "required": ["question", "operator"],
                                      "properties": {
                                          "question": _STRING, "operator": _enum("="),
                                          "answerBoolean": _BOOLEAN,
                                          "answerCoding": ref(FHIRCoding),
                                          "answerInteger": {"type": "integer"},
                                          "answerString": _STRING}}),
                "enableBehavior": _enum("all", "any"),
                "extension": _array(ref(FHIRExtension)),
                "item": _array(ref(FHIRQuestionnaireItem)),
            },
        }


class FHIRQuestionnaire(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return _resource("Questionnaire", ["id", "url", "version", "status", "item"], {
            "id": {"type": "string", "description": "{slug}-{version}"},
            "url": {"type": "string", "description": "The questionnaire's canonical URL, the "
                    "same for every version."},
            "version": _STRING, "title": _STRING,
            "status": {**_enum("active", "retired"),
                       "description": "active: the version patients answer now."},
            "subjectType": _array(_STRING), "date": _STRING, "description": _STRING,
            "item": _array(ref(FHIRQuestionnaireItem)),
        })


# --- QuestionnaireResponse ------------------------------------------------------------------


class FHIRQuestionnaireResponseAnswer(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {
            "type": "object", "additionalProperties": False,
            "description": "One answer, with exactly one value: valueBoolean for a yes/no "
            "question, valueInteger for a whole number, valueString for text, valueCoding for "
            "a choice (one answer per choice chosen).",
            "properties": {"valueBoolean": _BOOLEAN, "valueInteger": _INT32,
                           "valueString": _STRING, "valueCoding": ref(FHIRCoding),
                           "item": _array(ref(FHIRQuestionnaireResponseItem)), "id": _STRING,
                           "extension": _array(ref(FHIRExtension))},
        }


class FHIRQuestionnaireResponseItem(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return {
            "type": "object", "required": ["linkId"], "additionalProperties": False,
            "description": "A group of items, or a question's answers (linkId = the question "
            "code).",
            "properties": {"linkId": _STRING, "text": _STRING, "definition": _STRING,
                           "answer": _array(ref(FHIRQuestionnaireResponseAnswer)),
                           "item": _array(ref(FHIRQuestionnaireResponseItem)), "id": _STRING,
                           "extension": _array(ref(FHIRExtension))},
        }


class FHIRQuestionnaireResponse(FHIRDoc):
    @staticmethod
    def openapi(ref):
        properties = {
            "id": {"type": "string", "description": "The submission's reference."},
            "meta": _OBJECT, "language": _STRING, "text": _OBJECT,
            "contained": _array(ref(FHIRContained)),
            "extension": _array(ref(FHIRExtension)),
            "identifier": {"type": "object", "description": "The submission's reference, "
                           "system {base}/submission."},
            "basedOn": _array(_OBJECT), "partOf": _array(_OBJECT),
            "questionnaire": {"type": "string", "description": "{url}|{version} of the "
                              "Questionnaire answered; to post, the current one."},
            "status": _enum("completed"),
            "subject": ref(FHIRContainedReference),
            "encounter": _OBJECT, "authored": _STRING, "author": _OBJECT, "source": _OBJECT,
            "item": _array(ref(FHIRQuestionnaireResponseItem)),
        }
        return _resource(
            "QuestionnaireResponse", ["questionnaire", "status", "subject", "contained"],
            properties, closed=True,
            description="An intake as a FHIR R4 QuestionnaireResponse "
            f"({SPEC}/questionnaireresponse.html): the patient is the contained Patient that "
            "subject names; items are grouped as in the Questionnaire.")


# --- Flag and RiskAssessment ----------------------------------------------------------------


def _screening_resource(ref, name: str, required: list[str], properties: dict, *,
                        description: str) -> dict:
    """A Flag or RiskAssessment: both start with their id and the contained patient their
    subject references (``mapping.flags``, ``mapping.risk_assessment``)."""
    return _resource(name, required, {
        "id": _STRING, "contained": _array(ref(FHIRContained)), **properties,
    }, description=description)


class FHIRFlag(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return _screening_resource(ref, "Flag", ["id", "status", "code", "subject"], {
            "extension": _array(ref(FHIRExtension)),
            "status": _enum("active", "inactive", "entered-in-error"),
            "category": _array(ref(FHIRCodeableConcept)),
            "code": ref(FHIRCodeableConcept),
            "subject": ref(FHIRReference),
            "period": {"type": "object", "properties": {"start": _STRING, "end": _STRING}},
        }, description="A screening rule that fired, as a FHIR R4 Flag "
            f"({SPEC}/flag.html): category is the flag's category, code the rule's code with "
            "the explanation as text; the flag-detail extension references the "
            "QuestionnaireResponse, flag-priority gives the urgency.")


class FHIRRiskAssessment(FHIRDoc):
    @staticmethod
    def openapi(ref):
        required = ["id", "status", "subject", "prediction"]
        return _screening_resource(ref, "RiskAssessment", required, {
            "status": _enum("final", "preliminary"),
            "method": ref(FHIRCodeableConcept), "subject": ref(FHIRReference),
            "occurrenceDateTime": _STRING, "basis": _array(ref(FHIRReference)),
            "prediction": _array({"type": "object", "properties": {
                "outcome": ref(FHIRCodeableConcept),
                "qualitativeRisk": ref(FHIRCodeableConcept),
                "rationale": _STRING}}),
            "mitigation": {"type": "string", "description": "What the patient was told to do "
                           "(only in the answer to a submission)."},
            "note": _array({"type": "object", "properties": {"text": _STRING}}),
        }, description="The intake's urgency as a FHIR R4 RiskAssessment "
            f"({SPEC}/riskassessment.html): prediction[0].qualitativeRisk is emergency, urgent, "
            "soon or routine; basis references the QuestionnaireResponse; preliminary when "
            "screening failed (treated as urgent).")


# --- Bundles and OperationOutcome -----------------------------------------------------------


def _bundle(name: str, kind: str, resource_docs: list, description: str) -> type[FHIRDoc]:
    def openapi(ref):
        resources = [ref(doc) for doc in resource_docs]
        entry = {"type": "object", "required": ["resource"], "properties": {
            "fullUrl": _STRING,
            "resource": resources[0] if len(resources) == 1 else {"oneOf": resources},
            "search": {"type": "object", "properties": {"mode": _STRING}}}}
        properties = {"type": _enum(kind), "entry": _array(entry)}
        if kind == "searchset":
            properties["total"] = {"type": "integer", "minimum": 0}
            properties["link"] = _array({"type": "object", "properties": {
                "relation": _STRING, "url": _STRING}})
        bundle = _resource("Bundle", ["type"], properties, description=description)
        # Each bundle's one-value enums get names of their own in the document (drf-spectacular
        # would otherwise warn that several components share them).
        for prop in ("resourceType", "type"):
            bundle["properties"][prop]["x-spec-enum-id"] = f"{name}.{prop}"
        return bundle

    return type(name, (FHIRDoc,), {"openapi": staticmethod(openapi), "__doc__": description})


QuestionnaireBundle = _bundle(
    "FHIRQuestionnaireBundle", "searchset", [FHIRQuestionnaire],
    "The published Questionnaire versions that match (searchset Bundle).")
FlagBundle = _bundle("FHIRFlagBundle", "searchset", [FHIRFlag],
                     "The intake's flags, most urgent first (searchset Bundle).")
RiskAssessmentBundle = _bundle("FHIRRiskAssessmentBundle", "searchset", [FHIRRiskAssessment],
                               "The intake's risk assessment (searchset Bundle).")
SubmissionBundle = _bundle(
    "FHIRSubmissionBundle", "collection",
    [FHIRQuestionnaireResponse, FHIRRiskAssessment, FHIRFlag],
    "What was stored and what the patient is told (collection Bundle): the stored "
    "QuestionnaireResponse (identifier = the new reference), then the RiskAssessment (the "
    "urgency, with the advice as mitigation), then a Flag for each rule that fired.")


class FHIROperationOutcome(FHIRDoc):
    @staticmethod
    def openapi(ref):
        return _resource("OperationOutcome", ["issue"], {
            "issue": _array({
                "type": "object", "required": ["severity", "code"],
                "properties": {
                    "severity": _enum("fatal", "error", "warning", "information"),
                    "code": {"type": "string", "description": "FHIR's issue type, e.g. "
                             "invalid, structure, required, value, not-supported, "
                             "business-rule, not-found, login, forbidden, throttled."},
                    "details": ref(FHIRCodeableConcept),
                    "expression": _array({"type": "string", "description": "The element at "
                                          "fault, e.g. QuestionnaireResponse.item[0].item[2]."}),
                    "diagnostics": _STRING,
                }}),
        }, description="What went wrong, as a FHIR R4 OperationOutcome "
            f"({SPEC}/operationoutcome.html); each issue's details.text says how to put it "
            "right, naming the question's linkId or the Patient element.")


def outcome(description: str) -> OpenApiResponse:
    return OpenApiResponse(FHIROperationOutcome, description=description)


NOT_SIGNED_IN = outcome("Not signed in (send `Authorization: Token ...`, or a session cookie).")
NOT_A_CLINICIAN = outcome("Signed in, but not a clinician.")
NO_SUCH_CASE = outcome("No intake with that reference that you can see.")
BAD_SEARCH = outcome("The search lacks subject=<reference>.")
THROTTLED = outcome("Too many submissions from this client (the Retry-After header gives the "
                    "seconds to wait).")
# The body-size limit answers before any view, in the API's plain JSON error.
TOO_LARGE = intake_schema.TOO_LARGE


# --- The example a client can post ----------------------------------------------------------


def _example_response() -> dict:
    """A routine intake for version 2 of the default questionnaire (the answers of the JSON
    API's example), as a posted QuestionnaireResponse."""
    answers = intake_schema.SUBMISSION_EXAMPLE.value["answers"]
    patient = intake_schema.SUBMISSION_EXAMPLE.value["patient"]
    slug = default_questionnaire.SLUG
    groups = []
    for n, (title, questions) in enumerate(default_questionnaire.SECTIONS, start=1):
        items = []
        for code, kind, text, _ in questions:
            if code not in answers:
                continue
            question_type = type_of(kind)
            values = question_type.to_fhir(answers[code])
            if question_type.has_choices:
                values = [{"system": mapping.choice_system(slug, code), "code": v}
                          for v in values]
            given = [{question_type.fhir_value: v} for v in values]
            items.append({"linkId": code, "text": text, "answer": given})
        groups.append({"linkId": mapping.section_link_id(n), "text": title, "item": items})
    return {
        "resourceType": "QuestionnaireResponse",
        "contained": [{
            "resourceType": "Patient", "id": mapping.PATIENT_ID,
            "name": [{"text": patient["full_name"]}], "birthDate": patient["date_of_birth"],
            "telecom": [{"system": "phone", "value": patient["phone"]},
                        {"system": "email", "value": patient["email"]}],
        }],
        "questionnaire": f"{mapping.questionnaire_url(slug)}|2",
        "status": "completed",
        "subject": {"reference": mapping.PATIENT_REFERENCE},
        "item": groups,
    }


def response_examples() -> list[OpenApiExample]:
    """The example, for each media type a client may post in."""
    value = _example_response()
    return [OpenApiExample("A routine intake", request_only=True, value=value,
                           media_type=media_type,
                           summary="A complete routine intake for version 2 of the "
                           "questionnaire, as a FHIR QuestionnaireResponse")
            for media_type in ("application/fhir+json", "application/json")]
