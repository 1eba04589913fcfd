"""FHIR R4 entry points.  Each checks the request's shape, calls one service or selector, and
renders with ``interop.fhir.mapping``.

Questionnaires are public, like ``/api/questionnaires/current/``.  An intake's response, flags
and risk assessment are case data: clinicians only (token or session), scoped and audited by
``clinic.review.cases.get_case`` like ``GET /api/submissions/{reference}/``.  Posting a
QuestionnaireResponse is open to anyone and throttled together with ``POST /api/submissions/``,
and takes the same path through ``submit_intake``.
"""

import re

from django.urls import Resolver404, resolve, reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from clinic.review import cases
from core.permissions import IsClinician
from core.tokens import TokenAuthentication
from intake.api.parsers import json_body
from intake.api.schema import IDEMPOTENCY_KEY_SCHEMA
from intake.api.views import SubmissionThrottle, idempotency_key
from intake.quoting import quoted
from intake.selectors import current_version
from intake.services.submissions import (
    IDEMPOTENCY_KEY_MAX_LENGTH,
    SubmissionInvalid,
    submit_intake,
)
from interop.fhir import mapping
from interop.fhir import schema as docs
from interop.fhir.http import FHIRView, OperationOutcomeError
from interop.fhir.mapping import Issue
from interop.fhir.responses import (
    ResponseInvalid,
    read_questionnaire_response,
    validation_issues,
)
from interop.fhir.selectors import (
    is_current,
    published_version,
    published_versions,
    version_with_contents,
)

TAGS = ["fhir"]


class PublicFHIRView(FHIRView):
    permission_classes = [AllowAny]
    authentication_classes = []


class CaseFHIRView(FHIRView):
    """Case data: clinicians only, with the API's token and session sign-in."""

    permission_classes = [IsClinician]


def _absolute(request, name: str, **kwargs) -> str:
    return request.build_absolute_uri(reverse(name, kwargs=kwargs))


def _questionnaire_entry(request, version) -> tuple[dict, str]:
    resource = mapping.questionnaire(version, current=is_current(version))
    return resource, _absolute(request, "api-fhir-questionnaire", id=resource["id"])


# --- Questionnaire --------------------------------------------------------------------------


class QuestionnaireReadView(PublicFHIRView):
    """One published questionnaire version."""

    @extend_schema(
        operation_id="fhir_questionnaire_read", tags=TAGS,
        parameters=[OpenApiParameter(
            "id", str, OpenApiParameter.PATH,
            description="{slug}-{version}, e.g. upper-back-pain-1 (a _ of the slug is written "
            "as .).", examples=[OpenApiExample("Version 1", value="upper-back-pain-1")])],
        responses={200: docs.FHIRQuestionnaire,
                   404: docs.outcome("No published version has this id.")},
    )
    def get(self, request, id):
        parsed = mapping.parse_questionnaire_id(id)
        version = published_version(*parsed) if parsed else None
        if version is None:
            raise NotFound(f"No published Questionnaire has the id {quoted(id)}; "
                           "GET /api/fhir/Questionnaire lists them.")
        return Response(_questionnaire_entry(request, version)[0])


class QuestionnaireSearchView(PublicFHIRView):
    """Published questionnaire versions, by canonical URL and version: the current version is
    active, older ones retired."""

    @extend_schema(
        operation_id="fhir_questionnaire_search", tags=TAGS,
        parameters=[
            OpenApiParameter("url", str, description="The canonical URL (the same for every "
                             "version); all questionnaires when left out."),
            OpenApiParameter("version", str, description="A version number; all published "
                             "versions when left out."),
        ],
        responses={200: docs.QuestionnaireBundle},
    )
    def get(self, request):
        url, number = request.query_params.get("url"), request.query_params.get("version")
        slug = mapping.slug_of_url(url) if url is not None else None
        found = []
        searchable = (url is None or slug is not None) and (
            number is None or re.fullmatch(r"[0-9]{1,9}", number))
        if searchable:
            found = published_versions(slug=slug, number=int(number) if number else None)
        entries = [_questionnaire_entry(request, version) for version in found]
        return Response(mapping.searchset(entries, request.build_absolute_uri()))


# --- Case data ------------------------------------------------------------------------------

CASE_ERRORS = {401: docs.NOT_SIGNED_IN, 403: docs.NOT_A_CLINICIAN, 404: docs.NO_SUCH_CASE}
SUBJECT = OpenApiParameter(
    "subject", str, required=True,
    description="The intake's reference, e.g. ABCD-EFGH-JKMN (its patient is known to this "
    "service only through it).")


def _subject(request) -> str:
    subject = request.query_params.get("subject")
    if not subject:
        raise OperationOutcomeError([Issue(
            "Search by the intake: subject=<its reference>, e.g. ?subject=ABCD-EFGH-JKMN.",
            code="required")])
    return subject


def _case_search_schema(operation_id: str, bundle):
    """The OpenAPI of a search by ``subject`` (``_case_searchset``): a Bundle of ``bundle``."""
    return extend_schema(
        operation_id=operation_id, tags=TAGS, parameters=[SUBJECT],
        responses={200: bundle, 400: docs.BAD_SEARCH, **CASE_ERRORS},
    )


