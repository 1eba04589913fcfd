"""Properties of screening over generated valid answer sets for the default questionnaire.

The default rule set is compiled once per session from the test database (``default_setup``),
so the examples screen without touching the database.
"""

import copy

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from screening.default_rules import RULES
from screening.engine import URGENCY_RANK, condition_values, screen

# The examples never touch the database, but the session fixture that compiles the default
# rule set needs the test database to exist, which pytest-django arranges only for marked tests.
pytestmark = pytest.mark.django_db

PROPERTY_SETTINGS = settings(
    max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None
)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_same_answers_same_result(default_setup, data):
    answers = data.draw(default_setup.answers())
    reordered = dict(reversed(list(copy.deepcopy(answers).items())))

    first = screen(answers, default_setup.compiled)

    assert screen(answers, default_setup.compiled) == first
    assert screen(reordered, default_setup.compiled) == first
    assert screen(answers, default_setup.recompiled) == first


@PROPERTY_SETTINGS
@given(data=st.data())
def test_one_more_yes_never_lowers_the_urgency(default_setup, data):
    answers = data.draw(default_setup.answers())
    before = screen(answers, default_setup.compiled)

    for change, more in default_setup.one_more_yes(answers):
        after = screen(more, default_setup.compiled)
        assert URGENCY_RANK[after.urgency] <= URGENCY_RANK[before.urgency], (
            f"{change} lowered the urgency from {before.urgency} to {after.urgency}"
        )


@PROPERTY_SETTINGS
@given(data=st.data())
def test_urgency_is_the_most_urgent_flag(default_setup, data):
    result = screen(data.draw(default_setup.answers()), default_setup.compiled)

    if result.flags:
        assert result.urgency == result.flags[0].tier
        assert [URGENCY_RANK[f.tier] for f in result.flags] == sorted(
            URGENCY_RANK[f.tier] for f in result.flags
        )
    else:
        assert result.urgency == "routine"


@PROPERTY_SETTINGS
@given(data=st.data())
def test_evidence_is_the_answers_the_condition_refers_to(default_setup, data):
    answers = data.draw(default_setup.answers())
    rules = {rule.code: rule for rule in default_setup.compiled.rules}

    for flag in screen(answers, default_setup.compiled).flags:
        assert set(flag.evidence) == set(rules[flag.code].condition.codes)
        assert all(flag.evidence[code] == answers.get(code) for code in flag.evidence)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_evaluation_agrees_with_the_fully_type_checked_evaluation(default_setup, data):
    """Conditions are evaluated from a parse without types (fast); the library's own typed
    evaluation must give the same answer for every rule."""
    values = condition_values(data.draw(default_setup.answers()), default_setup.compiled.schema)

    for rule in default_setup.compiled.rules:
        assert rule.condition.matches(values) == rule.condition.matches_typed(values), rule.code


def test_the_default_rule_set_is_the_specification(default_setup):
    compiled = default_setup.compiled

    assert [(r.code, r.category, r.tier, r.explanation) for r in compiled.rules] == [
        (code, category, tier, explanation) for code, category, tier, _, explanation in RULES
    ]
    assert len(compiled.rules) == 24


@pytest.mark.parametrize("code", [rule[0] for rule in RULES])
def test_every_rule_can_fire(default_setup, code):
    example = find(
        default_setup.answers(),
        lambda answers: code in screen(answers, default_setup.compiled).flag_codes,
        # No shrinking: any example will do, and shrinking would take most of the time.
        settings=settings(max_examples=5000, database=None, deadline=None,
                          phases=[Phase.generate]),
    )

    assert code in screen(example, default_setup.compiled).flag_codes
