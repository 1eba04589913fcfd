"""REST entry points for clinicians: the queue, a case, and acting on it; and API tokens.

Each view checks the request's shape, calls one function of ``clinic.review.cases`` (which scopes
every
query to the user and audits every access), and renders the result.
"""

import datetime
import functools

from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.review import cases
from clinic.review.pagination import QueueCursorPagination
from clinic.review.serializers import (
    CallOutcomeInput,
    CaseDetail,
    QueueItem,
    ReviewInput,
    TokenInput,
    queue_items,
)
from core.permissions import IsClinician
from core.throttling import SignInThrottle
from core.tokens import TokenAuthentication, issue_token, may_hold_token
from core.two_factor import WRONG_CREDENTIALS, must_set_up_two_factor, second_factor_passes
from intake.models import Submission
from intake.references import normalise_reference

NOT_SIGNED_IN = OpenApiResponse(description="Not signed in (send `Authorization: Token ...`).")
NOT_A_CLINICIAN = OpenApiResponse(description="Signed in, but not a clinician.")
NO_SUCH_CASE = OpenApiResponse(description="No case with that reference that you can see.")


class QueueAPIView(APIView):
    """Open cases, most urgent first, then oldest first; cursor-paginated."""

    permission_classes = [IsClinician]

    @extend_schema(
        parameters=[
            OpenApiParameter("urgency", str, enum=[u.value for u in Submission.Urgency]),
            OpenApiParameter("status", str, enum=["open", "reviewed", "all"],
                             description="Default: open."),
            OpenApiParameter("since", datetime.date), OpenApiParameter("until", datetime.date),
            OpenApiParameter("search", str, description="A case reference (names are not "
                             "searched here: they must not go in a URL)."),
            *[OpenApiParameter(p["name"], int if p["name"] == "page_size" else str)
              for p in QueueCursorPagination().get_schema_operation_parameters(None)],
        ],
        responses={200: QueueItem(many=True), 400: OpenApiResponse(description="Bad filter."),
                   401: NOT_SIGNED_IN, 403: NOT_A_CLINICIAN},
    )
    def get(self, request):
        filters = queue_filters(request.query_params, names_allowed=False)
        paginator = QueueCursorPagination()
        page = paginator.paginate(request, functools.partial(cases.queue_after, request.user,
                                                             filters))
        return paginator.response(queue_items(page))


def queue_filters(params, *, names_allowed: bool = True) -> cases.QueueFilters:
    """Read the queue's filters from query parameters (API) or a form (page).  A query string
    ends up in access logs, so the API searches by reference only; the page, which keeps its
    filters in the session, also searches by name."""
    errors = {}
    search = params.get("search", "")[:200]
    if search.strip() and not names_allowed and normalise_reference(search) is None:
        errors["search"] = ["Search by case reference here (e.g. ABCD-EFGH-JKMN): a patient's "
                            "name must not go in a URL. Search by name on the /queue/ page."]
    urgency = params.get("urgency", "")
    if urgency and urgency not in Submission.Urgency.values:
        errors["urgency"] = [f"Choose one of {', '.join(Submission.Urgency.values)}."]
    status = params.get("status", Submission.Status.OPEN)
    if status == "all":
        status = ""
    elif status not in Submission.Status.values:
        errors["status"] = ["Choose open, reviewed or all."]
    dates = {}
    for name in ("since", "until"):
        value = params.get(name) or None
        if value:
            try:
                dates[name] = datetime.date.fromisoformat(value)
            except ValueError:
                errors[name] = ["Give a date as YYYY-MM-DD."]
    if errors:
        raise ValidationError(errors)
    return cases.QueueFilters(urgency=urgency, status=status, search=search,
                              since=dates.get("since"), until=dates.get("until"))


def _validated(request, serializer_class, not_an_object: str) -> dict:
    """The request's body, a JSON object, validated by ``serializer_class``; any other body is
    refused with ``not_an_object``, which shows the client what to send."""
    if not isinstance(request.data, dict):
        raise ValidationError({"non_field_errors": [not_an_object]})
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


class CaseAPIView(APIView):
    """The whole case: answers with the question text as shown, flags with the answers that
    fired them, the alert with its deliveries.  Every call is audited."""

    permission_classes = [IsClinician]

    @extend_schema(responses={200: CaseDetail, 401: NOT_SIGNED_IN, 403: NOT_A_CLINICIAN,
                              404: NO_SUCH_CASE})
    def get(self, request, reference):
        return Response(CaseDetail(cases.get_case(request.user, reference)).data)


