"""Serializers that describe the submission API in the OpenAPI document.

They document; they do not validate.  Validation lives in one place,
``intake.services.submissions.submit_intake``, which both the API and the web form call.  What
is stated here must hold there too: the schema fuzz test (``tests/api/test_schema_fuzz.py``)
sends requests that break each stated constraint and expects them refused, and checks every
response against the bodies documented here.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from intake.models import Submission
from intake.services.patients import PHONE_PATTERN
from intake.services.submissions import IDEMPOTENCY_KEY_MAX_LENGTH
from screening.models import Category, Tier

# --- Requests -------------------------------------------------------------------------------


class ClosedObjectDoc(serializers.Serializer):
    """An object that takes no properties besides its fields (unknown ones are a 400)."""


class ClosedObjectExtension(OpenApiSerializerExtension):
    target_class = ClosedObjectDoc
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "additionalProperties": False}


class PatientDoc(ClosedObjectDoc):
    """The patient's own details; no other fields."""

    full_name = serializers.CharField(
        min_length=1, max_length=200,
        help_text="As the patient writes it, with at least one letter.")
    date_of_birth = serializers.DateField(
        help_text="YYYY-MM-DD; a real date, not in the future, within the last 130 years.")
    phone = serializers.RegexField(
        PHONE_PATTERN, max_length=40,
        help_text="Digits, spaces, brackets, dots and dashes, optionally starting with +; "
        "7 to 15 digits.")
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True,
                                   max_length=254)


@extend_schema_field({
    "type": "object",
    "additionalProperties": {
        "nullable": True,
        "anyOf": [
            {"type": "boolean"},
            {"type": "integer"},
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}},
        ],
    },
    "description": "Answers keyed by question code, typed as /api/questionnaires/current/ says: "
    "boolean true or false, a whole number within min..max, a choice value (string), a list of "
    "different choice values, or text of at most max_length characters.  Leave out (or send "
    "null for) a question not answered; answer a question with enable_when only when its "
    "condition holds.",
})
class AnswersField(serializers.DictField):
    pass


class SubmissionInputDoc(ClosedObjectDoc):
    """One intake: the patient's details (or the invitation that holds them) and their answers;
    no other fields."""

    patient = PatientDoc(
        required=False,
        help_text="Required, unless `invitation` is sent: then the appointment's details are "
        "used, and any sent here replace them.")
    answers = AnswersField()
    version = serializers.IntegerField(
        required=False, allow_null=True, min_value=1,
        help_text="The published questionnaire version the answers are for, which must be the "
        "current one; the current one when left out or null.",
    )
    clinic = serializers.SlugField(
        required=False, max_length=50,
        help_text="The clinic the intake is for, by its slug; the default clinic when left out.")
    invitation = serializers.CharField(
        required=False, max_length=100,
        help_text="The token of the patient's invitation link (from POST /api/appointments/): "
        "the intake is then the appointment's, at its clinic. It works once, and not after the "
        "appointment starts or is cancelled.")


IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
    "pattern": "^[!-~]+$",
}

SUBMISSION_EXAMPLE = OpenApiExample(
    "A routine intake",
    summary="A complete routine intake for version 2 of the questionnaire",
    request_only=True,
    value={
        "patient": {"full_name": "Ada Example", "date_of_birth": "1971-03-02",
                    "phone": "+44 7700 900123", "email": "ada@example.org"},
        "answers": {
            "pain_location": ["between_shoulder_blades"], "pain_duration": "1_to_3_weeks",
            "pain_severity": 4, "pain_onset": "after_strain", "pain_abrupt_onset": False,
            "pain_worsening": False, "pain_limits_activity": False,
            "pain_walking_or_stairs": False, "pain_unchanged_by_movement": False,
            "pain_at_rest_or_night": False, "pain_character": ["aching"],
            "pain_worse_with_movement": True, "pain_radiates_to": ["none"],
            "numbness_tingling": ["none"], "weakness_or_clumsiness": False,
            "bladder_bowel_control": False, "chest_pain": False, "breathing_difficulty": False,
            "chest_and_leg_symptoms": ["none"], "associated_symptoms": ["none"],
            "thinks_heart": False, "fever_chills": False, "night_sweats": False,
            "unexplained_weight_loss": False, "urinary_symptoms": False, "jaundice": False,
            "skin_rash": False, "sex": "female", "heart_conditions": ["none"],
            "health_conditions": ["none"], "medicines": ["none"], "injects_drugs": False,
            "recent_events": ["none"], "history_of_cancer": False, "recent_trauma": False,
            "treatments_tried": ["rest"], "daily_posture": "desk_sitting", "stress_level": 5,
        },
    },
)

# --- Responses ------------------------------------------------------------------------------


# The models' own choices, so that the document has one enum for each, shared with the
# clinicians' endpoints.
class FlagDoc(serializers.Serializer):
    code = serializers.CharField()
    category = serializers.ChoiceField(choices=Category.choices)
    urgency = serializers.ChoiceField(choices=Tier.choices)
    explanation = serializers.CharField()


class SubmissionOutputDoc(serializers.Serializer):
    reference = serializers.CharField(help_text="Quote it to the clinic.")
    urgency = serializers.ChoiceField(choices=Submission.Urgency.choices)
    advice = serializers.CharField(help_text="What the patient should do now.")
    flags = FlagDoc(many=True)
    submitted_at = serializers.DateTimeField()


def _messages_by_name(help_text):
    return serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text=help_text)


class ValidationErrorDoc(ClosedObjectDoc):
    """Every problem at once, keyed by where it is."""

    patient = _messages_by_name("Problems with the patient's details, by field.")
    answers = _messages_by_name(
        "Problems with the answers, by question code; non_field_errors when the answers are "
        "not an object, or there are more unknown codes than are named.")
    version = serializers.ListField(child=serializers.CharField(), required=False)
    clinic = serializers.ListField(child=serializers.CharField(), required=False)
    invitation = serializers.ListField(child=serializers.CharField(), required=False)
    non_field_errors = serializers.ListField(
        child=serializers.CharField(), required=False,
        help_text="Problems with the body as a whole: it is not a JSON object, or it has "
        "fields other than patient, answers, version, clinic and invitation.")
    detail = serializers.CharField(
        required=False,
        help_text="The body is not valid JSON, or the Idempotency-Key header is malformed.")


class ErrorDetailDoc(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong and how to put it right.")


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorDetailDoc, description=description)


VALIDATION_ERROR = OpenApiResponse(
    ValidationErrorDoc,
    description="Every problem at once, keyed by where it is, e.g. "
    '{"answers": {"pain_severity": ["Must be between 0 and 10."]}}.',
)
NOT_FOUND = error("Nothing is published here yet.")
TOO_LARGE = error("The body is larger than the service accepts (64 KiB).")
UNSUPPORTED_MEDIA_TYPE = error(
    "The body is not JSON (send Content-Type: application/json, in UTF-8).")
IDEMPOTENCY_KEY_REUSED = error(
    "The Idempotency-Key was used before with a different request body.")
THROTTLED = error("Too many submissions from this client; the detail says when to try again "
                  "(the Retry-After header gives the seconds).")
