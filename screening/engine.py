"""Screening: a pure function of the answers, the submission's facts and a compiled rule set.

``screen(answers, rule_set, facts)`` touches no database, no clock and no global state, so the
same answers, the same date of birth and submission date, and the same rule set always give the
same result.  Compiling a rule set (loading it and checking every condition against a
questionnaire version) lives in ``screening.services``.

Before the rules, screening computes the values rules may use besides the answers:

- ``age``: whole years from the date of birth to the submission date (both calendar dates in
  the clinic's time zone); someone born on 29 February turns a year older on 1 March in other
  years.  Computed only when the rule set uses it; a rule set that does cannot screen a
  submission without a date of birth, or with an age outside 0..120.
- ``free_text_match``: whether any of the rule set's free-text terms is found in the patient's
  text answers (``FreeTextMatcher``).
- the rule set's derived values, in order: yes/no conditions and scores (``CompiledDerived``).

Each flag carries only what made its rule's condition true (``screening.evaluation.explain``):
the answers, narrowed to the choices that counted, and the derived values with what they came
from (``FlagResult.derived``).

Errors: ``screen`` raises ``ScreeningError`` when it cannot decide (a required answer missing,
an answer of the wrong type, a condition that fails to evaluate).  The caller then stores the
submission as ``screening_failed`` and treats it as urgent.  Messages name rules and question
codes only, never an answer, so they are safe to log.
"""

import datetime
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rule_engine.types import DataType

from intake.models import age_on
from intake.selectors import VersionSchema
from screening.conditions import CompiledCondition
from screening.urgency import RANK, Urgency

# Kept under these names for readers of the engine; the one definition is screening.urgency.
URGENCY_RANK = RANK
ROUTINE = Urgency.ROUTINE.value


AGE = "age"
FREE_TEXT_MATCH = "free_text_match"
# The values every condition may use besides questions and the rule set's derived values.
BUILTIN_TYPES = {AGE: DataType.FLOAT, FREE_TEXT_MATCH: DataType.BOOLEAN}
BUILTIN_TITLES = {AGE: "Age", FREE_TEXT_MATCH: "Found in the patient's own words"}
OLDEST_AGE = 120


class ScreeningError(Exception):
    """Screening could not decide.  The message names rules and codes, never answers."""


@dataclass(frozen=True)
class Facts:
    """What screening knows of a submission besides its answers."""

    date_of_birth: datetime.date | None = None
    submitted_on: datetime.date | None = None  # the submission's date in the clinic's time zone


@dataclass(frozen=True)
class CompiledRule:
    code: str
    category: str
    tier: str
    explanation: str
    condition: CompiledCondition
    title: str = ""


@dataclass(frozen=True)
class CompiledScoreItem:
    label: str
    condition: CompiledCondition
    points: Decimal
    basis: str  # "answer" or "proxy" (screening.models.ScoreItem.Basis)


@dataclass(frozen=True)
class CompiledDerived:
    """A derived value ready to compute: a yes/no ``condition``, or a score of ``items``."""

    name: str
    title: str
    kind: str  # "condition" or "score"
    condition: CompiledCondition | None = None
    items: tuple[CompiledScoreItem, ...] = ()

    @property
    def data_type(self):
        return DataType.BOOLEAN if self.kind == "condition" else DataType.FLOAT

    def compute(self, values: Mapping[str, Any]) -> Any:
        if self.condition is not None:
            return self.condition.matches(values)
        return sum((item.points for item in self.items if item.condition.matches(values)),
                   Decimal(0))

    def conditions(self) -> tuple[CompiledCondition, ...]:
        if self.condition is not None:
            return (self.condition,)
        return tuple(item.condition for item in self.items)


_NOT_A_WORD = re.compile(r"[^\w*]+|_+")


