"""POST /api/submissions/: what REST clients send, good and bad, and what they get back."""

import json

import pytest

from intake.models import IdempotencyRecord, Submission
from intake.references import PATTERN as REFERENCE_PATTERN
from tests.factories import (
    CHEST_PAIN,
    PATIENT,
    ROUTINE,
    SUBMISSIONS_URL,
    answer_to,
    post_submission,
    routine_answers_v1,
)

pytestmark = pytest.mark.django_db


def nothing_stored():
    return not Submission.objects.exists()


def test_a_routine_intake_is_stored_and_answered(client):
    response = post_submission(client, {"patient": PATIENT, "answers": ROUTINE})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"reference", "urgency", "advice", "flags", "submitted_at"}
    assert REFERENCE_PATTERN.match(body["reference"])
    assert body["urgency"] == "routine"
    assert body["flags"] == []
    assert "appointment" in body["advice"]
    submission = Submission.objects.get(reference=body["reference"])
    assert submission.full_name == "Ada Example"
    assert submission.questionnaire_version.number == 2
    assert submission.answers == ROUTINE
    assert [a.question_code for a in submission.answered] == list(ROUTINE)


def test_an_emergency_tells_the_patient_to_call_999(client):
    response = post_submission(client, {"patient": PATIENT, "answers": CHEST_PAIN})
    assert response.status_code == 201
    body = response.json()
    assert body["urgency"] == "emergency"
    assert body["advice"].startswith("Call 999 now.")
    assert body["flags"] == [{
        "code": "cardiac_chest_pain", "category": "possible_cardiac", "urgency": "emergency",
        "explanation": body["flags"][0]["explanation"],
    }]
    assert body["flags"][0]["explanation"]


def test_answers_keep_the_question_text_as_shown(client):
    reference = post_submission(
        client, {"patient": PATIENT, "answers": ROUTINE}).json()["reference"]
    answer = answer_to(Submission.objects.get(reference=reference), "chest_pain")
    assert answer.question_text == answer.question.text
    assert answer.question.version.number == 2


class TestBadInput:
    def test_every_problem_is_named_at_once_and_nothing_is_stored(self, client):
        response = post_submission(client, {
            "patient": {**PATIENT, "date_of_birth": "1971-02-30", "phone": "no"},
            "answers": {**ROUTINE, "pain_severity": 11, "sex": "robot", "unknown_code": True},
        })
        assert response.status_code == 400
        body = response.json()
        assert body["answers"]["pain_severity"] == ["Must be between 0 and 10."]
        assert set(body["answers"]) == {"pain_severity", "sex", "unknown_code"}
        assert set(body["patient"]) == {"date_of_birth", "phone"}
        assert nothing_stored()

    @pytest.mark.parametrize("body", [
        "", "not json", "{", "[]", "null", "42", '"text"', '{"patient": NaN}',
        '{"patient": {}, "patient": {}}', "[" * 30_000 + "]" * 30_000,
        b"\xff\xfe not utf-8",
    ])
    def test_malformed_bodies_are_400_json(self, client, body):
        response = post_submission(client, body)
        assert response.status_code == 400, response.content[:200]
        assert response["Content-Type"] == "application/json"
        assert nothing_stored()

    def test_missing_and_unknown_top_level_fields(self, client):
        response = post_submission(client, {"answers": ROUTINE, "extra": 1})
        assert response.status_code == 400
        body = response.json()
        assert set(body) == {"patient", "non_field_errors"}
        assert body["patient"] == {"non_field_errors": ["This field is required."]}
        assert "Unknown field “extra”" in body["non_field_errors"][0]
        assert nothing_stored()

    @pytest.mark.parametrize("patient", [None, [], "Ada", {"full_name": {"first": "Ada"}}])
    def test_patient_of_the_wrong_shape(self, client, patient):
        response = post_submission(client, {"patient": patient, "answers": ROUTINE})
        assert response.status_code == 400
        assert "patient" in response.json()
        assert nothing_stored()

    @pytest.mark.parametrize("answers", [None, [], "answers", {"chest_pain": {"$gt": 1}}])
    def test_answers_of_the_wrong_shape(self, client, answers):
        response = post_submission(client, {"patient": PATIENT, "answers": answers})
        assert response.status_code == 400
        assert "answers" in response.json()
        assert nothing_stored()

    def test_an_answer_to_a_hidden_question_is_refused(self, client):
        response = post_submission(client, {
            "patient": PATIENT, "answers": {**ROUTINE, "trauma_details": "Fell off a bike"}})
        assert response.status_code == 400
        assert "recent_trauma" in response.json()["answers"]["trauma_details"][0]

    def test_an_oversized_body_is_413_json(self, client):
        body = {"patient": PATIENT, "answers": {**ROUTINE, "other_information": "x" * 70_000}}
        response = post_submission(client, body)
        assert response.status_code == 413
        assert "bytes" in response.json()["detail"]
        assert nothing_stored()

    def test_a_long_text_answer_under_the_body_limit_is_named(self, client):
        body = {"patient": PATIENT, "answers": {**ROUTINE, "other_information": "x" * 2001}}
        response = post_submission(client, body)
        assert response.status_code == 400
        assert "2000 characters" in response.json()["answers"]["other_information"][0]

    def test_form_encoded_bodies_are_415_json(self, client):
        response = client.post(SUBMISSIONS_URL, data={"patient": "x"})
        assert response.status_code == 415
        assert response["Content-Type"] == "application/json"

    def test_wrong_method_is_405_json(self, client):
        response = client.get(SUBMISSIONS_URL)
        assert response.status_code == 405
        assert response["Content-Type"] == "application/json"

    def test_unknown_api_path_is_404_json(self, client):
        response = client.get("/api/no-such-thing/")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"

    @pytest.mark.parametrize("version", [1, 3, 0, "2", True, None])
    def test_an_old_unpublished_or_malformed_version_is_refused(self, client, version):
        response = post_submission(client, {"patient": PATIENT, "answers": ROUTINE,
                                            "version": version})
        if version is None:
            assert response.status_code == 201
        else:
            assert response.status_code == 400
            assert "version" in response.json()

    def test_version_1_answers_get_the_version_error(self, client):
        """A client still sending version 1 answers once version 2 is current is told to fetch
        the current version, and nothing is stored."""
        response = post_submission(client, {"patient": PATIENT, "answers": routine_answers_v1(),
                                            "version": 1})
        assert response.status_code == 400
        assert response.json()["version"] == [
            "Version 1 is not the current version of the questionnaire (2); fetch "
            "/api/questionnaires/current/ and answer that."]
        assert nothing_stored()


