"""Conditions are checked when a rule is saved or loaded: every kind of invalid rule is refused
with a message that names the problem."""

import pytest
from django.core.exceptions import ValidationError

from intake.selectors import VersionSchema
from screening import conditions
from screening.conditions import ConditionError, compile_condition
from screening.models import Rule
from screening.services import RuleSetInvalid, check_rule, compile_rule_set, create_draft_from

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(current_version):
    return VersionSchema.of(current_version)


def refused(text, schema) -> ConditionError:
    with pytest.raises(ConditionError) as caught:
        compile_condition(text, schema)
    return caught.value


class TestRefusedWithANamedError:
    def test_unknown_question_code(self, schema):
        error = refused("pian_onset == 'gradual'", schema)

        assert error.kinds == {conditions.UNKNOWN_CODE}
        assert "Unknown question code “pian_onset”" in str(error)
        assert "Did you mean “pain_onset”?" in str(error)

    @pytest.mark.parametrize(("text", "value", "code"), [
        ("'lefft_arm' in pain_radiates_to", "lefft_arm", "pain_radiates_to"),
        ("pain_onset == 'suddenly'", "suddenly", "pain_onset"),
        ("pain_onset != 'suddenly'", "suddenly", "pain_onset"),
        ("pain_onset in ['gradual', 'sudenly']", "sudenly", "pain_onset"),
        ("pain_radiates_to == ['jaw', 'leg']", "leg", "pain_radiates_to"),
        ("[s for s in numbness_tingling if s != 'nnone'].length > 0", "nnone",
         "numbness_tingling"),
        ("daily_posture == 'mixxed'", "mixxed", "daily_posture"),
        ("(daily_posture ?? 'nope') == 'mixed'", "nope", "daily_posture"),
    ])
    def test_choice_value_the_question_does_not_offer(self, schema, text, value, code):
        error = refused(text, schema)

        assert error.kinds == {conditions.UNKNOWN_CHOICE}
        assert f"“{value}” is not a choice of “{code}”" in str(error)

    @pytest.mark.parametrize(("text", "named"), [
        ("pain_severity == 'high'", "“pain_severity” (whole-number question)"),
        ("chest_pain > 3", "“chest_pain” is a yes/no question"),
        ("chest_pain == 'yes'", "“chest_pain” (yes/no question)"),
        ("pain_radiates_to == 'jaw'", "“pain_radiates_to” (several-choices question)"),
        ("pain_severity > 'a'", "“pain_severity” (whole-number question)"),
        ("'gradual' in pain_onset", "“pain_onset” is a one-choice question"),
        ("pain_severity >= 70", "outside the answers “pain_severity” allows (0..10)"),
        ("sex == null", "“sex” (one-choice question) is never null"),
        ("stress_level > 5", "“stress_level” is optional"),
        ("pain_severity", "must be true or false"),
    ])
    def test_type_mismatch(self, schema, text, named):
        error = refused(text, schema)

        assert error.kinds == {conditions.TYPE_MISMATCH}
        assert named in str(error)

    @pytest.mark.parametrize("text", ["chest_pain and", "chest_pain and (", "`x`", "", "  "])
    def test_syntax_error(self, schema, text):
        error = refused(text, schema)

        assert error.kinds == {conditions.SYNTAX}
        assert "yntax error" in str(error) or "Write a condition" in str(error)

    @pytest.mark.parametrize(("text", "named"), [
        ("$now > $now", "“$now” is not allowed"),
        ("chest_pain and $today", "“$today” is not allowed"),
        ("pain_onset =~ 'sud.*'", "“pain_onset” is a choice question"),
        ("pain_onset.starts_with('sud')", "'sud' is not compared with a question"),
        ("true", "refers to no question"),
        ("[chest_pain for chest_pain in pain_radiates_to].length > 0",
         "“chest_pain” is a question code"),
    ])
    def test_what_would_escape_the_checks(self, schema, text, named):
        error = refused(text, schema)

        assert error.kinds == {conditions.NOT_ALLOWED}
        assert named in str(error)


@pytest.mark.parametrize("text", [
    "chest_pain or 'chest' in pain_radiates_to",
    "(stress_level ?? 0) >= 9",
    "daily_posture == 'mixed'",
    "daily_posture == null",
    "pain_radiates_to.length > 1",
    "(other_information ?? '') =~ 'chest'",
    "pain_severity >= 7 # severe",
])
def test_valid_conditions_compile_and_name_their_codes(schema, text):
    compiled = compile_condition(text, schema)

    assert compiled.codes
    assert set(compiled.codes) <= set(schema.questions)


def test_unanswered_optional_questions_never_break_a_rule(schema):
    """Optional yes/no is false, several-choices empty, the others null."""
    from screening.engine import condition_values

    values = condition_values({
        code: spec.kind.unanswered for code, spec in schema.questions.items() if spec.required
    } | {"pain_severity": 3, "pain_onset": "gradual", "sex": "male", "pain_duration":
         "under_1_week", "pain_location": ["neck"], "pain_radiates_to": ["none"],
         "numbness_tingling": ["none"], "associated_symptoms": ["none"]}, schema)

    assert values["pain_worse_with_movement"] is False
    assert values["treatments_tried"] == ()
    assert values["stress_level"] is None
    assert values["daily_posture"] is None
    for text in ["(stress_level ?? 0) >= 9", "daily_posture == 'mixed'",
                 "'rest' in treatments_tried", "pain_worse_with_movement",
                 "(cancer_details ?? '') =~ 'lung'"]:
        assert compile_condition(text, schema).matches(values) is False


class TestCheckedWhenSaved:
    def test_checking_a_rule_puts_the_message_on_the_condition(self, current_rule_set):
        draft = create_draft_from(current_rule_set)
        rule = Rule(rule_set=draft, code="typo", category="red_flag", tier="soon",
                    condition="'lefft_arm' in pain_radiates_to", explanation="x")

        with pytest.raises(ValidationError) as caught:
            check_rule(rule)

        assert list(caught.value.message_dict) == ["condition"]
        assert "“lefft_arm” is not a choice of “pain_radiates_to”" in (
            caught.value.message_dict["condition"][0]
        )


class TestCheckedWhenLoaded:
    def test_compiling_a_rule_set_names_every_bad_rule(self, current_rule_set):
        draft = create_draft_from(current_rule_set)
        # Written past the model's validation, as a bad import or a raw edit could.
        Rule.objects.filter(rule_set=draft, code="cardiac_jaw").update(
            condition="'jaww' in pain_radiates_to"
        )
        Rule.objects.filter(rule_set=draft, code="fever").update(condition="fever_chils")

        with pytest.raises(RuleSetInvalid) as caught:
            compile_rule_set(draft)

        assert set(caught.value.problems) == {"cardiac_jaw", "fever"}
        assert "“jaww” is not a choice of “pain_radiates_to”" in str(caught.value)
        assert "Unknown question code “fever_chils”" in str(caught.value)

    def test_a_switched_off_rule_is_not_compiled(self, current_rule_set):
        draft = create_draft_from(current_rule_set)
        Rule.objects.filter(rule_set=draft, code="fever").update(
            condition="fever_chils", enabled=False
        )

        compiled = compile_rule_set(draft)

        assert "fever" not in [rule.code for rule in compiled.rules]

    def test_a_tier_or_category_outside_the_spec_is_refused(self, current_rule_set):
        draft = create_draft_from(current_rule_set)
        Rule.objects.filter(rule_set=draft, code="fever").update(tier="routine")

        with pytest.raises(RuleSetInvalid, match="“routine” is not a tier"):
            compile_rule_set(draft)