def _case_searchset(request, entries_of) -> Response:
    """A search by ``subject``: the searchset Bundle of ``entries_of(submission)`` for the intake
    it names, read through ``get_case`` (scoped to the user's clinics, and audited)."""
    submission = cases.get_case(request.user, _subject(request))
    return Response(mapping.searchset(entries_of(submission), request.build_absolute_uri()))


class QuestionnaireResponseReadView(CaseFHIRView):
    """An intake as a QuestionnaireResponse, with its patient contained.  Audited."""

    @extend_schema(
        operation_id="fhir_questionnaire_response_read", tags=TAGS,
        responses={200: docs.FHIRQuestionnaireResponse, **CASE_ERRORS},
    )
    def get(self, request, reference):
        submission = cases.get_case(request.user, reference)
        version = version_with_contents(submission.questionnaire_version_id)
        return Response(mapping.questionnaire_response(submission, version))


class FlagSearchView(CaseFHIRView):
    """An intake's screening flags, most urgent first.  Audited."""

    @_case_search_schema("fhir_flag_search", docs.FlagBundle)
    def get(self, request):
        return _case_searchset(
            request, lambda submission: [(flag, None) for flag in mapping.flags(submission)])


class RiskAssessmentSearchView(CaseFHIRView):
    """An intake's urgency as a RiskAssessment based on its QuestionnaireResponse.  Audited."""

    @_case_search_schema("fhir_risk_assessment_search", docs.RiskAssessmentBundle)
    def get(self, request):
        return _case_searchset(
            request, lambda submission: [(mapping.risk_assessment(submission), None)])


# --- Submitting -----------------------------------------------------------------------------


class QuestionnaireResponseCreateView(PublicFHIRView):
    """Submit an intake as a QuestionnaireResponse to the current questionnaire: validated,
    screened and stored exactly like ``POST /api/submissions/``."""

    throttle_classes = [SubmissionThrottle]
    authentication_classes = [TokenAuthentication]  # optional: scopes Idempotency-Key

    @extend_schema(
        operation_id="fhir_questionnaire_response_create", tags=TAGS,
        request=docs.FHIRQuestionnaireResponse,
        examples=docs.response_examples(),
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", IDEMPOTENCY_KEY_SCHEMA, OpenApiParameter.HEADER,
                required=False,
                description="Makes a retried POST safe, as for POST /api/submissions/: the "
                "same key and body return the first response and store nothing new; the same "
                "key with another body is a 422. Up to "
                f"{IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters without spaces."),
            OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[201],
                             required=True,
                             description="Where clinicians read the stored response."),
            OpenApiParameter("Retry-After", int, OpenApiParameter.HEADER, response=[429],
                             description="Seconds to wait before submitting again."),
        ],
        responses={
            201: docs.SubmissionBundle,
            400: docs.outcome("Every problem at once: each issue names the question's linkId "
                              "or the Patient element, with the path of the element at fault."),
            (413, "application/json"): docs.TOO_LARGE,
            415: docs.outcome("The body is not JSON (send Content-Type: "
                              "application/fhir+json, in UTF-8)."),
            422: docs.outcome("This Idempotency-Key was used before with another body."),
            429: docs.THROTTLED,
        },
    )
    def post(self, request):
        key = idempotency_key(request)
        body = json_body(request, what="the QuestionnaireResponse as JSON",
                         content_type="application/fhir+json")
        version = current_version()
        if version is None:
            raise OperationOutcomeError([Issue("No questionnaire has been published yet.",
                                               code="business-rule")])
        try:
            intake = read_questionnaire_response(body, version)
        except ResponseInvalid as invalid:
            raise OperationOutcomeError(invalid.issues) from None
        try:
            outcome = submit_intake(patient=intake.patient, answers=intake.answers,
                                    version_number=intake.version_number, idempotency_key=key)
        except SubmissionInvalid as invalid:
            # Named by linkId and Patient element, as posted; a reused Idempotency-Key is the
            # project's 422, as an OperationOutcome (``FHIRView``).
            raise OperationOutcomeError(validation_issues(invalid.errors, intake)) from None
        submission = outcome.submission
        stored = version_with_contents(submission.questionnaire_version_id)
        location = _absolute(request, "api-fhir-questionnaire-response",
                             reference=submission.reference)
        bundle = mapping.collection([
            (mapping.questionnaire_response(submission, stored), location),
            (mapping.risk_assessment(submission, advice=outcome.advice), None),
            *[(flag, None) for flag in mapping.flags(submission)],
        ])
        return Response(bundle, status=201, headers={"Location": location})


# --- Anything else under /api/fhir/ ---------------------------------------------------------


class UnknownPathView(PublicFHIRView):
    """Every other path under /api/fhir/, whatever the method: an OperationOutcome 404."""

    schema = None  # not an endpoint of the document

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.path_info.endswith("/") and _is_endpoint(request.path_info.rstrip("/")):
            raise NotFound(f"Not found. Did you mean {request.path.rstrip('/')} ? FHIR paths "
                           "have no trailing slash.")
        raise NotFound("This FHIR endpoint serves Questionnaire, QuestionnaireResponse, Flag and "
                       "RiskAssessment; the paths are listed at /api/schema/.")


def _is_endpoint(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return getattr(match.func, "view_class", None) is not UnknownPathView
