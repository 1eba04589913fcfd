"""REST entry points for intake.  Each validates the request's shape, calls one service, and
renders the result; what makes an intake valid is decided in ``intake.services``."""

import hashlib
import re

from django.core.exceptions import TooManyFieldsSent
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.throttling import SubmissionThrottle
from core.tokens import TokenAuthentication
from intake.api import schema
from intake.api.parsers import StrictJSONParser, json_body
from intake.api.serializers import QuestionnaireVersionOutput
from intake.quoting import quoted
from intake.selectors import current_version
from intake.services.answers import MAX_UNKNOWN_CODES_NAMED
from intake.services.submissions import IDEMPOTENCY_KEY_MAX_LENGTH, place_of, submit_intake

_KEY = re.compile(rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}")
_FIELDS = {"patient", "answers", "version", "clinic", "invitation"}


class JSONWhateverIsAsked(DefaultContentNegotiation):
    """Answers in JSON when the client asks for something this API does not speak.

    The API speaks JSON only.  DRF would answer ``Accept: text/html`` with a 406 and a junk
    ``?format=xml`` with a 404, which leaves a clumsy client puzzling over the wrong problem;
    RFC 9110 lets a server disregard Accept, so the client gets the JSON it can read.  These
    endpoints take no query parameters, so a query string too long for Django to parse is
    ignored like any other.
    """

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (Http404, NotAcceptable, TooManyFieldsSent):
            return renderers[0], renderers[0].media_type


class IntakeAPIView(APIView):
    """Anonymous JSON endpoints for patients and the clients that submit for them."""

    permission_classes = [AllowAny]
    authentication_classes = []
    content_negotiation_class = JSONWhateverIsAsked


class CurrentQuestionnaireView(IntakeAPIView):
    """The questionnaire patients answer now."""

    @extend_schema(responses={200: QuestionnaireVersionOutput, 404: schema.NOT_FOUND})
    def get(self, request):
        version = current_version()
        if version is None:
            raise Http404("No questionnaire version has been published yet.")
        return Response(QuestionnaireVersionOutput(version).data)


def idempotency_key(request) -> str | None:
    """The request's ``Idempotency-Key``, checked, in the namespace of the client that sent it:
    a client signed in with an API token has its keys to itself; anonymous clients share one
    namespace.  Stored as a hash, so a client's key of any allowed length fits.  Raises a
    ValidationError naming the rule for a malformed key."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not _KEY.fullmatch(key):
        raise ValidationError({"detail": (
            f"The Idempotency-Key header must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable "
            "ASCII characters without spaces, e.g. a UUID.")})
    scope = f"user-{request.user.pk}" if request.user.is_authenticated else "anonymous"
    return f"{scope}:{hashlib.sha256(key.encode()).hexdigest()}"


class SubmissionCreateView(IntakeAPIView):
    """Submit an intake: it is validated, screened and stored, and the advice comes back."""

    parser_classes = [StrictJSONParser]
    throttle_classes = [SubmissionThrottle]
    # Anyone may submit; a client that signs in with an API token gets idempotency keys of its
    # own (``idempotency_key``).  No session: a browser's cookie must not make a CSRF check.
    authentication_classes = [TokenAuthentication]

    @extend_schema(
        request=schema.SubmissionInputDoc,
        examples=[schema.SUBMISSION_EXAMPLE],
        parameters=[OpenApiParameter(
            "Idempotency-Key", schema.IDEMPOTENCY_KEY_SCHEMA, OpenApiParameter.HEADER,
            required=False,
            description="Makes a retried POST safe: the same key and body return the first "
            "response and store nothing new; the same key with another body is a 422. Keys are "
            "the client's own when it signs in with an API token. Up to "
            f"{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters without spaces, e.g. a "
            "UUID; kept at least 24 hours.",
        ), OpenApiParameter(
            "Retry-After", int, OpenApiParameter.HEADER, response=[429],
            description="Seconds to wait before submitting again.",
        )],
        responses={
            201: schema.SubmissionOutputDoc,
            400: schema.VALIDATION_ERROR,
            413: schema.TOO_LARGE,
            415: schema.UNSUPPORTED_MEDIA_TYPE,
            422: schema.IDEMPOTENCY_KEY_REUSED,
            429: schema.THROTTLED,
        },
    )
    def post(self, request):
        key = idempotency_key(request)
        body = json_body(request, what="the intake as a JSON object")
        if not isinstance(body, dict):
            raise ValidationError({"non_field_errors": [
                "Send a JSON object with “patient” and “answers”."]})
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            # Refused before anything is validated or stored; the fields that are there are
            # checked once the client sends only what the API knows.
            errors = {"non_field_errors": [
                f"Unknown field {quoted(name)}; send only “patient” (or “invitation”), "
                "“answers”, and optionally “version” and “clinic”."
                for name in unknown[:MAX_UNKNOWN_CODES_NAMED]]}
            for required in ("patient", "answers"):
                if required not in body and not (required == "patient" and "invitation" in body):
                    errors[required] = {"non_field_errors": ["This field is required."]}
            raise ValidationError(errors)
        where = place_of(clinic=body.get("clinic"), invitation=body.get("invitation"),
                         patient=body.get("patient"))
        # Invalid input (400, every problem keyed by field) and a reused Idempotency-Key (422)
        # are the service's errors, answered by the project's exception handler.
        outcome = submit_intake(
            # A missing patient or answers is reported by the service, with every other
            # problem, as one of the wrong shape.
            patient=where.patient, answers=body.get("answers"),
            version_number=body.get("version"), idempotency_key=key,
            clinic=where.clinic, invitation=where.invitation,
        )
        return Response(outcome.as_json(), status=201)


