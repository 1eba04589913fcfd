"""The engine gives exactly the results it gave before it was made faster (issue 19), and the
results a straightforward reading of the rules gives.

Two references, neither of them the engine's own code:

- results recorded from the engine as it was before (``tests/data/screening-results.json.gz``,
  written once by ``support/screening_results.py``): every clinical vignette of both
  questionnaire versions, the answer sets of ``support/clinical_data.py``, several hundred
  generated answer sets, and answers screening must refuse, with its message;
- ``Reference`` below, for answer sets Hypothesis generates: every condition evaluated by
  rule-engine itself on its type-checked parse, the free-text terms looked for word by word,
  and each flag's evidence worked out from the parse tree as ``screening.evaluation`` describes
  it (a true ``or`` by its true sides, ``and`` by both, ``'x' in code`` by that choice,
  anything else by every symbol in it).

Both compare the complete result: urgency, flags in order with their tier, category, title,
explanation, evidence and derived values, and every derived value computed.
"""

import dataclasses
import datetime
import json
import re
import unicodedata
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rule_engine import ast as re_ast

from intake.models import age_on
from screening.conditions import compile_condition
from screening.engine import (
    AGE,
    BUILTIN_TITLES,
    BUILTIN_TYPES,
    FREE_TEXT_MATCH,
    URGENCY_RANK,
    CompiledRule,
    CompiledRuleSet,
    Facts,
    FlagResult,
    ScreeningError,
    ScreeningResult,
    screen,
)
from support.screening_results import canonical, recorded_cases
from tests.factories import date_of_birth_for, valid_answers

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def by_version(installed_rule_sets_compiled) -> dict:
    """The rule sets ``migrate`` installs, compiled, by version (1 and 2)."""
    return {compiled.version: compiled for compiled in installed_rule_sets_compiled}


def facts_for(age: int, on: datetime.date) -> Facts:
    return Facts(date_of_birth=date_of_birth_for(age, on), submitted_on=on)


def test_every_recorded_result_is_given_again_exactly(by_version):
    cases = recorded_cases()
    assert len(cases) > 500
    differ = []
    for case in cases:
        facts = facts_for(case["age"], datetime.date.fromisoformat(case["on"]))
        try:
            got = {
                "result": canonical(screen(case["answers"], by_version[case["rule_set"]], facts))
            }
        except ScreeningError as error:
            got = {"error": str(error)}
        expected = {key: case[key] for key in ("result", "error") if key in case}
        # As text, so that the order of every object's keys counts too.
        if json.dumps(got, ensure_ascii=False) != json.dumps(expected, ensure_ascii=False):
            differ.append((case["rule_set"], case["name"], got, expected))
    assert not differ, f"{len(differ)} of {len(cases)} results changed; the first: {differ[0]}"


# --- A straightforward reference evaluation ---------------------------------------------------


def _words(text: str, keep_stars: bool = False) -> list[str]:
    folded = "".join(
        ch for ch in unicodedata.normalize("NFKD", text.casefold()) if not unicodedata.combining(ch)
    )
    if not keep_stars:
        folded = folded.replace("*", " ")
    return re.sub(r"[^\w*]+|_+", " ", folded).split()


def _term_at(pattern: tuple[str, ...], words: list[str], start: int) -> bool:
    if start + len(pattern) > len(words):
        return False
    return all(
        word.startswith(p[:-1]) if p.endswith("*") else word == p
        for p, word in zip(pattern, words[start:], strict=False)
    )


def _merge(into: dict, name: str, narrowed) -> None:
    # None stands for "any value", which no narrowing takes back.
    earlier = into.get(name, narrowed)
    into[name] = None if earlier is None or narrowed is None else earlier | narrowed


