"""The services' errors (``core.errors``) become HTTP in one place, ``config.errors``: each has
one status, written as JSON for the REST API, as Django's page for pages, and as an
OperationOutcome for FHIR (whose views wrap the project's handler rather than map errors again).

The probes below are views that do nothing but raise, served by this module as the URLconf."""

import ast
import inspect
import json

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

import core.errors
from config import errors
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from intake.services.answers import AnswersInvalid
from intake.services.patients import PatientInvalid
from intake.services.submissions import IdempotencyKeyReused, SubmissionInvalid
from interop.fhir.http import FHIR_JSON, FHIRView

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

FIELD_ERRORS = {"answers": {"pain_severity": ["Must be between 0 and 10."]},
                "patient": {"date_of_birth": ["The date of birth cannot be in the future."]}}
RAISED = {
    "not-found": NotFound("No case with that reference."),
    "forbidden": Forbidden("Only clinicians can see cases."),
    "invalid": Invalid(FIELD_ERRORS),
    "conflict": IdempotencyKeyReused(),
}


def _raise(kind):
    raise RAISED[kind]


class APIProbe(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request, kind):
        _raise(kind)


class FHIRProbe(FHIRView):
    permission_classes = [AllowAny]
    authentication_classes = []

    def get(self, request, kind):
        _raise(kind)


def page_probe(request, kind) -> HttpResponse:
    _raise(kind)


urlpatterns = [
    path("api/probe/<kind>/", APIProbe.as_view()),
    path("api/fhir/Probe/<kind>", FHIRProbe.as_view()),
    path("probe/<kind>/", page_probe),
]

# kind: (status, the REST API's body, FHIR's issue code, FHIR's issue text)
EXPECTED = {
    "not-found": (404, {"detail": "No case with that reference."}, "not-found",
                  "No case with that reference."),
    "forbidden": (403, {"detail": "Only clinicians can see cases."}, "forbidden",
                  "Only clinicians can see cases."),
    "invalid": (400, FIELD_ERRORS, "invalid", "Must be between 0 and 10. The date of birth "
                                              "cannot be in the future."),
    "conflict": (422, {"detail": "This Idempotency-Key was already used with a different "
                                 "request. Use a new key for a new submission."},
                 "business-rule", "This Idempotency-Key was already used with a different "
                                  "request. Use a new key for a new submission."),
}


@pytest.mark.parametrize("kind", EXPECTED)
def test_the_rest_api_answers_each_error_with_its_status_and_json_body(client, kind):
    status, body, _, _ = EXPECTED[kind]
    response = client.get(f"/api/probe/{kind}/")
    assert (response.status_code, response["Content-Type"]) == (status, "application/json")
    assert response.json() == body


@pytest.mark.parametrize("kind", EXPECTED)
def test_fhir_answers_each_error_with_the_same_status_as_an_operation_outcome(client, kind):
    status, _, code, text = EXPECTED[kind]
    response = client.get(f"/api/fhir/Probe/{kind}", headers={"Accept": FHIR_JSON})
    assert (response.status_code, response["Content-Type"]) == (status, FHIR_JSON)
    assert response.json() == {"resourceType": "OperationOutcome", "issue": [
        {"severity": "error", "code": code, "details": {"text": text}}]}


@pytest.mark.parametrize("kind", EXPECTED)
def test_a_page_answers_each_error_with_the_page_for_its_status(client, kind):
    status = EXPECTED[kind][0]
    response = client.get(f"/probe/{kind}/")
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")


def test_a_page_that_is_not_found_gets_djangos_404_page_as_for_http404(client):
    response = client.get("/probe/not-found/")
    assert b"Not Found" in response.content
    assert b"No case with that reference" not in response.content


@pytest.mark.parametrize(("error", "status"), [
    (NotFound(), 404), (Forbidden(), 403), (Invalid({}), 400), (Conflict(), 422),
    (DomainError(), 400),
    # The services' own kinds take their family's status.
    (SubmissionInvalid({}), 400), (AnswersInvalid({}), 400), (PatientInvalid({}), 400),
    (IdempotencyKeyReused(), 422),
])
def test_each_error_has_one_status_its_most_specific_kind_decides(error, status):
    assert errors.status_of(error) == status


def test_an_errors_messages_are_every_message_in_order_however_nested():
    assert Invalid(FIELD_ERRORS).messages == [
        "Must be between 0 and 10.", "The date of birth cannot be in the future."]
    assert str(NotFound()) == "Not found."
    assert str(NotFound("No case with that reference.")) == "No case with that reference."


def test_a_database_outage_outside_the_views_is_an_operation_outcome_under_fhir_only():
    """Before any view runs (a middleware reading the session), ``database_unavailable`` writes
    the 503 in the form of the path, FHIR's with FHIR's own writer (config sits above interop)."""
    factory = RequestFactory()
    fhir = errors.database_unavailable(factory.get("/api/fhir/Questionnaire"))
    assert (fhir.status_code, fhir["Content-Type"], fhir["Retry-After"],
            fhir["Cache-Control"]) == (503, FHIR_JSON, "30", "no-store")
    [issue] = json.loads(fhir.content)["issue"]
    assert issue["code"] == "transient" and "database" in issue["details"]["text"]

    api = errors.database_unavailable(factory.get("/api/queue/"))
    assert (api.status_code, api["Content-Type"]) == (503, "application/json")
    assert "database" in json.loads(api.content)["detail"]

    page = errors.database_unavailable(factory.get("/"))
    assert page.status_code == 503 and b"999" in page.content


def _imported(module) -> set[str]:
    tree = ast.parse(inspect.getsource(module))
    return ({alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names}
            | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)})


def test_the_errors_import_no_app_and_the_mapping_nothing_of_fhir():
    apps = ("clinic", "intake", "screening")
    assert not {name for name in _imported(core.errors) if name.split(".")[0] in apps}
    assert not {name for name in _imported(errors) if name.split(".")[0] == "intake"}
