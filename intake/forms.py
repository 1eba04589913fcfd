"""Turning what an HTML form posts (strings) into the JSON-typed answers the submission service
validates.  Nothing is judged here: each question's type converts its own field
(``QuestionType.from_form``), a value that cannot be converted is passed on as the string it
was, and the service's one validation names the problem."""

from django.http import QueryDict

from intake.selectors import VersionSchema
from intake.services.patients import FIELDS as PATIENT_FIELDS


def answers_from_form(schema: VersionSchema, data: QueryDict) -> dict:
    answers = {}
    for code, question in schema.questions.items():
        answer = question.kind.from_form(data, code)
        if answer is not None:
            answers[code] = answer
    return answers


def form_values(schema: VersionSchema, data: QueryDict) -> dict:
    """What the patient entered, as strings, to show again when the form has errors."""
    return {code: q.kind.form_value(data, code) for code, q in schema.questions.items()}


def patient_from_form(data: QueryDict) -> dict:
    return {field: data.get(f"patient_{field}", "") for field in PATIENT_FIELDS}
