"""Validating a patient's answers against the exact questionnaire version they saw.

This is the one place answers are validated: the web form and the REST API both call
``clean_answers``.  The input is what a JSON client sends (the form converts its strings first,
see ``intake.forms``); anything that is not exactly valid is refused, and every problem is
reported at once, keyed by question code, in words a person can act on.
"""

import unicodedata
from dataclasses import dataclass
from typing import Any

from core.errors import Invalid
from intake.models import Question, QuestionnaireVersion
from intake.services.text import hidden_character_problem

# Characters a text answer may contain besides printable ones.  NUL and the other C0 and C1
# controls are refused: PostgreSQL cannot store NUL, and the others are never typed by a person.
_ALLOWED_CONTROL = {"\n", "\r", "\t"}

# How many unknown question codes one error response names; a body of ten thousand junk keys
# gets a short answer, not ten thousand lines.
MAX_UNKNOWN_CODES_NAMED = 20


def printable(text: Any, limit: int = 64) -> str:
    """``text`` made safe to quote back in an error: at most ``limit`` characters, with control
    and format characters and lone surrogates (which JSON can carry but UTF-8 cannot) shown
    as U+FFFD, so an error response can always be written and never hides or reorders text."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in str(text)[:limit])


def quoted(text: Any, limit: int = 64) -> str:
    """``text`` in curly quotes for an error message, made safe as ``printable`` does."""
    return f"“{printable(text, limit)}”"


class AnswersInvalid(Invalid):
    """``errors`` maps each question code at fault (or ``non_field_errors``) to its messages."""


@dataclass(frozen=True)
class VersionSchema:
    """A published version's questions, loaded once and looked up by code."""

    version: QuestionnaireVersion
    questions: dict[str, Question]
    choices: dict[str, dict[str, bool]]  # code -> {choice value: is exclusive}

    @classmethod
    def of(cls, version: QuestionnaireVersion) -> "VersionSchema":
        """The schema of a version; published versions never change, so theirs is kept."""
        key = (version.pk, version.published_at)
        if version.is_published and key in _published_schemas:
            return _published_schemas[key]
        questions = {
            q.code: q
            for q in Question.objects.filter(version=version)
            .prefetch_related("choices")
            .order_by("section__position", "position", "pk")
        }
        choices = {
            code: {c.value: c.is_exclusive for c in q.choices.all()}
            for code, q in questions.items()
        }
        schema = cls(version=version, questions=questions, choices=choices)
        if version.is_published:
            _published_schemas[key] = schema
        return schema


# Keyed by (pk, published_at) so that a reused primary key (a test database rolled back) can
# never return another version's questions.
_published_schemas: dict[tuple, VersionSchema] = {}


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
        problem, clean_value = _check_value(question, schema.choices[code], value)
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


def _check_value(question: Question, choices: dict[str, bool], value) -> tuple[str | None, Any]:
    """(problem, cleaned value) for one non-empty answer."""
    kind = question.type
    if kind == Question.Type.BOOLEAN:
        if type(value) is not bool:
            return "Answer yes or no: send true or false.", None
        return None, value
    if kind == Question.Type.INTEGER:
        # bool is a subclass of int in Python; true is not a number here.
        if type(value) is not int:
            return _range_message(question, "Enter a whole number"), None
        low, high = question.min_value, question.max_value
        if (low is not None and value < low) or (high is not None and value > high):
            return _range_message(question, "Must be"), None
        return None, value
    if kind == Question.Type.SINGLE_CHOICE:
        if not isinstance(value, str):
            return f"Choose one of: {', '.join(choices)}.", None
        if value not in choices:
            return f"{quoted(value)} is not one of the choices: {', '.join(choices)}.", None
        return None, value
    if kind == Question.Type.MULTI_CHOICE:
        return _check_multi_choice(choices, value)
    if kind == Question.Type.TEXT:
        return _check_text(question, value)
    raise AssertionError(f"unknown question type {kind!r}")  # pragma: no cover


def _range_message(question: Question, prefix: str) -> str:
    low, high = question.min_value, question.max_value
    if low is not None and high is not None:
        return f"{prefix} between {low} and {high}."
    if low is not None:
        return f"{prefix} {low} or more."
    if high is not None:
        return f"{prefix} {high} or less."
    return f"{prefix}."


def _check_multi_choice(choices: dict[str, bool], value) -> tuple[str | None, Any]:
    offered = ", ".join(choices)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"Send a list of choices from: {offered}.", None
    unknown = [v for v in value if v not in choices]
    if unknown:
        listed = ", ".join(quoted(v) for v in unknown[:5])
        return f"Not among the choices ({offered}): {listed}.", None
    if len(set(value)) != len(value):
        return "Each choice may be given only once.", None
    exclusive = [v for v in value if choices[v]]
    if exclusive and len(value) > 1:
        return f"“{exclusive[0]}” cannot be chosen together with other answers.", None
    # Store in the questionnaire's order, so equal answers are stored equally.
    return None, [c for c in choices if c in value]


def _check_text(question: Question, value) -> tuple[str | None, Any]:
    if not isinstance(value, str):
        return "Send text.", None
    text = value.strip()
    if not text:
        return None, None  # only white space: no answer
    if any(unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROL for ch in text):
        return "Remove the control characters from this answer.", None
    hidden = hidden_character_problem(text)
    if hidden:
        return hidden, None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "This answer contains characters that are not valid text.", None
    if question.max_length is not None and len(text) > question.max_length:
        return (f"Keep this to {question.max_length} characters or fewer "
                f"(it has {len(text)})."), None
    return None, text


def _condition_holds(question: Question, answers: dict[str, Any], schema: VersionSchema) -> bool:
    if not question.condition_question:
        return True
    given = answers.get(question.condition_question)
    target = schema.questions.get(question.condition_question)
    if target is None or given is None:
        return False
    if target.type == Question.Type.BOOLEAN:
        return given is (question.condition_answer == "true")
    if target.type == Question.Type.MULTI_CHOICE:
        return question.condition_answer in given
    return given == question.condition_answer


def _not_shown_message(question: Question, schema: VersionSchema) -> str:
    target = schema.questions[question.condition_question]
    wanted = question.condition_answer
    if target.type == Question.Type.BOOLEAN:
        wanted = "yes" if wanted == "true" else "no"
    return (f"Answer this only when the answer to “{target.code}” is {wanted}; leave it out "
            "otherwise.")
