"""``submit_intake`` returns a typed outcome (``SubmissionOutcome``) that the REST API, the form
and FHIR each render; it builds no HTTP body.  A replay of an Idempotency-Key carries what the
first answer said, word for word, from the record kept with the key."""

import dataclasses
import datetime

import pytest

from core.errors import Conflict, Invalid
from intake.models import IdempotencyRecord, Submission
from intake.services.submissions import (
    IdempotencyKeyReused,
    ReportedFlag,
    SubmissionInvalid,
    SubmissionOutcome,
    submit_intake,
)
from tests.factories import CHEST_PAIN, PATIENT, ROUTINE, patient_aged, routine_answers

pytestmark = pytest.mark.django_db

FEVER = {**routine_answers(), "fever_chills": True}  # urgent, not cardiac
OPEN = datetime.datetime(2026, 12, 1, 11, 0, tzinfo=datetime.UTC)  # a Tuesday in clinic hours
SATURDAY = datetime.datetime(2026, 12, 5, 11, 0, tzinfo=datetime.UTC)  # closed


def test_the_outcome_says_what_the_patient_is_told_about_the_stored_submission():
    outcome = submit_intake(patient=PATIENT, answers=CHEST_PAIN)

    submission = Submission.objects.get(reference=outcome.reference)
    assert isinstance(outcome, SubmissionOutcome)
    assert outcome.submission == submission and not outcome.replayed
    assert (outcome.urgency, outcome.submitted_at) == (submission.urgency, submission.submitted_at)
    assert outcome.advice.startswith("Call 999 now.")
    assert [(f.code, f.category, f.urgency) for f in outcome.flags] == [
        ("cardiac_chest_pain", "possible_cardiac", "emergency")]
    assert all(isinstance(f, ReportedFlag) and f.explanation for f in outcome.flags)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.urgency = "routine"


def test_the_rest_api_renders_the_outcome_as_the_contracts_201_body():
    outcome = submit_intake(patient=PATIENT, answers=CHEST_PAIN, now=OPEN)

    assert outcome.as_json() == {
        "reference": outcome.reference,
        "urgency": "emergency",
        "advice": outcome.advice,
        "flags": [{"code": "cardiac_chest_pain", "category": "possible_cardiac",
                   "urgency": "emergency", "explanation": outcome.flags[0].explanation}],
        "submitted_at": "2026-12-01T11:00:00+00:00",  # as stamped, not DRF's "Z" form
    }


def test_a_replay_tells_the_first_outcome_again_word_for_word_and_stores_nothing():
    body = {"patient": patient_aged(40, OPEN.date()), "answers": FEVER}
    first = submit_intake(**body, idempotency_key="key-1", now=OPEN)
    # The clinic is closed by the time the client retries: the advice would be another now.
    again = submit_intake(**body, idempotency_key="key-1", now=SATURDAY)

    assert again.replayed and not first.replayed
    assert dataclasses.replace(again, replayed=False) == first
    assert Submission.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    assert first.urgency == "urgent"


def test_a_key_kept_before_outcomes_were_typed_still_replays():
    """Records kept with a key hold the first answer as JSON, in the members of the API's 201
    body; records written before the outcome was typed read back the same way."""
    submission = submit_intake(patient=PATIENT, answers=ROUTINE, idempotency_key="old").submission
    kept = {"reference": submission.reference, "urgency": "routine", "advice": "Book in.",
            "flags": [{"code": "c", "category": "k", "urgency": "soon", "explanation": "e"}],
            "submitted_at": "2026-12-01T11:00:00.123456+00:00"}
    IdempotencyRecord.objects.filter(key="old").update(response=kept)

    outcome = submit_intake(patient=PATIENT, answers=ROUTINE, idempotency_key="old")

    assert outcome.replayed and outcome.submission == submission
    assert outcome.as_json() == kept


def test_invalid_input_is_an_invalid_error_keyed_by_field_and_stores_nothing():
    with pytest.raises(SubmissionInvalid) as raised:
        submit_intake(patient={**PATIENT, "date_of_birth": "2999-01-01"},
                      answers={**ROUTINE, "pain_severity": 99})

    assert isinstance(raised.value, Invalid)
    assert set(raised.value.errors) == {"patient", "answers"}
    assert list(raised.value.errors["answers"]) == ["pain_severity"]
    assert list(raised.value.errors["patient"]) == ["date_of_birth"]
    assert not Submission.objects.exists()


def test_a_key_used_again_with_another_body_is_a_conflict():
    submit_intake(patient=PATIENT, answers=ROUTINE, idempotency_key="key-2")

    with pytest.raises(IdempotencyKeyReused) as raised:
        submit_intake(patient=PATIENT, answers=FEVER, idempotency_key="key-2")

    assert isinstance(raised.value, Conflict)
    assert "Use a new key" in str(raised.value)
    assert Submission.objects.count() == 1
