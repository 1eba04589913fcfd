"""The OpenAPI document the service serves, fuzzed against the service itself.

Schemathesis reads GET /api/schema/ and, for every operation in it, sends the examples the
document gives, requests built to hit each documented constraint and its edges, and random
requests both valid and invalid, straight into the WSGI application (no server, no network).
Every response must pass every check Schemathesis has: no server error; a documented status
code, content type and headers; a body that matches the documented schema; a request that
breaks the document refused with a 4xx; an undocumented method answered 405 with an Allow
header.  One check is left out for the two intake-submitting operations, and why is said at
``SKIPPED_CHECKS``.

The example count is bounded so the run stays well inside a minute; set API_FUZZ_EXAMPLES for
a longer hunt (e.g. API_FUZZ_EXAMPLES=2000 pytest tests/api).  Under CI=true the run is
derandomized, so CI fails only for a change in the code, never for a luckier draw.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from config.wsgi import application
from intake.models import Submission
from tests.conftest import in_ci

SCHEMA_PATH = "/api/schema/?format=json"
EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "60"))

schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, application)

# An intake is valid only if it answers the questionnaire published now: which questions need
# an answer, which are shown only after another answer, that "none" stands alone, that a date
# of birth is in the past, that a phone number has 7 to 15 digits.  OpenAPI cannot state that,
# so a body that fits the document can still be refused with a 400, and the "schema-valid data
# is accepted" check cannot hold for this operation.  The documented example, a complete intake,
# is required to be accepted instead (test_the_documented_example_is_accepted), and the
# service's own validation has tests of its own (tests/intake).
SKIPPED_CHECKS = {
    ("POST", "/api/submissions/"): [schemathesis.checks.positive_data_acceptance],
    # The same for an intake sent as a FHIR QuestionnaireResponse (interop/fhir).
    ("POST", "/api/fhir/QuestionnaireResponse"): [schemathesis.checks.positive_data_acceptance],
}


@pytest.fixture
def requests_share_the_test_transaction():
    """Keep Django from closing the test's database connection around each request.

    Django's own test client does the same; the WSGI client Schemathesis uses does not, and
    closing the connection would throw away the transaction the test runs in.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def unthrottled(monkeypatch):
    """The fuzz is about validation: no 429 after the first few dozen submissions."""
    from intake.api.views import SubmissionThrottle

    monkeypatch.setattr(SubmissionThrottle, "THROTTLE_RATES", {"submissions": None})


@pytest.mark.e2e  # the whole API, every operation, dozens of requests each: about 20 s
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=in_ci(),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)
def test_every_operation_keeps_to_the_document(case, requests_share_the_test_transaction,
                                               unthrottled):
    skipped = SKIPPED_CHECKS.get((case.operation.method.upper(), case.operation.path), [])
    case.call_and_validate(excluded_checks=skipped)


# --- The document itself ---------------------------------------------------------------------


@pytest.fixture
def document(client):
    response = client.get(SCHEMA_PATH)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(("path", "headers"), [
    ("/api/schema/?format=json", {}),
    ("/api/schema/", {"Accept": "application/json"}),
    ("/api/schema/", {"Accept": "application/vnd.oai.openapi+json"}),
])
def test_the_document_is_json_when_asked(client, path, headers):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    assert response.json()["openapi"].startswith("3.")


def test_the_document_is_yaml_by_default(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


def test_the_interactive_page_renders_under_the_content_security_policy(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    html = page.content.decode()
    assert "swagger-ui" in html
    assert "<script>" not in html, "inline scripts are blocked by the CSP"
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "/api/schema/" in script.content.decode()


def test_drf_spectacular_validates_the_document_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "api.yaml")
    assert (tmp_path / "api.yaml").read_text().startswith("openapi: 3.")


def test_the_document_describes_every_error_body(document):
    operation = document["paths"]["/api/submissions/"]["post"]
    for status in ("400", "413", "415", "422", "429"):
        response = operation["responses"][status]
        assert response["description"], status
        assert "$ref" in response["content"]["application/json"]["schema"], status
    errors = document["components"]["schemas"]["ValidationErrorDoc"]
    assert set(errors["properties"]) == {"patient", "answers", "version", "clinic", "invitation",
                                         "non_field_errors", "detail"}
    assert errors["additionalProperties"] is False
    questionnaire = document["paths"]["/api/questionnaires/current/"]["get"]
    assert "404" in questionnaire["responses"]


def test_the_document_describes_the_appointments_api(document):
    paths = document["paths"]
    assert set(paths["/api/appointments/"]) >= {"get", "post"}
    assert "patch" in paths["/api/appointments/{id}/"]
    saved = document["components"]["schemas"]["SavedAppointmentDoc"]["properties"]
    assert {"id", "invitation_url", "invitation_token", "intake"} <= set(saved)
    submission = document["components"]["schemas"]["SubmissionInputDoc"]["properties"]
    assert {"clinic", "invitation"} <= set(submission)


def test_the_document_describes_the_idempotency_key(document):
    operation = document["paths"]["/api/submissions/"]["post"]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert header.get("required", False) is False
    assert header["schema"] == {"type": "string", "minLength": 1, "maxLength": 255,
                                "pattern": "^[!-~]+$"}
    assert "422" in header["description"]


@pytest.mark.django_db
def test_the_documented_example_is_accepted(client, document):
    operation = document["paths"]["/api/submissions/"]["post"]
    [example] = operation["requestBody"]["content"]["application/json"]["examples"].values()
    response = client.post("/api/submissions/", data=example["value"],
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["urgency"] == "routine"
    assert Submission.objects.count() == 1
    assert Submission.objects.get().answers == example["value"]["answers"]
