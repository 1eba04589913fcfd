"""Rule set version 2's machinery: derived values and scores as rule-set data, age, the
free-text check, and evidence that names only what made a rule fire."""

import datetime
from unittest import mock

import pytest
from django.utils import timezone as django_timezone
from rest_framework.test import APIClient

from intake.selectors import VersionSchema, current_version
from screening.conditions import ConditionError, compile_condition
from screening.engine import (
    BUILTIN_TYPES,
    Facts,
    FreeTextMatcher,
    ScreeningError,
    screen,
)
from screening.models import (
    DerivedValue,
    FreeTextTerm,
    Rule,
    RuleSet,
    RuleSetLockedError,
    ScoreItem,
)
from screening.services import (
    RuleSetInvalid,
    active_rule_set_for,
    compile_rule_set,
    create_draft_from,
    rule_set_problems,
)
from tests.factories import PATIENT_OF_ANY_AGE, date_of_birth_for, routine_answers, vignette

pytestmark = pytest.mark.django_db

ON = datetime.date(2026, 12, 1)


def facts(age: int) -> Facts:
    return Facts(date_of_birth=date_of_birth_for(age, ON), submitted_on=ON)


@pytest.fixture
def rule_set_2() -> RuleSet:
    return RuleSet.objects.get(questionnaire__slug="upper-back-pain", version=2)


@pytest.fixture
def compiled():
    return active_rule_set_for(current_version())


def flag(result, code):
    return next(f for f in result.flags if f.code == code)


# --- Evidence -------------------------------------------------------------------------------


def test_chest_pain_evidence_is_the_chest_pain_answer_not_the_spreading_answer(compiled):
    answers = {**routine_answers(), "chest_pain": True}

    evidence = flag(screen(answers, compiled, facts(40)), "cardiac_chest_pain")

    assert evidence.evidence == {"chest_pain": True}
    assert [d["name"] for d in evidence.derived] == ["chest"]


def test_a_choice_in_a_list_is_evidence_narrowed_to_that_choice(compiled):
    answers = {**routine_answers(), "pain_radiates_to": ["chest", "right_arm"]}

    result = screen(answers, compiled, facts(40))

    assert flag(result, "cardiac_chest_pain").evidence == {"pain_radiates_to": ["chest"]}
    assert flag(result, "radiating_arm_pain").evidence == {"pain_radiates_to": ["right_arm"]}


def test_a_score_flag_names_its_score_the_items_that_scored_and_their_basis(compiled):
    answers = {**routine_answers(), "sex": "male", "pain_walking_or_stairs": True,
               "pain_unchanged_by_movement": True}

    marburg = flag(screen(answers, compiled, facts(60)), "cardiac_marburg_high")

    score = next(d for d in marburg.derived if d["name"] == "marburg_heart_score")
    assert score["value"] == 3
    assert [(i["points"], i["basis"]) for i in score["items"]] == [
        (1, "answer"), (1, "answer"), (1, "proxy")]
    age = next(d for d in marburg.derived if d["name"] == "age")
    assert age == {"name": "age", "title": "Age", "value": 60,
                   "date_of_birth": date_of_birth_for(60, ON).isoformat(),
                   "submitted_on": ON.isoformat()}
    assert marburg.evidence == {"pain_walking_or_stairs": True,
                                "pain_unchanged_by_movement": True, "sex": "male"}


def test_high_cardiovascular_risk_says_which_items_made_it_true(compiled):
    answers = {**routine_answers(), "associated_symptoms": ["sweating"],
               "health_conditions": ["diabetes", "osteoporosis"], "sex": "male"}

    autonomic_risk = flag(screen(answers, compiled, facts(40)), "cardiac_autonomic_risk")

    assert autonomic_risk.evidence == {"associated_symptoms": ["sweating"],
                                       "health_conditions": ["diabetes"]}
    names = [d["name"] for d in autonomic_risk.derived]
    assert names == ["autonomic", "high_cardiovascular_risk"]


