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

What it costs (issue 19: under 50 µs a submission).  Everything that depends only on the rule
set is worked out once, when the ``CompiledRuleSet`` is made: what each question's type asks
of its answer (``read``, one Python function reading the answers, see ``_reader``), and one
Python function (``program``, see ``_program``) that computes every derived value and tells
which rules fire, written by ``screening.evaluation.PythonSource`` from the conditions' parse
trees instead of a closure call for every node.  Evidence is worked out only for the rules
that fired, each derived value's explanation once per screening however many flags use it,
with the explanations of conditions and the evaluation of scores' items kept ready on the rule
set.  When the program raises, screening evaluates again one condition at a time
(``_Context.fired_step_by_step``), which names what failed.
``tests/screening/test_engine_results.py`` holds the results to those recorded before and to a
reference evaluation by rule-engine itself.

Errors: ``screen`` raises ``ScreeningError`` when it cannot decide (a required answer missing,
an answer of the wrong type, a condition that fails to evaluate).  The caller then stores the
submission as ``screening_failed`` and treats it as urgent.  Messages name rules and question
codes only, never an answer, so they are safe to log.
"""

import datetime
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from rule_engine.types import DataType

from intake.models import age_on
from intake.question_types import QuestionType
from intake.selectors import VersionSchema
from screening.conditions import CompiledCondition
from screening.evaluation import PythonSource, Unsupported, explanation_of, truths_of
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

    @cached_property
    def words(self) -> dict[str, str]:
        """``rule_words(self)``, worked out once: each flag the rule raises carries them."""
        return rule_words(self)


# What a rule says in its own words: carried from the rule to its compiled form, and from there to
# each flag it raises.
RULE_WORDS = ("code", "title", "category", "tier", "explanation")


def rule_words(rule) -> dict[str, str]:
    """The ``RULE_WORDS`` of a rule (a ``screening.models.Rule`` or a ``CompiledRule``)."""
    return {name: getattr(rule, name) for name in RULE_WORDS}


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
    if text.isascii():
        folded = text.lower()  # the same as below for ASCII, which has no accents to remove
    else:
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
    _stem_lengths: list = field(default_factory=list, repr=False)  # ascending

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
        matcher._stem_lengths.extend(sorted({len(stem) for stem in matcher._stems if stem}))
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
                # The word's starts as long as a term's word start, shortest first.
                for end in self._stem_lengths:
                    if end > len(word):
                        break
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
        object.__setattr__(self, "read", _reader(self.schema))
        object.__setattr__(self, "question_order",
                           {code: position for position, code in enumerate(self.schema.questions)})
        object.__setattr__(self, "program", _program(self))
        object.__setattr__(self, "explanations", {
            condition: explanation_of(condition.rule.statement.expression)
            for condition in conditions})
        # Each score's items evaluated at once, for the flags' evidence.
        object.__setattr__(self, "item_truths", {
            d.name: truths_of([item.condition.rule.statement.expression for item in d.items])
            for d in self.derived if d.condition is None})
        object.__setattr__(self, "derived_titles", tuple(
            (d.name, d.title, d.condition is None) for d in self.derived))


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

    @classmethod
    def of(cls, words: dict[str, str], rule_set_version: int, evidence: dict[str, Any],
           derived: tuple[dict, ...]) -> "FlagResult":
        """``FlagResult(**words, ...)`` with every field given (a rule's ``words`` are its
        ``RULE_WORDS``), made by filling its dictionary at once where a frozen dataclass's own
        ``__init__`` sets each field through ``object.__setattr__`` (1.4 µs a flag against
        0.5 µs).  A field added to the class must be added here too; the engine's tests compare
        every field of every flag with recorded results."""
        flag = object.__new__(cls)
        flag.__dict__.update(words, rule_set_version=rule_set_version, evidence=evidence,
                             derived=derived)
        return flag


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
    facts = facts or Facts()
    values = rule_set.read(answers)
    context = _Context(answers, rule_set, facts, values)
    context.compute_builtins()
    try:
        fired = [rule_set.rules[index] for index in rule_set.program(values)]
    except Exception:
        # Evaluated again one derived value and one rule at a time, to raise the error that
        # names which of them failed (and, should the two ways ever disagree, to give the
        # step-by-step result).
        values = rule_set.read(answers)
        context = _Context(answers, rule_set, facts, values)
        context.compute_builtins()
        fired = context.fired_step_by_step()
    flags = []
    for rule in fired:
        evidence, derived = context.evidence(rule.condition)
        flags.append(FlagResult.of(rule.words, rule_set.version, evidence, derived))
    flags.sort(key=_flag_order)
    return ScreeningResult(
        urgency=flags[0].tier if flags else ROUTINE,
        flags=tuple(flags),
        rule_set_id=rule_set.rule_set_id,
        rule_set_version=rule_set.version,
        derived_values=context.derived_values(),
    )


def _flag_order(flag: FlagResult) -> tuple[int, str]:
    return URGENCY_RANK[flag.tier], flag.code


class _Context:
    """One screening's values: the answers as conditions see them, the built-in and derived
    values, and what each came from, for the flags' evidence."""

    def __init__(self, answers, rule_set: CompiledRuleSet, facts: Facts, values: dict):
        self.answers = answers
        self.rule_set = rule_set
        self.facts = facts
        self.values = values
        self.free_text_matches: list[dict] = []
        # derived value -> its explanation from nothing: the records it brings, in order, and
        # the answers (see _explain_derived)
        self._explained: dict[str, tuple[list[tuple[str, dict]], dict]] = {}

    def compute_builtins(self) -> None:
        used = self.rule_set.builtins_used
        if AGE in used:
            self.values[AGE] = self._age()
        if FREE_TEXT_MATCH in used:
            texts = {code: self.answers[code] for code in self.rule_set.text_codes
                     if isinstance(self.answers.get(code), str)}
            self.free_text_matches = self.rule_set.free_text.find(texts)
            self.values[FREE_TEXT_MATCH] = bool(self.free_text_matches)

    def fired_step_by_step(self) -> list[CompiledRule]:
        """The derived values, then the rules that fire, each evaluated on its own: what
        ``CompiledRuleSet.program`` does in one function, here raising ``ScreeningError`` naming
        the derived value or rule that could not be evaluated."""
        self.compute_derived()
        fired = []
        for rule in self.rule_set.rules:
            try:
                if rule.condition.matches(self.values):
                    fired.append(rule)
            except Exception as error:
                # The library's messages can quote the value they choked on: keep the type.
                raise ScreeningError(
                    f"rule “{rule.code}” of rule set v{self.rule_set.version} could not be "
                    f"evaluated ({type(error).__name__})"
                ) from None
        return fired

    def compute_derived(self) -> None:
        for derived in self.rule_set.derived:
            try:
                self.values[derived.name] = derived.compute(self.values)
            except Exception as error:
                raise ScreeningError(
                    f"derived value “{derived.name}” of rule set v{self.rule_set.version} could "
                    f"not be computed ({type(error).__name__})"
                ) from None

    def derived_values(self) -> tuple[tuple[str, str, Any], ...]:
        values = self.values
        computed = [(name, BUILTIN_TITLES[name], values[name])
                    for name in BUILTIN_TYPES if name in values]
        # Only a score can be a Decimal (a yes/no value is True or False).
        computed.extend([(name, title, _jsonable(values[name]) if is_score else values[name])
                         for name, title, is_score in self.rule_set.derived_titles])
        return tuple(computed)

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
        evidence = {code: self._answer(code, answers[code])
                    for code in sorted(answers, key=self.rule_set.question_order.__getitem__)}
        return evidence, tuple(derived.values())

    def _explain(self, condition: CompiledCondition, answers: dict, derived: dict) -> None:
        questions = self.rule_set.schema.questions
        explanation = self.rule_set.explanations[condition]  # as condition.explain(values)
        if callable(explanation):
            explanation = explanation(self.values)
        for name, narrowed in explanation.items():
            if name in questions:
                _count_answer(answers, name, narrowed)
            elif name not in derived:
                self._explain_derived(name, answers, derived)

    def _explain_derived(self, name: str, answers: dict, derived: dict) -> None:
        """What ``_explain_value`` adds for ``name``, worked out once per screening: a derived
        value's explanation depends only on the values, and whatever is already in ``derived``
        came with everything its own explanation brings, so adding the records not there yet,
        in order, and merging the answers (a union of choices, or the whole answer) is what
        explaining it again would do."""
        explained = self._explained.get(name)
        if explained is None:
            alone_answers: dict = {}
            alone_derived: dict = {}
            self._explain_value(name, alone_answers, alone_derived)
            explained = self._explained[name] = (list(alone_derived.items()), alone_answers)
        records, contributed = explained
        for record_name, record in records:
            if record_name not in derived:
                derived[record_name] = record
        for code, narrowed in contributed.items():
            _count_answer(answers, code, narrowed)

    def _explain_value(self, name: str, answers: dict, derived: dict) -> None:
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
        truths = self.rule_set.item_truths[name]
        scored = [item for item, is_true in zip(definition.items, truths(self.values), strict=True)
                  if is_true]
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


