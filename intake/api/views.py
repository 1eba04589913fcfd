"""REST entry points for intake.  Each validates the request's shape, calls one service, and
renders the result; what makes an intake valid is decided in ``intake.services``."""

import re

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from intake.api import schema
from intake.api.parsers import StrictJSONParser
from intake.api.serializers import QuestionnaireVersionOutput
from intake.selectors import current_version
from intake.services.submissions import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    IdempotencyKeyReused,
    SubmissionInvalid,
    submit_intake,
)

_KEY = re.compile(rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}$")
_FIELDS = {"patient", "answers", "version"}


class CurrentQuestionnaireView(APIView):
    """The questionnaire patients answer now."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(responses={200: QuestionnaireVersionOutput, 404: schema.DetailDoc})
    def get(self, request):
        version = current_version()
        if version is None:
            raise Http404("No questionnaire version has been published yet.")
        return Response(QuestionnaireVersionOutput(version).data)


class SubmissionThrottle(AnonRateThrottle):
    scope = "submissions"


class SubmissionCreateView(APIView):
    """Submit an intake: it is validated, screened and stored, and the advice comes back."""

    permission_classes = [AllowAny]
    authentication_classes = []
    parser_classes = [StrictJSONParser]
    throttle_classes = [SubmissionThrottle]

    @extend_schema(
        request=schema.SubmissionInputDoc,
        examples=[schema.SUBMISSION_EXAMPLE],
        parameters=[OpenApiParameter(
            "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
            description="Makes a retried POST safe: the same key and body return the first "
            "response and store nothing new; the same key with another body is a 422. Up to "
            f"{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters; kept at least 24 hours.",
        )],
        responses={
            201: schema.SubmissionOutputDoc,
            400: OpenApiResponse(schema.ValidationErrorDoc,
                                 description="Every problem, keyed by where it is."),
            413: schema.DetailDoc,
            415: schema.DetailDoc,
            422: schema.DetailDoc,
            429: schema.DetailDoc,
        },
    )
    def post(self, request):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not _KEY.match(key):
            raise ValidationError({"detail": (
                f"The Idempotency-Key header must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable "
                "ASCII characters without spaces, e.g. a UUID.")})
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": [
                "Send a JSON object with “patient” and “answers”."]})
        unknown = sorted(set(body) - _FIELDS)
        errors = {name[:64]: ["Unknown field; send “patient”, “answers” and optionally "
                              "“version”."] for name in unknown}
        for required in ("patient", "answers"):
            if required not in body:
                errors[required] = ["This field is required."]
        if errors:
            raise ValidationError(errors)
        try:
            outcome = submit_intake(
                patient=body["patient"], answers=body["answers"],
                version_number=body.get("version"), idempotency_key=key,
            )
        except SubmissionInvalid as invalid:
            raise ValidationError(invalid.errors) from None
        except IdempotencyKeyReused:
            return Response(
                {"detail": "This Idempotency-Key was already used with a different request. "
                           "Use a new key for a new submission."},
                status=422,
            )
        return Response(outcome.response, status=201)