# --- Age ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("born", "on", "age"), [
    (datetime.date(1960, 2, 29), datetime.date(2011, 2, 28), 50),
    (datetime.date(1960, 2, 29), datetime.date(2011, 3, 1), 51),
    (datetime.date(1960, 2, 29), datetime.date(2012, 2, 29), 52),
    (datetime.date(1975, 12, 2), datetime.date(2026, 12, 1), 50),
    (datetime.date(1975, 12, 1), datetime.date(2026, 12, 1), 51),
])
def test_age_is_whole_years_with_29_february_birthdays_on_1_march(compiled, born, on, age):
    answers = {**routine_answers(), "pain_worsening": True}  # thoracic, worsening: age > 50?

    result = screen(answers, compiled, Facts(date_of_birth=born, submitted_on=on))

    assert ("age_over_50_thoracic_pain" in result.flag_codes) is (age > 50)
    assert {n: v for n, _t, v in result.derived_values}["age"] == age


def test_age_is_worked_out_on_the_date_in_the_clinics_time_zone(client):
    """23:30 UTC on 31 May is 00:30 on 1 June in London: a patient born on 1 June 1975 is 51."""
    answers = {**routine_answers(), "pain_worsening": True}
    moment = datetime.datetime(2026, 5, 31, 23, 30, tzinfo=datetime.UTC)

    with mock.patch.object(django_timezone, "now", return_value=moment):
        response = APIClient().post("/api/submissions/", {
            "patient": {**PATIENT_OF_ANY_AGE, "date_of_birth": "1975-06-01"}, "answers": answers,
        }, format="json")

    assert response.status_code == 201
    assert "age_over_50_thoracic_pain" in [f["code"] for f in response.json()["flags"]]


def test_screening_without_a_date_of_birth_fails_rather_than_guess(compiled):
    with pytest.raises(ScreeningError, match="uses age"):
        screen(routine_answers(), compiled, Facts())


@pytest.mark.parametrize("date_of_birth", ["1890-01-01", "1905-11-30"])
def test_an_age_over_120_is_refused_with_a_clear_error(date_of_birth):
    response = APIClient().post("/api/submissions/", {
        "patient": {**PATIENT_OF_ANY_AGE, "date_of_birth": date_of_birth},
        "answers": routine_answers(),
    }, format="json")

    assert response.status_code == 400
    assert "Check the year of birth" in response.json()["patient"]["date_of_birth"][0]


def test_being_older_never_lowers_the_urgency(compiled):
    for case_id in ("v2-01", "v2-05", "v2-10", "v2-20", "v2-30"):
        answers = vignette(case_id)["answers"]
        ranks = [screen(answers, compiled, facts(age)).urgency for age in range(18, 100)]
        order = ["routine", "soon", "urgent", "emergency"]
        assert [order.index(r) for r in ranks] == sorted(order.index(r) for r in ranks), case_id


# --- Free text ------------------------------------------------------------------------------


MATCHER = FreeTextMatcher.of([
    ("warfarin", "bleeding risk"), ("stent*", "heart"), ("cough* up blood", "lungs"),
    ("can t walk", "nerves"), ("tb", "infection"), ("aort*", "heart"),
])


@pytest.mark.parametrize(("text", "terms"), [
    ("I take Warfarin daily", ["warfarin"]),
    ("WARFARIN.", ["warfarin"]),
    ("had two stents in 2019", ["stent*"]),
    ("coughing up blood since Monday", ["cough* up blood"]),
    ("I can't walk far", ["can t walk"]),
    ("TB as a child", ["tb"]),
    ("aórtic valve", ["aort*"]),  # accents do not matter
    ("warfarinised", []),  # a whole word, not a word start
    ("stubborn", []),  # 'tb' inside a word is no match
    ("blood when coughing up", []),  # several words match only in a row
    ("", []),
])
def test_terms_match_whole_words_word_starts_and_phrases(text, terms):
    found = MATCHER.find({"other_information": text})
    assert [m["term"] for m in found] == terms


def test_a_match_names_the_term_its_group_and_the_field_never_the_text(compiled):
    answers = {**routine_answers(), "history_of_cancer": True,
               "cancer_details": "Breast cancer 2019, radiotherapy; secret words here",
               "other_information": "On warfarin"}

    mention = flag(screen(answers, compiled, facts(40)), "free_text_mention")

    assert mention.tier == "soon" and mention.category == "free_text"
    assert mention.evidence == {}
    matches = mention.derived[0]["matches"]
    assert matches == [
        {"term": "cancer*", "group": "cancer", "field": "cancer_details"},
        {"term": "radiotherapy", "group": "cancer", "field": "cancer_details"},
        {"term": "warfarin", "group": "bleeding risk", "field": "other_information"},
    ]
    assert "secret" not in str(mention)