def words_of(text: str, *, keep_stars: bool = False) -> list[str]:
    """``text`` lower-cased, accents removed, and split into words at every character that is
    not a letter or a digit ("can't" is "can t")."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    if not keep_stars:
        folded = folded.replace("*", " ")
    return _NOT_A_WORD.sub(" ", folded).split()


@dataclass(frozen=True)
class FreeTextTermSpec:
    term: str
    group: str
    words: tuple[str, ...]  # each exact, or a word start when it ends in "*"

    @classmethod
    def of(cls, term: str, group: str) -> "FreeTextTermSpec":
        return cls(term=term, group=group, words=tuple(words_of(term, keep_stars=True)))

    def matches_at(self, words: list[str], start: int) -> bool:
        if start + len(self.words) > len(words):
            return False
        for pattern, word in zip(self.words, words[start:], strict=False):
            if pattern.endswith("*"):
                if not word.startswith(pattern[:-1]):
                    return False
            elif word != pattern:
                return False
        return True


@dataclass(frozen=True, eq=False)
class FreeTextMatcher:
    """Finds a rule set's terms in text: whole words, word starts (``stent*``), and several
    words in a row within one field.  Indexed by each term's first word, so a long text costs a
    few dictionary look-ups a word, not one comparison per term."""

    terms: tuple[FreeTextTermSpec, ...] = ()
    _exact: dict = field(default_factory=dict, repr=False)
    _stems: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, terms) -> "FreeTextMatcher":
        """``terms``: (term, group) pairs."""
        specs = tuple(FreeTextTermSpec.of(term, group) for term, group in terms)
        matcher = cls(terms=specs)
        for spec in specs:
            first = spec.words[0] if spec.words else ""
            if first.endswith("*"):
                matcher._stems.setdefault(first[:-1], []).append(spec)
            elif first:
                matcher._exact.setdefault(first, []).append(spec)
        return matcher

    def find(self, texts: Mapping[str, str]) -> list[dict]:
        """Every term found, once per field, as {term, group, field}, in field then term
        order.  Never the surrounding text."""
        found = []
        for field_code, text in texts.items():
            words = words_of(text)
            hits: set[str] = set()
            for start, word in enumerate(words):
                candidates = list(self._exact.get(word, ()))
                for end in range(1, len(word) + 1):
                    candidates.extend(self._stems.get(word[:end], ()))
                for spec in candidates:
                    if spec.term not in hits and spec.matches_at(words, start):
                        hits.add(spec.term)
                        found.append((field_code, spec))
        return [{"term": spec.term, "group": spec.group, "field": field_code}
                for field_code, spec in sorted(found, key=lambda pair: (pair[0], pair[1].term))]


@dataclass(frozen=True, eq=False)
class CompiledRuleSet:
    """A rule set's enabled rules, checked against one questionnaire version and ready to
    evaluate.  ``key`` is a hash of everything that went into it (see
    ``screening.services.compile_rule_set``)."""

    rule_set_id: int | None
    version: int
    schema: VersionSchema
    rules: tuple[CompiledRule, ...]
    key: str = ""
    derived: tuple[CompiledDerived, ...] = ()
    free_text: FreeTextMatcher = field(default_factory=FreeTextMatcher)

    def __post_init__(self):
        conditions = [rule.condition for rule in self.rules]
        for derived in self.derived:
            conditions.extend(derived.conditions())
        used = {name for condition in conditions for name in condition.derived}
        object.__setattr__(self, "builtins_used", frozenset(used & set(BUILTIN_TYPES)))
        object.__setattr__(self, "derived_by_name", {d.name: d for d in self.derived})
        object.__setattr__(self, "text_codes", tuple(
            code for code, spec in self.schema.questions.items() if spec.kind.free_text
        ))


@dataclass(frozen=True)
class FlagResult:
    code: str
    category: str
    tier: str
    explanation: str
    rule_set_version: int
    evidence: dict[str, Any]  # question code -> the answer that counted (None: not answered)
    title: str = ""
    derived: tuple[dict, ...] = ()  # the derived values that counted, with what they came from


@dataclass(frozen=True)
class ScreeningResult:
    urgency: str
    flags: tuple[FlagResult, ...] = ()
    rule_set_id: int | None = None
    rule_set_version: int | None = None
    failed: bool = False
    # Every built-in and derived value computed, as (name, title, value): for dry runs.
    derived_values: tuple[tuple[str, str, Any], ...] = ()

    @classmethod
    def failure(cls) -> "ScreeningResult":
        """What a submission gets when screening raised: urgent, no flags, marked failed."""
        return cls(urgency=Urgency.URGENT, failed=True)

    @property
    def flag_codes(self) -> list[str]:
        return [flag.code for flag in self.flags]


def screen(
    answers: Mapping[str, Any], rule_set: CompiledRuleSet, facts: Facts | None = None
) -> ScreeningResult:
    """Evaluate every enabled rule of ``rule_set`` on ``answers`` (question code -> answer, as
    ``intake.services.answers.clean_answers`` returns them: unanswered questions left out) and
    ``facts`` (needed when the rule set uses ``age``).

    Returns the urgency (the most urgent tier of any rule that fired, ``routine`` when none) and
    the flags, most urgent first, then by rule code.  Raises ``ScreeningError``.
    """
    values = condition_values(answers, rule_set.schema)
    context = _Context(answers, rule_set, facts or Facts(), values)
    context.compute_derived()
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
            evidence, derived = context.evidence(rule.condition)
            flags.append(FlagResult(
                code=rule.code,
                category=rule.category,
                tier=rule.tier,
                explanation=rule.explanation,
                rule_set_version=rule_set.version,
                evidence=evidence,
                title=rule.title,
                derived=derived,
            ))
    flags.sort(key=lambda flag: (URGENCY_RANK[flag.tier], flag.code))
    return ScreeningResult(
        urgency=flags[0].tier if flags else ROUTINE,
        flags=tuple(flags),
        rule_set_id=rule_set.rule_set_id,
        rule_set_version=rule_set.version,
        derived_values=context.derived_values(),
    )


class _Context:
    """One screening's values: the answers as conditions see them, the built-in and derived
    values, and what each came from, for the flags' evidence."""

    def __init__(self, answers, rule_set: CompiledRuleSet, facts: Facts, values: dict):
        self.answers = answers
        self.rule_set = rule_set
        self.facts = facts
        self.values = values
        self.free_text_matches: list[dict] = []

    def compute_derived(self) -> None:
        used = self.rule_set.builtins_used
        if AGE in used:
            self.values[AGE] = self._age()
        if FREE_TEXT_MATCH in used:
            texts = {code: self.answers[code] for code in self.rule_set.text_codes
                     if isinstance(self.answers.get(code), str)}
            self.free_text_matches = self.rule_set.free_text.find(texts)
            self.values[FREE_TEXT_MATCH] = bool(self.free_text_matches)
        for derived in self.rule_set.derived:
            try:
                self.values[derived.name] = derived.compute(self.values)
            except Exception as error:
                raise ScreeningError(
                    f"derived value “{derived.name}” of rule set v{self.rule_set.version} could "
                    f"not be computed ({type(error).__name__})"
                ) from None

    def derived_values(self) -> tuple[tuple[str, str, Any], ...]:
        builtins = [(name, BUILTIN_TITLES[name], self.values[name])
                    for name in BUILTIN_TYPES if name in self.values]
        return (*builtins, *((d.name, d.title, _jsonable(self.values[d.name]))
                             for d in self.rule_set.derived))

    def _age(self) -> int:
        born, on = self.facts.date_of_birth, self.facts.submitted_on
        if born is None or on is None:
            raise ScreeningError(f"rule set v{self.rule_set.version} uses age, and the "
                                 "submission has no date of birth or submission date")
        age = age_on(born, on)
        if not 0 <= age <= OLDEST_AGE:
            raise ScreeningError(f"the age is outside 0..{OLDEST_AGE}")
        return age

    def evidence(self, condition: CompiledCondition) -> tuple[dict[str, Any], tuple[dict, ...]]:
        """The answers (in question order) and derived values that made ``condition`` true."""
        answers: dict[str, frozenset | None] = {}
        derived: dict[str, dict] = {}
        self._explain(condition, answers, derived)
        schema = self.rule_set.schema.questions
        evidence = {code: self._answer(code, answers[code]) for code in schema if code in answers}
        return evidence, tuple(derived.values())

    def _explain(self, condition: CompiledCondition, answers: dict, derived: dict) -> None:
        for name, narrowed in condition.explain(self.values).items():
            if name in self.rule_set.schema.questions:
                whole = narrowed is None or (name in answers and answers[name] is None)
                answers[name] = None if whole else answers.get(name, frozenset()) | narrowed
            elif name not in derived:
                self._explain_derived(name, answers, derived)

    def _explain_derived(self, name: str, answers: dict, derived: dict) -> None:
        value = self.values[name]
        if name == AGE:
            derived[name] = {
                "name": AGE, "title": BUILTIN_TITLES[AGE], "value": value,
                "date_of_birth": self.facts.date_of_birth.isoformat(),
                "submitted_on": self.facts.submitted_on.isoformat(),
            }
            return
        if name == FREE_TEXT_MATCH:
            derived[name] = {"name": name, "title": BUILTIN_TITLES[name], "value": value,
                             "matches": list(self.free_text_matches)}
            return
        definition = self.rule_set.derived_by_name[name]
        record = {"name": name, "title": definition.title, "value": _jsonable(value)}
        derived[name] = record
        if definition.condition is not None:
            if value:
                self._explain(definition.condition, answers, derived)
            return
        scored = [item for item in definition.items if item.condition.matches(self.values)]
        record["items"] = [
            {"label": item.label, "points": _jsonable(item.points), "basis": item.basis}
            for item in scored
        ]
        for item in scored:
            self._explain(item.condition, answers, derived)

    def _answer(self, code: str, narrowed: frozenset | None) -> Any:
        value = self.answers.get(code)
        if narrowed is not None and isinstance(value, list | tuple):
            return [choice for choice in value if choice in narrowed]
        return _copy(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def condition_values(answers: Mapping[str, Any], schema: VersionSchema) -> dict[str, Any]:
    """What conditions see: every question of the schema, with its answer or, for an
    unanswered optional question, what its type says that is (``QuestionType.unanswered``).
    Raises ``ScreeningError`` when a required answer is missing or an answer does not fit
    (``QuestionType.fits``: the answers were validated when they were submitted, but a wrong
    type here would make a condition silently mean something else, so screening checks
    again)."""
    values = {}
    for code, spec in schema.questions.items():
        kind = spec.kind
        value = answers.get(code)
        if value is None:
            if spec.always_answered:
                raise ScreeningError(f"the required question “{code}” has no answer")
            values[code] = kind.unanswered
            continue
        if not kind.fits(spec, value):
            raise ScreeningError(
                f"the answer to “{code}” is not a valid {kind.label} answer for "
                f"questionnaire version {schema.version_number}"
            )
        values[code] = kind.condition_value(value)
    return values


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value