class TestIdempotency:
    def test_same_key_and_body_returns_the_first_response_and_stores_nothing_new(self, client):
        body = {"patient": PATIENT, "answers": CHEST_PAIN}
        first = post_submission(client, body, **{"Idempotency-Key": "key-1"})
        second = post_submission(client, body, **{"Idempotency-Key": "key-1"})
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert Submission.objects.count() == 1

    def test_same_key_with_another_body_is_422(self, client):
        post_submission(client, {"patient": PATIENT, "answers": ROUTINE},
                        **{"Idempotency-Key": "key-2"})
        response = post_submission(client, {"patient": PATIENT, "answers": CHEST_PAIN},
                                   **{"Idempotency-Key": "key-2"})
        assert response.status_code == 422
        assert "different request" in response.json()["detail"]
        assert Submission.objects.count() == 1

    def test_key_order_in_the_body_does_not_matter(self, client):
        body = json.dumps({"patient": PATIENT, "answers": ROUTINE})
        reordered = json.dumps({"answers": dict(reversed(ROUTINE.items())), "patient": PATIENT})
        assert post_submission(client, body, **{"Idempotency-Key": "k3"}).status_code == 201
        assert post_submission(client, reordered, **{"Idempotency-Key": "k3"}).status_code == 201
        assert Submission.objects.count() == 1

    def test_different_keys_make_different_submissions(self, client):
        body = {"patient": PATIENT, "answers": ROUTINE}
        post_submission(client, body, **{"Idempotency-Key": "a"})
        post_submission(client, body, **{"Idempotency-Key": "b"})
        assert Submission.objects.count() == 2
        assert IdempotencyRecord.objects.count() == 2

    def test_an_invalid_request_does_not_use_up_the_key(self, client):
        bad = post_submission(client, {"patient": PATIENT, "answers": {}},
                              **{"Idempotency-Key": "k4"})
        assert bad.status_code == 400
        good = post_submission(client, {"patient": PATIENT, "answers": ROUTINE},
                               **{"Idempotency-Key": "k4"})
        assert good.status_code == 201

    @pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
    def test_malformed_keys_are_400(self, client, key):
        response = post_submission(client, {"patient": PATIENT, "answers": ROUTINE},
                                   **{"Idempotency-Key": key})
        assert response.status_code == 400
        assert "Idempotency-Key" in response.json()["detail"]
        assert nothing_stored()


def test_anonymous_submissions_are_throttled_per_client(client, monkeypatch):
    from django.core.cache import cache

    from intake.api.views import SubmissionThrottle

    cache.clear()
    monkeypatch.setattr(SubmissionThrottle, "THROTTLE_RATES", {"submissions": "2/minute"})
    body = json.dumps({"patient": PATIENT, "answers": ROUTINE})

    def post_from(address, **headers):
        return client.post(SUBMISSIONS_URL, data=body, content_type="application/json",
                           REMOTE_ADDR=address, headers=headers).status_code

    assert [post_from("198.51.100.1") for _ in range(3)] == [201, 201, 429]
    # A forged X-Forwarded-For does not make a new client (no proxy is trusted by default).
    assert post_from("198.51.100.1", **{"X-Forwarded-For": "203.0.113.9"}) == 429
    assert post_from("198.51.100.2") == 201
    assert Submission.objects.count() == 3
    cache.clear()
