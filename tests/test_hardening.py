"""The smaller findings of issue 12, each as it was found: a NUL byte in the form token and a
queue cursor with a UTC offset of -23:59 (both were 500s), a token POST to an unknown /api/ path
(an HTML CSRF page), responses carrying patient data without Cache-Control: no-store, the FHIR
POST ignoring Idempotency-Key, and idempotency keys shared between signed-in clients."""

import base64
import json

import pytest
from django.test import Client
from rest_framework.test import APIClient

from clinic.models import Alert
from core.tokens import issue_token
from intake.models import Submission
from tests.factories import (
    CHEST_PAIN,
    PATIENT,
    ROUTINE,
    about_you,
    build_response,
    current_questionnaire,
    post_response,
    send_form,
)

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_the_sessions_draft_key_or_a_field_is_not_a_500(client):
    session = client.session
    session["intake_drafts"] = {"bedford": "abc\x00def"}
    session.save()
    assert client.get("/").status_code == 200
    response = client.post("/", {**about_you(), "full_name": "Ada\x00Example"})
    assert response.status_code == 200
    assert b"control characters" in response.content
    assert send_form(client).status_code == 302
    assert Submission.objects.count() == 1


def test_a_form_sent_again_with_other_answers_that_are_wrong_shows_the_errors(client):
    """Found while writing these tests: the same one-time token with different, invalid answers
    was a 500 (the retry without the token raised outside the error handling).  Now: a second
    form after the first was sent starts afresh, and its problems are shown."""
    assert send_form(client).status_code == 302
    again = send_form(client, patient={**PATIENT, "phone": ""})
    assert again.status_code == 200
    assert b"phone number" in again.content
    assert Submission.objects.count() == 1


def cursor(priority, submitted_at: str, pk) -> str:
    raw = json.dumps([priority, submitted_at, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("crafted", [
    cursor(0, "0001-01-01T00:00:00+23:59", 1),   # before year 1 in UTC
    cursor(0, "2024-01-01T00:00:00+00:00", 2**70),  # beyond bigint
])
def test_a_crafted_queue_cursor_is_a_400_not_a_500(clinician, crafted):
    api = APIClient()
    api.force_authenticate(clinician)
    response = api.get("/api/queue/", {"cursor": crafted})
    assert response.status_code == 400
    assert "cursor" in response.json()


@pytest.mark.parametrize("offset", ["-23:59", "+05:00"])
def test_a_cursor_with_any_utc_offset_is_read_as_the_instant_it_names(clinician, offset):
    """The finding: -23:59 (which Python accepts and PostgreSQL refuses) was a 500."""
    api = APIClient()
    api.force_authenticate(clinician)
    response = api.get("/api/queue/", {"cursor": cursor(0, f"2024-01-01T00:00:00{offset}", 1)})
    assert response.status_code == 200


def test_a_token_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(clinician):
    token, _ = issue_token(clinician)
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)  # a session cookie as well, as a browser-based client has
    response = client.post("/api/no-such-thing/", data="{}", content_type="application/json",
                           headers={"Authorization": f"Token {token}"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "Not found" in response.json()["detail"]


def test_a_csrf_failure_under_api_is_json(clinician):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clinician)
    response = client.post("/api/submissions/ABCD-EFGH-JKMN/acknowledge/")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "CSRF" in response.json()["detail"]


# --- Cache-Control ---------------------------------------------------------------------------


def test_every_response_with_patient_data_says_no_store(client, clinician, clinician_client,
                                                        admin_client):
    assert send_form(client).status_code == 302
    reference = Submission.objects.get().reference
    api = APIClient()
    api.force_authenticate(clinician)
    responses = {
        "the form with errors": client.post("/", {**about_you(), "phone": ""}),
        "a page of the form": client.get("/"),
        "the advice page": client.get("/advice/"),
        "POST /api/submissions/": client.post(
            "/api/submissions/", content_type="application/json",
            data=json.dumps({"patient": PATIENT, "answers": ROUTINE})),
        "the queue page": clinician_client.get("/queue/"),
        "the queue rows": clinician_client.get("/queue/rows/"),
        "the case page": clinician_client.get(f"/cases/{reference}/"),
        "GET /api/queue/": api.get("/api/queue/"),
        "GET /api/submissions/{reference}/": api.get(f"/api/submissions/{reference}/"),
        "FHIR QuestionnaireResponse": api.get(f"/api/fhir/QuestionnaireResponse/{reference}"),
        "the admin's alert list": admin_client.get("/admin/clinic/alert/"),
    }
    for what, response in responses.items():
        assert response.status_code in (200, 201), what
        assert "no-store" in response["Cache-Control"], what


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_the_fhir_post_honours_idempotency_key(client):
    """The finding: two FHIR POSTs with one key made two submissions and two alerts."""
    body = build_response(current_questionnaire(), CHEST_PAIN, PATIENT)
    api = APIClient()
    api.credentials(HTTP_IDEMPOTENCY_KEY="retry-me-1")
    first, again = post_response(api, body), post_response(api, body)
    assert first.status_code == again.status_code == 201
    assert first.json()["entry"][0]["resource"] == again.json()["entry"][0]["resource"]
    assert Submission.objects.count() == 1 and Alert.objects.count() == 1

    other = build_response(current_questionnaire(), ROUTINE, PATIENT)
    reused = post_response(api, other)
    assert reused.status_code == 422
    assert reused.json()["resourceType"] == "OperationOutcome"
    assert Submission.objects.count() == 1


def test_idempotency_keys_are_each_signed_in_clients_own(clinician, admin_user):
    body = {"patient": PATIENT, "answers": ROUTINE}
    references = []
    for user in (clinician, admin_user, None):
        api = APIClient()
        headers = {"HTTP_IDEMPOTENCY_KEY": "same-key"}
        if user is not None:
            headers["HTTP_AUTHORIZATION"] = f"Token {issue_token(user)[0]}"
        api.credentials(**headers)
        response = api.post("/api/submissions/", body, format="json")
        assert response.status_code == 201
        references.append(response.json()["reference"])
        assert api.post("/api/submissions/", body, format="json").json()["reference"] == \
            references[-1], "a retry by the same client replays"
    assert len(set(references)) == 3, "three clients, three submissions"


def test_a_bad_token_on_a_submission_is_named(client):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = api.post("/api/submissions/", {"patient": PATIENT, "answers": ROUTINE},
                        format="json")
    assert response.status_code == 401
    assert not Submission.objects.exists()
