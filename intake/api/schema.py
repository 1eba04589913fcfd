"""Serializers that describe the submission API in the OpenAPI document.

They document; they do not validate.  Validation lives in one place,
``intake.services.submissions.submit_intake``, which both the API and the web form call.
"""

from drf_spectacular.utils import OpenApiExample, inline_serializer
from rest_framework import serializers


class PatientDoc(serializers.Serializer):
    full_name = serializers.CharField(max_length=200)
    date_of_birth = serializers.DateField(help_text="YYYY-MM-DD")
    phone = serializers.CharField(max_length=40)
    email = serializers.EmailField(required=False, allow_blank=True)


class SubmissionInputDoc(serializers.Serializer):
    patient = PatientDoc()
    answers = serializers.DictField(
        help_text="Answers keyed by question code, typed as /api/questionnaires/current/ says: "
        "boolean true/false, integer, a choice value (string), a list of choice values, or text."
    )
    version = serializers.IntegerField(
        required=False,
        help_text="The published questionnaire version the answers are for; the current one "
        "when left out.",
    )


class FlagDoc(serializers.Serializer):
    code = serializers.CharField()
    category = serializers.ChoiceField(
        choices=["possible_cardiac", "red_flag", "nerve", "organ_referred"])
    urgency = serializers.ChoiceField(choices=["emergency", "urgent", "soon"])
    explanation = serializers.CharField()


class SubmissionOutputDoc(serializers.Serializer):
    reference = serializers.CharField()
    urgency = serializers.ChoiceField(choices=["emergency", "urgent", "soon", "routine"])
    advice = serializers.CharField()
    flags = FlagDoc(many=True)
    submitted_at = serializers.DateTimeField()


class ValidationErrorDoc(serializers.Serializer):
    patient = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                    required=False)
    answers = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                    required=False)
    version = serializers.ListField(child=serializers.CharField(), required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(required=False)


DetailDoc = inline_serializer("ErrorDetail", fields={"detail": serializers.CharField()})

SUBMISSION_EXAMPLE = OpenApiExample(
    "A routine intake",
    request_only=True,
    value={
        "patient": {"full_name": "Ada Example", "date_of_birth": "1971-03-02",
                    "phone": "+44 7700 900123", "email": "ada@example.org"},
        "answers": {"pain_location": ["upper_back"], "pain_severity": 4, "chest_pain": False},
    },
)
