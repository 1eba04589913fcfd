"""Properties of screening with rule set version 2 over generated valid answer sets to
questionnaire version 2 and generated ages (triage-rules-v2.md, "Safety properties"):

- deterministic: the same answers, submission date and rule set give the same result;
- monotone: answering yes, adding a choice (replacing "none"), answering a shown follow-up, a
  higher severity and being older never lower the urgency;
- free-text terms never lower anything and never page;
- every rule can fire;
- the conditions' fast evaluation agrees with rule-engine's own type-checked evaluation, for
  every rule, derived value and score item;
- a flag's evidence is part of what its condition refers to, with the patient's own values.

The rule set is compiled once per session from the test database, so the examples screen
without touching the database.
"""

import copy
import datetime
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from intake.models import Question, QuestionnaireVersion
from intake.selectors import QuestionSpec
from screening import services
from screening.default_rules_v2 import FREE_TEXT_TERMS, RULES
from screening.engine import URGENCY_RANK, Facts, condition_values, screen
from screening.evaluation import symbols
from tests.factories import condition_holds, date_of_birth_for, questions_of, valid_answers

# The examples never touch the database, but the session fixture that compiles the rule set
# needs the test database to exist, which pytest-django arranges only for marked tests.
pytestmark = pytest.mark.django_db

# As many examples as the Hypothesis profile says: 200 under CI=true, fewer on a laptop
# (tests/conftest.py).
PROPERTY_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
ON = datetime.date(2026, 12, 1)
AGES = st.integers(min_value=0, max_value=120)
# What patients write that the free-text terms look for ("stent*": "stent"), so that the
# examples mention them often rather than almost never.
MENTIONS = tuple(sorted({term.rstrip("*") for _, terms in FREE_TEXT_TERMS for term in terms}))


def facts(age: int) -> Facts:
    return Facts(date_of_birth=date_of_birth_for(age, ON), submitted_on=ON)


@dataclass(frozen=True)
class Setup:
    compiled: object
    recompiled: object
    questions: tuple[QuestionSpec, ...]

    def answers(self):
        return valid_answers(self.questions, MENTIONS)


@pytest.fixture(scope="session")
def v2(django_db_setup, django_db_blocker) -> Setup:
    with django_db_blocker.unblock():
        version = QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain",
                                                   number=2)
        services.clear_compiled_cache()
        compiled = services.active_rule_set_for(version)
        services.clear_compiled_cache()
        recompiled = services.active_rule_set_for(version)
        services.clear_compiled_cache()
        assert compiled.version == 2
        return Setup(compiled, recompiled, questions_of(version))


def rank(result) -> int:
    return URGENCY_RANK[result.urgency]  # lower is more urgent


def more_concerning(answers: dict, questions) -> list[tuple[str, dict]]:
    """Every answer set one step more concerning than ``answers``: a yes/no question answered
    yes; a choice added to a several-choices question (dropping an exclusive 'none'), a shown
    follow-up included; a higher severity.  One-choice questions (onset, duration, sex) are not
    ordered by concern, so they are never changed."""
    variants = []
    for question in questions:
        if question.condition_question and not condition_holds(question, answers, questions):
            continue
        current = answers.get(question.code)
        if question.type == Question.Type.BOOLEAN and current is not True:
            variants.append((f"{question.code}=true", {**answers, question.code: True}))
        elif question.type == Question.Type.MULTI_CHOICE:
            kept = [c for c in (current or []) if c not in question.exclusive]
            for choice in question.choices:
                if choice not in question.exclusive and choice not in kept:
                    variants.append((f"{question.code}+{choice}",
                                     {**answers, question.code: [*kept, choice]}))
        elif (question.type == Question.Type.INTEGER and question.code == "pain_severity"
              and current is not None and current < question.max_value):
            variants.append((f"{question.code}={current + 1}",
                             {**answers, question.code: current + 1}))
    return variants


@PROPERTY_SETTINGS
@given(data=st.data())
def test_same_answers_same_age_same_result(v2, data):
    answers, age = data.draw(v2.answers()), data.draw(AGES)
    reordered = dict(reversed(list(copy.deepcopy(answers).items())))

    first = screen(answers, v2.compiled, facts(age))

    assert screen(answers, v2.compiled, facts(age)) == first
    assert screen(reordered, v2.compiled, facts(age)) == first
    assert screen(answers, v2.recompiled, facts(age)) == first


@PROPERTY_SETTINGS
@given(data=st.data())
def test_a_more_concerning_answer_never_lowers_the_urgency(v2, data):
    answers, age = data.draw(v2.answers()), data.draw(AGES)
    before = screen(answers, v2.compiled, facts(age))

    for change, more in more_concerning(answers, v2.questions):
        after = screen(more, v2.compiled, facts(age))
        assert rank(after) <= rank(before), (
            f"{change} lowered the urgency from {before.urgency} to {after.urgency}")


