"""Issue 19: a submission's answers kept as one JSON document on the submission (question code
to value), instead of a row per answer that copied the question's code and text.

The published version the submission points at holds every question's text and never changes,
so the document keeps exactly what the rows did, in one row: the answers' INSERT was a tenth of
a submission's time and four index entries per answer.  On PostgreSQL a GIN index
(``jsonb_path_ops``) serves any query by answer (``answers__contains``).

Forward, every submission's rows become its document (one statement on PostgreSQL); backward,
the rows are made again from the documents, each with its question's code and text.
"""

from django.db import migrations, models

GIN_INDEX = "submission_answers_gin"


def rows_to_documents(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "UPDATE intake_submission AS s SET answers = a.document FROM ("
            " SELECT submission_id, jsonb_object_agg(question_code, value) AS document"
            " FROM intake_answer GROUP BY submission_id) AS a WHERE a.submission_id = s.id")
        return
    Submission = apps.get_model("intake", "Submission")
    Answer = apps.get_model("intake", "Answer")
    documents: dict[int, dict] = {}
    for submission_id, code, value in Answer.objects.order_by("pk").values_list(
            "submission_id", "question_code", "value").iterator(chunk_size=2000):
        documents.setdefault(submission_id, {})[code] = value
    Submission.objects.bulk_update(
        [Submission(pk=pk, answers=document) for pk, document in documents.items()],
        ["answers"], batch_size=500)


def documents_to_rows(apps, schema_editor):
    Submission = apps.get_model("intake", "Submission")
    Question = apps.get_model("intake", "Question")
    Answer = apps.get_model("intake", "Answer")
    questions: dict[int, dict[str, object]] = {}
    rows = []
    for pk, version_id, document in Submission.objects.order_by("pk").values_list(
            "pk", "questionnaire_version_id", "answers").iterator(chunk_size=2000):
        if version_id not in questions:
            questions[version_id] = {q.code: q for q in Question.objects.filter(
                version_id=version_id)}
        asked = questions[version_id]
        rows += [Answer(submission_id=pk, question=asked[code], question_code=code,
                        question_text=asked[code].text, value=value)
                 for code, value in document.items()]
    Answer.objects.bulk_create(rows, batch_size=2000)


def add_gin_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {GIN_INDEX} ON intake_submission USING gin (answers jsonb_path_ops)")


def drop_gin_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {GIN_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0014_queue_changed_at"),
    ]

    operations = [
        # The rows' accessor gives way to the document's field of the same name.
        migrations.AlterField(
            model_name="answer",
            name="submission",
            field=models.ForeignKey(on_delete=models.deletion.CASCADE, related_name="+",
                                    to="intake.submission"),
        ),
        migrations.AddField(
            model_name="submission",
            name="answers",
            field=models.JSONField(
                blank=True, default=dict, editable=False,
                help_text="The answers by question code, as validated (unanswered questions "
                "left out). The questions' texts are the questionnaire version's, which never "
                "changes once published."),
        ),
        migrations.RunPython(rows_to_documents, documents_to_rows),
        migrations.DeleteModel(name="Answer"),
        migrations.RunPython(add_gin_index, drop_gin_index),
    ]
