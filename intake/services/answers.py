"""Validating a patient's answers against the exact questionnaire version they saw.

This is the one place answers are validated: the web form and the REST API both call
``clean_answers``.  The input is what a JSON client sends (the form converts its strings first,
see ``intake.forms``); anything that is not exactly valid is refused, and every problem is
reported at once, keyed by question code, in words a person can act on.
"""

import unicodedata
from typing import Any

from core.errors import Invalid
from intake.quoting import printable
from intake.selectors import QuestionSpec, VersionSchema
from intake.services.text import hidden_character_problem

# Characters a text answer may contain besides printable ones.  NUL and the other C0 and C1
# controls are refused: PostgreSQL cannot store NUL, and the others are never typed by a person.
_ALLOWED_CONTROL = {"\n", "\r", "\t"}

# How many unknown question codes one error response names; a body of ten thousand junk keys
# gets a short answer, not ten thousand lines.
MAX_UNKNOWN_CODES_NAMED = 20


class AnswersInvalid(Invalid):
    """``errors`` maps each question code at fault (or ``non_field_errors``) to its messages."""


def clean_answers(schema: VersionSchema, raw: Any) -> dict[str, Any]:
    """Return the answers keyed by code, in question order, with empty answers dropped.

    Raises ``AnswersInvalid`` naming every problem.
    """
    if not isinstance(raw, dict):
        raise AnswersInvalid({"non_field_errors": [
            "Send the answers as an object whose keys are question codes."
        ]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    unknown = [code for code in raw if code not in schema.questions]
    for code in unknown[:MAX_UNKNOWN_CODES_NAMED]:
        errors[printable(code)] = ["There is no question with this code in this questionnaire."]
    if len(unknown) > MAX_UNKNOWN_CODES_NAMED:
        errors["non_field_errors"] = [
            f"{len(unknown) - MAX_UNKNOWN_CODES_NAMED} more keys are not question codes of "
            "this questionnaire; send only the codes /api/questionnaires/current/ lists."]
    for code, question in schema.questions.items():
        value = raw.get(code)
        if _is_empty(value):
            continue
        problem, clean_value = _check_value(question, value)
        if problem:
            errors[code] = [problem]
        elif clean_value is not None:
            cleaned[code] = clean_value
    # Show-conditions and required answers, judged on the answers that were valid.
    for code, question in schema.questions.items():
        if code in errors:
            continue
        shown = _condition_holds(question, cleaned, schema)
        if code in cleaned and not shown:
            errors[code] = [_not_shown_message(question, schema)]
        elif code not in cleaned and question.required and shown:
            errors[code] = ["This question needs an answer."]
    if errors:
        raise AnswersInvalid(errors)
    return cleaned


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str | list) and len(value) == 0)


def _check_value(question: QuestionSpec, value) -> tuple[str | None, Any]:
    """(problem, cleaned value) for one non-empty answer: the patient's own words are checked
    for characters that must not be stored, then the question's type judges the answer."""
    kind = question.kind
    if kind.free_text and isinstance(value, str):
        problem = _free_text_problem(value.strip())
        if problem:
            return problem, None
    return kind.clean(question, value)


def _free_text_problem(text: str) -> str | None:
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROL for ch in text):
        return "Remove the control characters from this answer."
    hidden = hidden_character_problem(text)
    if hidden:
        return hidden
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "This answer contains characters that are not valid text."
    return None


def _condition_holds(question: QuestionSpec, answers: dict[str, Any],
                     schema: VersionSchema) -> bool:
    if not question.condition_question:
        return True
    given = answers.get(question.condition_question)
    target = schema.questions.get(question.condition_question)
    if target is None or given is None:
        return False
    return target.kind.matches_condition(given, question.condition_answer)


def _not_shown_message(question: QuestionSpec, schema: VersionSchema) -> str:
    target = schema.questions[question.condition_question]
    wanted = target.kind.condition_answer_in_words(question.condition_answer)
    return (f"Answer this only when the answer to “{target.code}” is {wanted}; leave it out "
            "otherwise.")