def _count_answer(answers: dict, code: str, narrowed: frozenset | None) -> None:
    """Add to the answers that explain a flag: the choices that counted (a union), or the whole
    answer (None), which a narrowed part never narrows again."""
    whole = narrowed is None or (code in answers and answers[code] is None)
    answers[code] = None if whole else answers.get(code, frozenset()) | narrowed


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        number = _NUMBERS.get(value)
        if number is None:
            number = int(value) if value == value.to_integral_value() else float(value)
            if len(_NUMBERS) < 1000:
                _NUMBERS[value] = number
        return number
    return value


# Scores as JSON numbers, kept: a rule set's scores take few values, and equal Decimals
# (2 and 2.0) give the same number.  Only ever a faster way to the same answer.
_NUMBERS: dict[Decimal, int | float] = {}


def condition_values(answers: Mapping[str, Any], schema: VersionSchema) -> dict[str, Any]:
    """What conditions see: every question of the schema, with its answer or, for an
    unanswered optional question, what its type says that is (``QuestionType.unanswered``).
    Raises ``ScreeningError`` when a required answer is missing or an answer does not fit
    (``QuestionType.fits``: the answers were validated when they were submitted, but a wrong
    type here would make a condition silently mean something else, so screening checks
    again).  A compiled rule set keeps this function for its schema (``CompiledRuleSet.read``)."""
    return _reader(schema)(answers)


