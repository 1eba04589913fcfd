"""A submission is a faithful record: the version and question texts the patient saw, its flags,
and never lost, even when screening fails or the questionnaire moves on."""

import logging

import pytest

from intake.models import QuestionnaireVersion, Submission
from intake.selectors import current_version
from intake.services.publishing import publish_version
from intake.services.questionnaires import create_draft_from
from intake.services.submissions import SubmissionInvalid, submit_intake
from screening import services as screening_services
from screening.models import Flag, RuleSet
from tests.factories import PATIENT, ROUTINE, answer_to

pytestmark = pytest.mark.django_db


def submit(answers=ROUTINE):
    return submit_intake(patient=PATIENT, answers=answers).submission


def test_old_submissions_keep_their_question_texts_after_an_edit_and_a_new_version():
    old = submit()
    old_version = current_version()
    draft = create_draft_from(old_version)
    question = draft.questions.get(code="chest_pain")
    question.text = "Any chest pain, tightness or pressure right now?"
    question.save()
    draft.questions.get(code="other_information").delete()  # a retired question
    publish_version(draft)

    new = submit()
    assert new.questionnaire_version.number == 3
    old.refresh_from_db()
    assert old.questionnaire_version == old_version
    old_answer = answer_to(old, "chest_pain")
    assert old_answer.question_text == old_version.questions.get(code="chest_pain").text
    assert old_answer.question_text != question.text
    assert answer_to(new, "chest_pain").question_text == question.text


def test_a_retired_question_keeps_its_old_answers():
    old = submit({**ROUTINE, "other_information": "I sit at a desk all day."})
    draft = create_draft_from(current_version())
    draft.questions.get(code="other_information").delete()
    publish_version(draft)
    old.refresh_from_db()
    answer = answer_to(old, "other_information")
    assert answer.value == "I sit at a desk all day."
    assert answer.question.version.number == 2


def test_a_submission_records_the_rule_set_that_screened_it():
    submission = submit()
    assert submission.rule_set == RuleSet.objects.get(status="active")
    assert submission.urgency == "routine"
    assert not submission.screening_failed


def test_flags_are_stored_with_their_evidence():
    # Two cardiac features: pain spreading to the left arm, and the angina pattern.
    submission = submit({**ROUTINE, "pain_radiates_to": ["left_arm"],
                         "pain_walking_or_stairs": True})
    flags = {f.rule_code: f for f in Flag.objects.filter(submission=submission)}
    assert set(flags) == {"cardiac_multiple_features", "radiating_arm_pain"}
    assert submission.urgency == "emergency"
    # Only the answers that made it true: not the "none" of the autonomic symptoms.
    assert flags["cardiac_multiple_features"].evidence == {
        "pain_walking_or_stairs": True, "pain_radiates_to": ["left_arm"]}
    [features] = flags["cardiac_multiple_features"].derived
    assert (features["name"], features["value"]) == ("cardiac_features", 2)


class TestScreeningFailure:
    """An error inside screening never loses the submission: it is stored, marked
    screening_failed and treated as urgent; the log names no patient data."""

    def test_a_rule_that_raises(self, monkeypatch, caplog):
        def broken_screen(*args, **kwargs):
            raise RuntimeError(f"cannot evaluate {PATIENT['full_name']}")

        monkeypatch.setattr(screening_services, "screen", broken_screen)
        caplog.set_level(logging.INFO)
        submission = submit({**ROUTINE, "other_information": "secret detail"})
        submission.refresh_from_db()
        assert submission.screening_failed
        assert submission.urgency == "urgent"
        assert submission.rule_set is None
        assert len(submission.answers) == len(ROUTINE) + 1
        assert "screening failed" in caplog.text
        assert PATIENT["full_name"] not in caplog.text
        assert "secret detail" not in caplog.text

    def test_no_active_rule_set(self):
        RuleSet.objects.filter(status="active").update(status="retired")
        submission = submit()
        assert submission.screening_failed
        assert submission.urgency == "urgent"

    def test_a_database_error_inside_screening_does_not_spoil_the_transaction(self, monkeypatch):
        from django.db import connection

        def failing_query(*args, **kwargs):
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM no_such_table")

        monkeypatch.setattr(screening_services, "screen", failing_query)
        submission = submit()
        assert Submission.objects.filter(pk=submission.pk, screening_failed=True).exists()


def test_invalid_input_stores_nothing():
    with pytest.raises(SubmissionInvalid):
        submit_intake(patient=PATIENT, answers={**ROUTINE, "pain_severity": 99})
    assert not Submission.objects.exists()


def test_the_questionnaire_api_cannot_change_a_published_version(client):
    url = "/api/questionnaires/current/"
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(url, data="{}", content_type="application/json")
        assert response.status_code == 405, method
    version = QuestionnaireVersion.objects.get(number=2)
    assert version.is_published and version.questions.count() == 44
