"""Screening: a pure function of the answers and a compiled rule set.

``screen(answers, rule_set)`` touches no database, no clock and no global state, so the same
answers and the same rule set always give the same result.  Compiling a rule set (loading it
and checking every condition against a questionnaire version) lives in ``screening.services``.

Errors: ``screen`` raises ``ScreeningError`` when it cannot decide (a required answer missing,
an answer of the wrong type, a condition that fails to evaluate).  The caller then stores the
submission as ``screening_failed`` and treats it as urgent.  Messages name rules and question
codes only, never an answer, so they are safe to log.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from intake.models import Question
from screening.conditions import CompiledCondition, QuestionSchema, QuestionSpec

URGENCIES = ("emergency", "urgent", "soon", "routine")  # most urgent first
ROUTINE = "routine"
URGENCY_RANK = {urgency: rank for rank, urgency in enumerate(URGENCIES)}
TIERS = URGENCIES[:-1]  # a rule's tier is never routine


def more_urgent(a: str, b: str) -> bool:
    return URGENCY_RANK[a] < URGENCY_RANK[b]


class ScreeningError(Exception):
    """Screening could not decide.  The message names rules and codes, never answers."""


@dataclass(frozen=True)
class CompiledRule:
    code: str
    category: str
    tier: str
    explanation: str
    condition: CompiledCondition


@dataclass(frozen=True, eq=False)
class CompiledRuleSet:
    """A rule set's enabled rules, checked against one questionnaire version and ready to
    evaluate.  ``key`` is a hash of everything that went into it (see
    ``screening.services.compile_rule_set``)."""

    rule_set_id: int | None
    version: int
    schema: QuestionSchema
    rules: tuple[CompiledRule, ...]
    key: str = ""


@dataclass(frozen=True)
class FlagResult:
    code: str
    category: str
    tier: str
    explanation: str
    rule_set_version: int
    evidence: dict[str, Any]  # question code -> the answer (None: not answered)


@dataclass(frozen=True)
class ScreeningResult:
    urgency: str
    flags: tuple[FlagResult, ...] = ()
    rule_set_id: int | None = None
    rule_set_version: int | None = None
    failed: bool = False

    @classmethod
    def failure(cls) -> "ScreeningResult":
        """What a submission gets when screening raised: urgent, no flags, marked failed."""
        return cls(urgency="urgent", failed=True)

    @property
    def flag_codes(self) -> list[str]:
        return [flag.code for flag in self.flags]


def screen(answers: Mapping[str, Any], rule_set: CompiledRuleSet) -> ScreeningResult:
    """Evaluate every enabled rule of ``rule_set`` on ``answers`` (question code -> answer, as
    ``intake.services.answers.clean_answers`` returns them: unanswered questions left out).

    Returns the urgency (the most urgent tier of any rule that fired, ``routine`` when none) and
    the flags, most urgent first, then by rule code.  Raises ``ScreeningError``.
    """
    values = condition_values(answers, rule_set.schema)
    flags = []
    for rule in rule_set.rules:
        try:
            fired = rule.condition.matches(values)
        except Exception as error:
            # The library's messages can quote the value they choked on: keep only the type.
            raise ScreeningError(
                f"rule “{rule.code}” of rule set v{rule_set.version} could not be evaluated "
                f"({type(error).__name__})"
            ) from None
        if fired:
            flags.append(FlagResult(
                code=rule.code,
                category=rule.category,
                tier=rule.tier,
                explanation=rule.explanation,
                rule_set_version=rule_set.version,
                evidence={code: _copy(answers.get(code)) for code in rule.condition.codes},
            ))
    flags.sort(key=lambda flag: (URGENCY_RANK[flag.tier], flag.code))
    return ScreeningResult(
        urgency=flags[0].tier if flags else ROUTINE,
        flags=tuple(flags),
        rule_set_id=rule_set.rule_set_id,
        rule_set_version=rule_set.version,
    )


def condition_values(answers: Mapping[str, Any], schema: QuestionSchema) -> dict[str, Any]:
    """What conditions see: every question of the schema, with its answer or, for an
    unanswered optional question, its default (``QuestionSpec.default``).  Raises
    ``ScreeningError`` when a required answer is missing or an answer does not fit."""
    values = {}
    for code, spec in schema.questions.items():
        value = answers.get(code)
        if value is None:
            if spec.required:
                raise ScreeningError(f"the required question “{code}” has no answer")
            values[code] = spec.default
            continue
        if not _fits(spec, value):
            raise ScreeningError(
                f"the answer to “{code}” is not a valid {spec.label} answer for "
                f"questionnaire version {schema.version_number}"
            )
        values[code] = tuple(value) if spec.type == Question.Type.MULTI_CHOICE else value
    return values


def _fits(spec: QuestionSpec, value: Any) -> bool:
    """Whether ``value`` is a valid answer to ``spec``: the answers were validated when they
    were submitted, but a wrong type here would make a condition silently mean something else
    (a non-empty string is true), so screening checks again."""
    if spec.type == Question.Type.BOOLEAN:
        return type(value) is bool
    if spec.type == Question.Type.INTEGER:
        return (
            type(value) is int
            and (spec.min_value is None or value >= spec.min_value)
            and (spec.max_value is None or value <= spec.max_value)
        )
    if spec.type == Question.Type.SINGLE_CHOICE:
        return type(value) is str and value in spec.choices
    if spec.type == Question.Type.MULTI_CHOICE:
        return isinstance(value, list | tuple) and all(
            type(v) is str and v in spec.choices for v in value
        )
    if spec.type == Question.Type.TEXT:
        return type(value) is str
    return False


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value