def _jsonable(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


class Reference:
    """One screening worked out the long way (see the module docstring)."""

    def __init__(self, answers: dict, compiled, age: int, on: datetime.date):
        self.answers, self.compiled = answers, compiled
        self.born = date_of_birth_for(age, on)
        self.on = on
        schema = compiled.schema.questions
        self.values = {
            code: spec.kind.unanswered
            if answers.get(code) is None
            else tuple(answers[code])
            if isinstance(answers[code], list)
            else answers[code]
            for code, spec in schema.items()
        }
        conditions = [rule.condition for rule in compiled.rules] + [
            c for d in compiled.derived for c in d.conditions()
        ]
        used = {name for c in conditions for name in c.derived}
        if AGE in used:
            self.values[AGE] = age_on(self.born, on)
        self.matches = []
        if FREE_TEXT_MATCH in used:
            self.matches = self.free_text()
            self.values[FREE_TEXT_MATCH] = bool(self.matches)
        for derived in compiled.derived:
            if derived.kind == "condition":
                self.values[derived.name] = derived.condition.matches_typed(self.values)
            else:
                self.values[derived.name] = sum(
                    (
                        item.points
                        for item in derived.items
                        if item.condition.matches_typed(self.values)
                    ),
                    Decimal(0),
                )

    def free_text(self) -> list[dict]:
        found = []
        for code, spec in self.compiled.schema.questions.items():
            text = self.answers.get(code)
            if not spec.kind.free_text or not isinstance(text, str):
                continue
            words, terms = _words(text), set()
            for term in self.compiled.free_text.terms:
                if term.term not in terms and any(
                    _term_at(term.words, words, start) for start in range(len(words))
                ):
                    terms.add(term.term)
                    found.append({"term": term.term, "group": term.group, "field": code})
        return sorted(found, key=lambda match: (match["field"], match["term"]))

    def result(self) -> ScreeningResult:
        flags = [
            self.flag(rule)
            for rule in self.compiled.rules
            if rule.condition.matches_typed(self.values)
        ]
        flags.sort(key=lambda flag: (URGENCY_RANK[flag.tier], flag.code))
        builtins = [
            (name, BUILTIN_TITLES[name], self.values[name])
            for name in BUILTIN_TYPES
            if name in self.values
        ]
        return ScreeningResult(
            urgency=flags[0].tier if flags else "routine",
            flags=tuple(flags),
            rule_set_id=self.compiled.rule_set_id,
            rule_set_version=self.compiled.version,
            derived_values=(
                *builtins,
                *((d.name, d.title, _jsonable(self.values[d.name])) for d in self.compiled.derived),
            ),
        )

    def flag(self, rule) -> FlagResult:
        answers, derived = {}, {}
        self.explain(rule.condition.rule.statement.expression, answers, derived)
        evidence = {}
        for code in self.compiled.schema.questions:
            if code in answers:
                given = self.answers.get(code)
                if answers[code] is not None and isinstance(given, list):
                    evidence[code] = [choice for choice in given if choice in answers[code]]
                else:
                    evidence[code] = list(given) if isinstance(given, list) else given
        return FlagResult(
            code=rule.code,
            category=rule.category,
            tier=rule.tier,
            explanation=rule.explanation,
            rule_set_version=self.compiled.version,
            evidence=evidence,
            title=rule.title,
            derived=tuple(derived.values()),
        )

    def explain(self, node, answers: dict, derived: dict) -> None:
        for name, narrowed in self.why(node).items():
            if name in self.compiled.schema.questions:
                _merge(answers, name, narrowed)
            elif name not in derived:
                self.explain_value(name, answers, derived)

    def why(self, node) -> dict:
        """The symbols that made ``node`` true, each with the choices that counted (None:
        the whole answer)."""
        found: dict = {}
        if type(node) is re_ast.LogicExpression and node.type == "or":
            true_sides = [side for side in (node.left, node.right) if side.evaluate(self.values)]
            for side in true_sides:
                for name, narrowed in self.why(side).items():
                    _merge(found, name, narrowed)
            return found if true_sides else self.symbols(node)
        if type(node) is re_ast.LogicExpression and node.type == "and":
            for side in (node.left, node.right):
                for name, narrowed in self.why(side).items():
                    _merge(found, name, narrowed)
            return found
        if (
            type(node) is re_ast.ContainsExpression
            and type(node.member) is re_ast.StringExpression
            and type(node.container) is re_ast.SymbolExpression
        ):
            return {node.container.name: frozenset([node.member.value])}
        return self.symbols(node)

    def symbols(self, node, bound=frozenset()) -> dict:
        found: dict = {}
        if type(node) is re_ast.SymbolExpression:
            return {} if node.name in bound else {node.name: None}
        if type(node) is re_ast.ComprehensionExpression:
            parts = [
                self.symbols(node.iterable, bound),
                self.symbols(node.result, bound | {node.variable}),
            ]
            if node.condition is not None:
                parts.append(self.symbols(node.condition, bound | {node.variable}))
        else:
            parts = [self.symbols(child, bound) for child in _children(node)]
        for part in parts:
            for name, narrowed in part.items():
                _merge(found, name, narrowed)
        return found

    def explain_value(self, name: str, answers: dict, derived: dict) -> None:
        value = self.values[name]
        if name == AGE:
            derived[name] = {
                "name": AGE,
                "title": BUILTIN_TITLES[AGE],
                "value": value,
                "date_of_birth": self.born.isoformat(),
                "submitted_on": self.on.isoformat(),
            }
            return
        if name == FREE_TEXT_MATCH:
            derived[name] = {
                "name": name,
                "title": BUILTIN_TITLES[name],
                "value": value,
                "matches": list(self.matches),
            }
            return
        definition = self.compiled.derived_by_name[name]
        derived[name] = record = {
            "name": name,
            "title": definition.title,
            "value": _jsonable(value),
        }
        if definition.kind == "condition":
            if value:
                self.explain(definition.condition.rule.statement.expression, answers, derived)
            return
        scored = [item for item in definition.items if item.condition.matches_typed(self.values)]
        record["items"] = [
            {"label": item.label, "points": _jsonable(item.points), "basis": item.basis}
            for item in scored
        ]
        for item in scored:
            self.explain(item.condition.rule.statement.expression, answers, derived)


def _children(node):
    for name in (
        "left",
        "right",
        "container",
        "member",
        "object",
        "condition",
        "case_true",
        "case_false",
        "iterable",
        "result",
        "expression",
        "item",
        "start",
        "stop",
    ):
        child = getattr(node, name, None)
        if isinstance(child, re_ast.ExpressionBase):
            yield child
    if isinstance(node, re_ast.ArrayExpression):
        yield from node.value


PROPERTY_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
ON = datetime.date(2026, 12, 1)


@pytest.mark.parametrize("version", [1, 2])
@PROPERTY_SETTINGS
@given(data=st.data())
def test_screening_gives_what_a_straightforward_reading_of_the_rules_gives(
    by_version, version, data
):
    compiled = by_version[version]
    answers = data.draw(valid_answers(tuple(compiled.schema.questions.values())))
    age = data.draw(st.integers(0, 120))
    terms = [term.term.replace("*", "s") for term in compiled.free_text.terms]
    if terms and "other_information" in compiled.schema.questions and data.draw(st.booleans()):
        words = data.draw(st.lists(st.sampled_from(terms), min_size=1, max_size=5))
        answers["other_information"] = " ".join(words)

    got = screen(answers, compiled, facts_for(age, ON))
    expected = Reference(answers, compiled, age, ON).result()

    assert canonical(got) == canonical(expected)
    assert json.dumps(canonical(got)) == json.dumps(canonical(expected))


# Conditions using every construct the closures know (and two they leave to rule-engine), so
# that the one function each rule set is compiled to is held to rule-engine's evaluation for
# all of them, not only for those the default rule sets use.
CONSTRUCTS = [
    "(pain_severity + 2) * 1 - 1 >= 8",
    "(chest_pain ? pain_severity : 0) > 3",
    "[c for c in pain_location if c != 'neck'].length >= 2",
    "[c for c in pain_location if c == 'neck' or c == 'upper_back'].length == 1",
    "[c for c in pain_location if pain_severity > 5].length > 0",
    "(pain_onset ?? 'gradual') == 'gradual'",
    "not chest_pain and pain_severity < 3",
    "pain_duration in ['under_1_week', '1_to_3_weeks']",
    "age - 10 > 40 and marburg_heart_score * 2 >= 4",
    "7 <= pain_severity or (stress_level ?? 0) >= 8",
    "'neck' in pain_location == true",
    "pain_location == ['neck']",
    "(other_information ?? '') =~ 'heart'",
]


@pytest.fixture(scope="session")
def constructs(by_version):
    compiled = by_version[2]
    types = {**BUILTIN_TYPES, **{d.name: d.data_type for d in compiled.derived}}
    rules = tuple(
        CompiledRule(
            code=f"construct_{number}",
            category="red_flag",
            tier="soon",
            explanation=text,
            condition=compile_condition(text, compiled.schema, types),
        )
        for number, text in enumerate(CONSTRUCTS)
    )
    return CompiledRuleSet(
        rule_set_id=None,
        version=99,
        schema=compiled.schema,
        rules=rules,
        derived=compiled.derived,
        free_text=compiled.free_text,
    )


@PROPERTY_SETTINGS
@given(data=st.data())
def test_every_construct_of_the_language_screens_as_rule_engine_evaluates_it(constructs, data):
    answers = data.draw(valid_answers(tuple(constructs.schema.questions.values())))
    age = data.draw(st.integers(0, 120))

    got = screen(answers, constructs, facts_for(age, ON))
    expected = Reference(answers, constructs, age, ON).result()

    assert json.dumps(canonical(got)) == json.dumps(canonical(expected))


def test_a_flag_made_the_fast_way_is_the_flag_its_fields_make():
    """``FlagResult.of`` fills the flag's fields at once; it must give every field, equal to
    the dataclass's own constructor (and stay frozen)."""
    words = {"code": "cardiac_chest_pain", "title": "Chest pain", "category": "possible_cardiac",
             "tier": "emergency", "explanation": "why"}
    evidence, derived = {"chest_pain": True}, ({"name": "age", "value": 61},)
    fast = FlagResult.of(words, 2, evidence, derived)
    assert fast == FlagResult(**words, rule_set_version=2, evidence=evidence, derived=derived)
    assert {f.name for f in dataclasses.fields(FlagResult)} == set(vars(fast))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.tier = "routine"
