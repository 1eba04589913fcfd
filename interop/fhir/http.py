"""FHIR over HTTP: the ``application/fhir+json`` media type, and errors as OperationOutcome.

Every FHIR endpoint answers in ``application/fhir+json``; a client that asks for
``application/json`` gets the same body under that name, and one that asks for anything else
gets FHIR JSON rather than a 406 (as the other API endpoints do).  Bodies are read as FHIR JSON
or plain JSON by the project's strict JSON parser.  Every error a FHIR endpoint raises,
whatever its cause (not signed in, not allowed, not found, throttled, a bad body), is an
OperationOutcome.
"""

import functools

from django.http import HttpResponse, JsonResponse
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from intake.api.parsers import StrictJSONParser
from intake.api.views import JSONWhateverIsAsked
from interop.fhir.mapping import Issue, operation_outcome

FHIR_JSON = "application/fhir+json"


class FHIRJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    # The same format name as plain JSON: Accept, not ?format=, chooses between them.
    format = "json"


class FHIRJSONParser(StrictJSONParser):
    media_type = FHIR_JSON


# FHIR's issue-type code for each HTTP status the endpoints answer with.
_ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
                405: "not-supported", 406: "not-supported", 413: "too-costly",
                415: "not-supported", 422: "business-rule", 429: "throttled",
                503: "transient"}


class OperationOutcomeError(APIException):
    """An error whose OperationOutcome issues are known (e.g. every problem of a posted
    resource)."""

    def __init__(self, issues: list[Issue], status: int = 400):
        super().__init__(detail=" ".join(issue.text for issue in issues))
        self.status_code = status
        self.issues = issues


def fhir_exception_handler(exc, context, *, project_handler):
    """The project's handler (the REST framework's ``EXCEPTION_HANDLER`` setting: the one
    mapping of every error, the services' own included, to a status and headers such as
    Retry-After and WWW-Authenticate), with the body as an OperationOutcome."""
    request = context["request"]
    renderer = getattr(request, "accepted_renderer", None)
    media_type = getattr(request, "accepted_media_type", None)
    response = project_handler(exc, context)
    if response is None:
        return None
    if renderer is not None:
        # The project's handler answers in plain JSON under /api/; FHIR answers as negotiated.
        request.accepted_renderer, request.accepted_media_type = renderer, media_type
    if isinstance(exc, OperationOutcomeError):
        issues = exc.issues
    else:
        issues = [Issue(_text(response.data) or "The request could not be carried out.",
                        code=_ISSUE_CODES.get(response.status_code, "processing"))]
    response.data = operation_outcome(issues)
    return response


def _text(data) -> str:
    if isinstance(data, dict):
        return " ".join(_text(value) for value in data.values())
    if isinstance(data, list):
        return " ".join(_text(value) for value in data)
    return str(data)


class FHIRView(APIView):
    """A FHIR endpoint: FHIR JSON in and out, OperationOutcome errors, no OPTIONS metadata
    (which would not be a FHIR resource)."""

    renderer_classes = [FHIRJSONRenderer, JSONRenderer]
    parser_classes = [FHIRJSONParser, StrictJSONParser]
    content_negotiation_class = JSONWhateverIsAsked
    metadata_class = None

    def get_exception_handler(self):
        # The settings' handler, wrapped: the project decides statuses, FHIR writes bodies.
        return functools.partial(fhir_exception_handler,
                                 project_handler=super().get_exception_handler())


def error_response(status: int, message: str) -> HttpResponse:
    """An error answered outside the FHIR views (a database that cannot be reached while a
    middleware reads the session) as an OperationOutcome: ``settings.ERROR_WRITERS_BY_PATH``."""
    return JsonResponse(
        operation_outcome([Issue(message, code=_ISSUE_CODES.get(status, "processing"))]),
        status=status, content_type=FHIR_JSON)
