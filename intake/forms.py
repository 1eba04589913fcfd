"""Turning what an HTML form posts (strings) into the JSON-typed answers the submission service
validates.  Nothing is judged here: a value that cannot be converted is passed on as the string
it was, and the service's one validation names the problem."""

import re

from django.http import QueryDict

from intake.models import Question
from intake.services.answers import VersionSchema
from intake.services.patients import FIELDS as PATIENT_FIELDS

_INTEGER = re.compile(r"^[+-]?\d{1,9}$")
_BOOLEANS = {"true": True, "false": False}


def answers_from_form(schema: VersionSchema, data: QueryDict) -> dict:
    answers = {}
    for code, question in schema.questions.items():
        if question.type == Question.Type.MULTI_CHOICE:
            chosen = data.getlist(code)
            if chosen:
                answers[code] = chosen
            continue
        raw = data.get(code, "")
        if question.type != Question.Type.TEXT:
            raw = raw.strip()
        if raw == "":
            continue
        if question.type == Question.Type.BOOLEAN:
            answers[code] = _BOOLEANS.get(raw, raw)
        elif question.type == Question.Type.INTEGER:
            answers[code] = int(raw) if _INTEGER.match(raw) else raw
        else:
            answers[code] = raw
    return answers


def form_values(schema: VersionSchema, data: QueryDict) -> dict:
    """What the patient entered, as strings, to show again when the form has errors."""
    return {
        code: data.getlist(code) if q.type == Question.Type.MULTI_CHOICE else data.get(code, "")
        for code, q in schema.questions.items()
    }


def patient_from_form(data: QueryDict) -> dict:
    return {field: data.get(f"patient_{field}", "") for field in PATIENT_FIELDS}
