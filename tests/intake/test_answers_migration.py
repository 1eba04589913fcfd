"""Moving the answers into one document per submission (``intake.0015``, issue 19), on a
database that holds version 1 and version 2 submissions: every answer arrives, with the question
text it was asked with, and going back makes the same rows again."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from intake.models import Submission
from tests.factories import vignette

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("intake", "0014_queue_changed_at")]
AFTER = [("intake", "0015_answers_in_one_document")]
V1_ANSWERS = vignette("d15")["answers"]
V2_ANSWERS = {**vignette("v2-07")["answers"], "other_information": "Sits at a desk all day."}


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def store_with_rows(apps, reference: str, version_number: int, answers: dict) -> int:
    """A submission as stored before the move: a row per answer, with the question's code and
    text copied."""
    Version = apps.get_model("intake", "QuestionnaireVersion")
    version = Version.objects.get(questionnaire__slug="upper-back-pain", number=version_number)
    questions = {q.code: q for q in apps.get_model("intake", "Question").objects.filter(
        version=version)}
    submission = apps.get_model("intake", "Submission").objects.create(
        reference=reference, clinic=apps.get_model("clinic", "Clinic").objects.get(
            is_default=True),
        questionnaire_version=version, full_name="Old Record", phone="07700 900111",
        date_of_birth=datetime.date(1961, 4, 2), urgency="routine")
    apps.get_model("intake", "Answer").objects.bulk_create(
        apps.get_model("intake", "Answer")(
            submission=submission, question=questions[code], question_code=code,
            question_text=questions[code].text, value=value)
        for code, value in answers.items())
    return submission.pk


def rows_of(apps) -> set[tuple]:
    return {(*row[:-1], as_tuple(row[-1])) for row in apps.get_model(
        "intake", "Answer").objects.values_list(
        "submission__reference", "question_id", "question_code", "question_text", "value")}


def as_tuple(value):
    """A value as a set member: a list of choices as a tuple."""
    return tuple(value) if isinstance(value, list) else value


def test_answers_move_into_one_document_and_back():
    before = migrate(BEFORE)
    store_with_rows(before, "V1AB-CDEF-0001", 1, V1_ANSWERS)
    store_with_rows(before, "V2AB-CDEF-0002", 2, V2_ANSWERS)
    store_with_rows(before, "V2AB-CDEF-0003", 2, {})
    rows = rows_of(before)
    assert len(rows) == len(V1_ANSWERS) + len(V2_ANSWERS)

    migrate(AFTER)
    documents = dict(Submission.objects.values_list("reference", "answers"))
    assert documents == {"V1AB-CDEF-0001": V1_ANSWERS, "V2AB-CDEF-0002": V2_ANSWERS,
                         "V2AB-CDEF-0003": {}}
    # Each answer reads with the very question, and text, its row held.
    read = {(s.reference, a.question.pk, a.question_code, a.question_text, as_tuple(a.value))
            for s in Submission.objects.all() for a in s.answered}
    assert read == rows
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                           ["submission_answers_gin"])
            assert "gin (answers jsonb_path_ops)" in cursor.fetchone()[0]
        assert Submission.objects.filter(answers__contains={"chest_pain": True}).exists()

    assert rows_of(migrate(BEFORE)) == rows
    migrate(AFTER)