class CaseActionAPIView(APIView):
    """A POST that acts on one case and answers with the case as it now is."""

    permission_classes = [IsClinician]

    @extend_schema(request=None, responses={200: CaseDetail, 401: NOT_SIGNED_IN,
                                            403: NOT_A_CLINICIAN, 404: NO_SUCH_CASE})
    def post(self, request, reference):
        self.act(request, reference)
        return Response(CaseDetail(cases.get_case(request.user, reference,
                                                  audit_view=False)).data)

    def act(self, request, reference) -> None:
        raise NotImplementedError


class AcknowledgeAPIView(CaseActionAPIView):
    """The duty clinician has seen the alert: escalation stops."""

    def act(self, request, reference):
        cases.acknowledge_case(request.user, reference)


class ClaimAPIView(CaseActionAPIView):
    """"I'm calling this patient"."""

    def act(self, request, reference):
        cases.claim_case(request.user, reference)


class ReopenAPIView(CaseActionAPIView):
    """Put a reviewed case back on the open queue."""

    def act(self, request, reference):
        cases.reopen_case(request.user, reference)


class ReviewAPIView(CaseActionAPIView):
    """Mark the case reviewed, with a note: it leaves the open queue."""

    @extend_schema(request=ReviewInput, responses={200: CaseDetail, 400: OpenApiResponse(),
                                                   401: NOT_SIGNED_IN, 403: NOT_A_CLINICIAN,
                                                   404: NO_SUCH_CASE})
    def post(self, request, reference):
        return super().post(request, reference)

    def act(self, request, reference):
        review = _validated(request, ReviewInput,
                            'Send a JSON object, e.g. {"note": "Called the patient."}')
        cases.review_case(request.user, reference, note=review["note"],
                          outcome=review["outcome"], judgement=review["triage_judgement"],
                          judged_flag=review["judged_flag"])


class CallOutcomeAPIView(CaseActionAPIView):
    """Record what came of the call to the patient of the case's alert (acknowledging it first
    if nobody had): any outcome but ``no_answer`` resolves it and stops its follow-ups."""

    @extend_schema(request=CallOutcomeInput, responses={
        200: CaseDetail, 400: OpenApiResponse(description="No outcome, or one not offered."),
        401: NOT_SIGNED_IN, 403: NOT_A_CLINICIAN,
        404: OpenApiResponse(description="No case with that reference that you can see, or a "
                                         "case without an alert."),
        422: OpenApiResponse(description="An outcome already resolved the alert.")})
    def post(self, request, reference):
        return super().post(request, reference)

    def act(self, request, reference):
        data = _validated(request, CallOutcomeInput,
                          'Send a JSON object, e.g. {"outcome": "booked_today"}')
        cases.record_call_outcome(request.user, reference, outcome=data["outcome"])


class TokenAPIView(APIView):
    """Exchange a clinician's or admin's username, password (and code, with two-factor sign-in)
    for an API token that expires (``core.tokens``).  Limited per address; repeated failures
    lock the username out from that address (django-axes), a wrong code counting as a failure."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [SignInThrottle]

    @extend_schema(
        request=TokenInput,
        responses={200: inline_serializer("Token", fields={
                       "token": serializers.CharField(),
                       "expiry": serializers.DateTimeField(help_text="When it stops working.")}),
                   400: OpenApiResponse(description="Wrong username, password or code (one "
                                                    "answer for all three)."),
                   403: OpenApiResponse(description="Not a clinician or admin, or an admin "
                                                    "who must turn on two-factor sign-in."),
                   429: OpenApiResponse(description="Too many attempts: locked out, or "
                                                    "too many from this address.")},
    )
    def post(self, request):
        data = _validated(request, TokenInput, "Send a JSON object with username and password.")
        code = data.pop("otp_token", "")
        try:
            user = authenticate(request._request, **data)
        except PermissionDenied:
            user = None
        if user is not None and not second_factor_passes(request._request, user, code):
            user = None
        if getattr(request._request, "axes_locked_out", False):
            return Response({"detail": "Too many failed sign-in attempts: this account is "
                                       "locked for a while. Try again later."}, status=429)
        if user is None:
            raise ValidationError({"non_field_errors": [WRONG_CREDENTIALS]})
        if not may_hold_token(user):
            return Response({"detail": "Only clinicians and admins can have API tokens."},
                            status=403)
        if must_set_up_two_factor(user):
            return Response({"detail": "Your account must use two-factor sign-in: turn it on "
                                       "at /accounts/two-factor/, then ask for a token with "
                                       "the code."}, status=403)
        token, expiry = issue_token(user)
        return Response({"token": token, "expiry": expiry})


class TokenRevokeAPIView(APIView):
    """Revoke the token this request is signed in with (sign out of the API)."""

    authentication_classes = [TokenAuthentication]

    @extend_schema(request=None, responses={204: None, 401: NOT_SIGNED_IN})
    def post(self, request):
        request.auth.delete()
        return Response(status=204)