@PROPERTY_SETTINGS
@given(data=st.data())
def test_being_older_never_lowers_the_urgency(v2, data):
    answers, age = data.draw(v2.answers()), data.draw(st.integers(0, 119))
    older = data.draw(st.integers(age + 1, 120))

    assert rank(screen(answers, v2.compiled, facts(older))) <= rank(
        screen(answers, v2.compiled, facts(age)))


ALL_TERMS = [term.replace("*", "") + ("s" if term.endswith("*") else "")
             for _group, terms in FREE_TEXT_TERMS for term in terms]


@PROPERTY_SETTINGS
@given(data=st.data())
def test_free_text_terms_never_lower_anything_and_never_page(v2, data):
    answers, age = data.draw(v2.answers()), data.draw(AGES)
    words = data.draw(st.lists(st.sampled_from(ALL_TERMS), min_size=1, max_size=8))
    before = screen(answers, v2.compiled, facts(age))

    with_terms = {**answers, "other_information": " ".join(words)}
    after = screen(with_terms, v2.compiled, facts(age))

    assert "free_text_mention" in after.flag_codes
    assert set(before.flag_codes) - {"free_text_mention"} == set(after.flag_codes) - {
        "free_text_mention"}
    assert rank(after) <= rank(before)
    assert after.urgency == before.urgency or before.urgency == "routine"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_urgency_is_the_most_urgent_flag(v2, data):
    result = screen(data.draw(v2.answers()), v2.compiled, facts(data.draw(AGES)))

    if result.flags:
        assert result.urgency == result.flags[0].tier
        assert [URGENCY_RANK[f.tier] for f in result.flags] == sorted(
            URGENCY_RANK[f.tier] for f in result.flags)
    else:
        assert result.urgency == "routine"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_evidence_holds_only_answers_the_condition_depends_on_with_the_patients_values(
    v2, data
):
    answers = data.draw(v2.answers())
    rules = {rule.code: rule for rule in v2.compiled.rules}
    derived = v2.compiled.derived_by_name

    def reachable(condition, seen=None) -> set[str]:
        """The question codes a condition depends on, through derived values."""
        seen = set() if seen is None else seen
        codes = set(condition.codes)
        for name in condition.derived:
            if name in derived and name not in seen:
                seen.add(name)
                for inner in derived[name].conditions():
                    codes |= reachable(inner, seen)
        return codes

    for flag in screen(answers, v2.compiled, facts(data.draw(AGES))).flags:
        assert set(flag.evidence) <= reachable(rules[flag.code].condition), flag.code
        for code, value in flag.evidence.items():
            given_answer = answers.get(code)
            if isinstance(value, list):
                assert set(value) <= set(given_answer or ()), (flag.code, code)
                assert value, (flag.code, code)  # an empty list explains nothing
            else:
                assert value == given_answer, (flag.code, code)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_fast_evaluation_agrees_with_the_fully_type_checked_evaluation(v2, data):
    """Conditions run as Python closures (screening.evaluation); rule-engine's own evaluation,
    re-checking every value's type, must give the same result for every rule, derived value
    and score item."""
    answers, age = data.draw(v2.answers()), data.draw(AGES)
    values = condition_values(answers, v2.compiled.schema)
    values["age"] = age
    values["free_text_match"] = False
    for derived in v2.compiled.derived:
        for condition in derived.conditions():
            assert condition.matches(values) == condition.matches_typed(values), derived.name
            assert condition.matches(values) == condition.matches_untyped(values), derived.name
        values[derived.name] = derived.compute(values)

    for rule in v2.compiled.rules:
        assert rule.condition.matches(values) == rule.condition.matches_typed(values), rule.code


def test_the_active_rule_set_is_the_specification(v2):
    compiled = v2.compiled

    assert [(r.code, r.title, r.category, r.tier, r.condition.text, r.explanation)
            for r in compiled.rules] == [tuple(rule) for rule in RULES]
    assert len(compiled.rules) == 63
    tiers = [r.tier for r in compiled.rules]
    assert (tiers.count("emergency"), tiers.count("urgent"), tiers.count("soon")) == (24, 18, 21)
    assert len(compiled.free_text.terms) == sum(len(terms) for _, terms in FREE_TEXT_TERMS)


def test_every_condition_refers_only_to_what_it_declares(v2):
    for rule in v2.compiled.rules:
        found = set(symbols(rule.condition.rule.statement.expression))
        assert found == set(rule.condition.codes) | set(rule.condition.derived), rule.code


# Rules that need a narrow combination, each with the answers that give the search a start.
@pytest.mark.parametrize("code", [rule[0] for rule in RULES])
def test_every_rule_can_fire(v2, code):
    @st.composite
    def cases(draw):
        return draw(v2.answers()), draw(AGES)

    example = find(
        cases(),
        lambda case: code in screen(case[0], v2.compiled, facts(case[1])).flag_codes,
        # No shrinking: any example will do, and shrinking would take most of the time.
        settings=settings(max_examples=20000, database=None, deadline=None,
                          phases=[Phase.generate]),
    )

    assert code in screen(example[0], v2.compiled, facts(example[1])).flag_codes