def test_free_text_never_pages_and_never_changes_what_the_answers_decide(compiled):
    for case_id in ("v2-01", "v2-05", "v2-12", "v2-25"):
        answers = vignette(case_id)["answers"]
        before = screen(answers, compiled, facts(45))
        text = {**answers, "other_information": "warfarin stents chest pain coughing up blood "
                "heroin cancer tearing rash osteoporosis vomiting fainted"}
        after = screen(text, compiled, facts(45))
        added = set(after.flag_codes) - set(before.flag_codes)
        assert added <= {"free_text_mention"}
        assert set(before.flag_codes) <= set(after.flag_codes)
        if before.urgency != "routine":
            assert after.urgency == before.urgency


def test_a_rule_that_pages_on_free_text_cannot_be_saved(rule_set_2):
    draft = create_draft_from(rule_set_2)
    Rule.objects.filter(rule_set=draft, code="free_text_mention").update(tier="urgent")

    with pytest.raises(RuleSetInvalid, match="may only be used by a rule of tier “soon”"):
        compile_rule_set(draft)


# --- Derived values are rule-set data, checked like rules ------------------------------------


def test_derived_values_and_terms_are_copied_into_a_new_draft_and_frozen_when_active(rule_set_2):
    draft = create_draft_from(rule_set_2)

    assert list(draft.derived_values.values_list("name", flat=True)) == list(
        rule_set_2.derived_values.values_list("name", flat=True))
    assert ScoreItem.objects.filter(derived_value__rule_set=draft).count() == \
        ScoreItem.objects.filter(derived_value__rule_set=rule_set_2).count()
    assert draft.free_text_terms.count() == rule_set_2.free_text_terms.count() == 142
    with pytest.raises(RuleSetLockedError):
        rule_set_2.derived_values.first().save()
    with pytest.raises(RuleSetLockedError):
        ScoreItem.objects.filter(derived_value__rule_set=rule_set_2).update(points=5)
    with pytest.raises(RuleSetLockedError):
        FreeTextTerm.objects.filter(rule_set=rule_set_2).delete()


def test_a_changed_score_item_changes_the_result_of_a_draft(rule_set_2):
    draft = create_draft_from(rule_set_2)
    answers = {**routine_answers(), "thinks_heart": True, "pain_unchanged_by_movement": True}
    assert "cardiac_marburg_high" not in screen(answers, compile_rule_set(draft),
                                                facts(40)).flag_codes

    ScoreItem.objects.filter(derived_value__rule_set=draft, label__startswith="Patient assumes"
                             ).update(points=2)

    assert "cardiac_marburg_high" in screen(answers, compile_rule_set(draft),
                                            facts(40)).flag_codes


@pytest.mark.parametrize(("condition", "message"), [
    ("marburg_heart_score == 'high'", "not compared with a question"),
    ("marburg_hart_score >= 3", "Did you mean “marburg_heart_score”?"),
    ("autonomic > 2", "Type mismatch"),
    ("marburg_heart_score > autonomic", "Type mismatch"),
])
def test_conditions_on_derived_values_are_type_checked(rule_set_2, condition, message):
    draft = create_draft_from(rule_set_2)
    Rule.objects.filter(rule_set=draft, code="cardiac_marburg_high").update(condition=condition)

    problems = rule_set_problems(draft)

    assert message in " ".join(problems["cardiac_marburg_high"])


def test_a_derived_value_may_only_use_the_ones_before_it(rule_set_2):
    draft = create_draft_from(rule_set_2)
    DerivedValue.objects.filter(rule_set=draft, name="autonomic").update(
        condition="chest and sex == 'male'")

    problems = rule_set_problems(draft)

    assert "Unknown question code “chest”" in " ".join(problems["derived value “autonomic”"])


def test_a_score_item_needs_positive_points(rule_set_2):
    draft = create_draft_from(rule_set_2)
    ScoreItem.objects.filter(derived_value__rule_set=draft, derived_value__name="add_rs"
                             ).update(points=-1)

    problems = rule_set_problems(draft)

    assert "more than 0" in " ".join(problems["derived value “add_rs”"])


def test_built_in_values_are_typed():
    schema = VersionSchema.of(current_version())
    with pytest.raises(ConditionError, match="Type mismatch"):
        compile_condition("free_text_match >= 3", schema, BUILTIN_TYPES)
    assert compile_condition("age >= 65 and free_text_match", schema, BUILTIN_TYPES).derived == (
        "age", "free_text_match")