def _reader(schema: VersionSchema) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """One Python function doing ``condition_values`` for this schema: for each question in
    order, a look-up, the type's check (written in place where the type gives it as an
    expression, ``QuestionType.fits_source``, else a call of its ``fits``) and the value.
    Written once per compiled rule set: the loop over the questions, and a call for each of
    most of them, are most of what reading the answers costs."""
    constants: dict[str, Any] = {"ScreeningError": ScreeningError}

    def constant(value: Any) -> str:
        name = f"_k{len(constants)}"
        constants[name] = value
        return name

    lines = ["def read(answers):", "    get = answers.get", "    values = {}"]
    for code, spec in schema.questions.items():
        kind, key = spec.kind, constant(code)
        fits = (kind.fits_source(spec, "v", constant)
                or f"{constant(kind.fits)}({constant(spec)}, v)")
        value = "v" if _as_given(kind) else f"{constant(kind.condition_value)}(v)"
        required = constant(f"the required question “{code}” has no answer")
        missing = (f"raise ScreeningError({required})" if spec.always_answered
                   else f"values[{key}] = {constant(kind.unanswered)}")
        wrong = constant(f"the answer to “{code}” is not a valid {kind.label} answer for "
                         f"questionnaire version {schema.version_number}")
        lines += [f"    v = get({key})",
                  "    if v is None:",
                  f"        {missing}",
                  f"    elif {fits}:",
                  f"        values[{key}] = {value}",
                  "    else:",
                  f"        raise ScreeningError({wrong})"]
    lines.append("    return values")
    # The source holds names of constants and the types' own checks: no question's text.
    exec(compile("\n".join(lines), f"<questionnaire v{schema.version_number}>", "exec"),  # noqa: S102
         constants)
    return constants["read"]


def _as_given(kind) -> bool:
    """Whether a condition sees the type's answers as they are given."""
    return (type(kind).condition_value is QuestionType.condition_value) and not kind.repeats


def _program(rule_set: CompiledRuleSet) -> Callable[[dict], list[int]]:
    """One Python function that computes every derived value of ``rule_set`` into the values
    (in order, as ``CompiledDerived.compute`` does) and returns the positions of the rules that
    fire.  Written from the conditions' parse trees by ``screening.evaluation.PythonSource``:
    a call and a dictionary look-up less for every node than the closures, which is most of the
    cost of screening.  A condition it cannot write runs as its closure.  It raises whatever a
    condition raises; ``screen`` then evaluates step by step to say which one failed."""
    source = PythonSource()

    def truth(condition: CompiledCondition) -> str:
        try:
            written = source.truth(condition.rule.statement.expression)
            compile(written, "<condition>", "eval")
        except (Unsupported, SyntaxError):
            return f"{source.constant(condition.evaluate)}(v)"
        return written

    lines = ["def screen_values(v):"]
    for derived in rule_set.derived:
        if derived.condition is not None:
            lines.append(f"    v[{derived.name!r}] = True if {truth(derived.condition)} else False")
            continue
        lines.append(f"    score = {source.constant(Decimal(0))}")
        for item in derived.items:
            lines.append(f"    if {truth(item.condition)}:")
            lines.append(f"        score = score + {source.constant(item.points)}")
        lines.append(f"    v[{derived.name!r}] = score")
    lines.append("    fired = []")
    for position, rule in enumerate(rule_set.rules):
        lines.append(f"    if {truth(rule.condition)}:")
        lines.append(f"        fired.append({position})")
    lines.append("    return fired")
    namespace = dict(source.constants)
    # The source holds only what PythonSource wrote (see there): no text of a condition.
    exec(compile("\n".join(lines), f"<rule set v{rule_set.version}>", "exec"),  # noqa: S102
         namespace)
    return namespace["screen_values"]


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value
