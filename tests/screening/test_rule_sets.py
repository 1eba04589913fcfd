"""Rule sets as versioned data: the default set from migrate, drafts, activation, immutability,
the check before a questionnaire version is published, and storing flags."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from intake.models import Question, Submission
from intake.services.questionnaires import create_draft_from as create_questionnaire_draft
from screening.default_rules import RULES
from screening.engine import ScreeningError, ScreeningResult, screen
from screening.models import Flag, Rule, RuleSet, RuleSetLockedError
from screening.services import (
    NoActiveRuleSet,
    activate_rule_set,
    active_rule_set_for,
    check_questionnaire_version_against_active_rules,
    compile_rule_set,
    create_draft_from,
    record_flags,
    screen_answers,
)

pytestmark = pytest.mark.django_db


def test_migrate_creates_the_active_default_rule_set(default_rule_set, version_1):
    assert default_rule_set.status == RuleSet.Status.ACTIVE
    assert default_rule_set.activated_at is not None
    assert default_rule_set.questionnaire_version == version_1
    assert default_rule_set.questionnaire == version_1.questionnaire
    rules = list(default_rule_set.rules.order_by("position"))
    assert [(r.code, r.category, r.tier, r.condition, r.explanation) for r in rules] == [
        tuple(rule) for rule in RULES
    ]
    assert all(r.enabled for r in rules)
    # Its history starts at migrate.
    assert default_rule_set.history.count() == 1
    assert Rule.history.filter(rule_set_id=default_rule_set.pk).count() == len(RULES)


class TestActiveRuleSetCannotChange:
    def test_rule_save(self, default_rule_set):
        rule = default_rule_set.rules.get(code="fever")
        rule.tier = "soon"
        with pytest.raises(RuleSetLockedError):
            rule.save()
        assert default_rule_set.rules.get(code="fever").tier == "urgent"

    def test_rule_delete(self, default_rule_set):
        with pytest.raises(RuleSetLockedError):
            default_rule_set.rules.get(code="fever").delete()

    def test_bulk_update_and_delete(self, default_rule_set):
        with pytest.raises(RuleSetLockedError):
            Rule.objects.filter(rule_set=default_rule_set).update(enabled=False)
        with pytest.raises(RuleSetLockedError):
            Rule.objects.filter(rule_set=default_rule_set).delete()
        assert default_rule_set.rules.filter(enabled=True).count() == len(RULES)

    def test_new_rule(self, default_rule_set):
        with pytest.raises(RuleSetLockedError):
            Rule.objects.create(rule_set=default_rule_set, code="new", category="red_flag",
                                tier="soon", condition="jaundice", explanation="x")

    def test_rule_set_save_and_delete(self, default_rule_set):
        default_rule_set.notes = "changed"
        with pytest.raises(RuleSetLockedError):
            default_rule_set.save()
        with pytest.raises(RuleSetLockedError):
            default_rule_set.delete()

    def test_a_second_active_rule_set_is_refused_by_the_database(self, default_rule_set):
        draft = create_draft_from(default_rule_set)
        with pytest.raises(IntegrityError), transaction.atomic():
            RuleSet.objects.filter(pk=draft.pk).update(status=RuleSet.Status.ACTIVE)


class TestDrafts:
    def test_a_draft_copies_every_rule_and_takes_the_next_number(self, default_rule_set,
                                                                 admin_user):
        draft = create_draft_from(default_rule_set, by=admin_user)

        assert draft.version == 2
        assert draft.status == RuleSet.Status.DRAFT
        assert draft.based_on == default_rule_set
        assert draft.questionnaire_version == default_rule_set.questionnaire_version
        copied = [(r.code, r.category, r.tier, r.condition, r.explanation, r.enabled, r.position)
                  for r in draft.rules.all()]
        original = [(r.code, r.category, r.tier, r.condition, r.explanation, r.enabled,
                     r.position) for r in default_rule_set.rules.all()]
        assert copied == original
        assert draft.history.get().history_user == admin_user
        history = Rule.history.filter(rule_set_id=draft.pk)
        assert {h.history_user for h in history} == {admin_user}
        assert {h.id for h in history} == set(draft.rules.values_list("pk", flat=True))

    def test_a_draft_can_be_edited_and_its_history_says_who(self, default_rule_set, admin_user):
        draft = create_draft_from(default_rule_set)
        rule = draft.rules.get(code="fever")
        rule.tier = "emergency"
        rule._history_user = admin_user
        rule.save()

        latest = rule.history.first()
        assert latest.tier == "emergency"
        assert latest.history_user == admin_user
        assert [c.field for c in latest.diff_against(latest.prev_record).changes] == ["tier"]

    def test_a_draft_is_not_used_for_screening(self, default_rule_set, version_1,
                                               routine_answers):
        draft = create_draft_from(default_rule_set)
        Rule.objects.create(rule_set=draft, code="everyone", category="red_flag",
                            tier="emergency", condition="pain_severity >= 0", explanation="x")

        assert screen_answers(version_1, routine_answers).urgency == "routine"


class TestActivation:
    def test_activating_a_draft_retires_the_active_set(self, default_rule_set, version_1,
                                                       routine_answers, admin_user):
        draft = create_draft_from(default_rule_set)
        Rule.objects.create(rule_set=draft, code="desk_work", category="red_flag",
                            tier="soon", condition="daily_posture == 'desk_sitting'",
                            explanation="x")

        activate_rule_set(draft, by=admin_user)

        draft.refresh_from_db()
        default_rule_set.refresh_from_db()
        assert draft.status == RuleSet.Status.ACTIVE and draft.activated_at is not None
        assert default_rule_set.status == RuleSet.Status.RETIRED
        assert default_rule_set.retired_at == draft.activated_at
        result = screen_answers(version_1, routine_answers)
        assert (result.urgency, result.flag_codes, result.rule_set_version) == (
            "soon", ["desk_work"], 2
        )
        activated = draft.history.first()
        assert (activated.status, activated.history_user) == ("active", admin_user)
        assert activated.history_change_reason == "activated"
        retired = default_rule_set.history.first()
        assert (retired.status, retired.history_user) == ("retired", admin_user)

    def test_only_a_draft_can_be_activated(self, default_rule_set):
        with pytest.raises(ValidationError, match="only a draft can be activated"):
            activate_rule_set(default_rule_set)

    def test_a_draft_without_enabled_rules_is_refused(self, default_rule_set):
        draft = create_draft_from(default_rule_set)
        Rule.objects.filter(rule_set=draft).update(enabled=False)

        with pytest.raises(ValidationError, match="no enabled rules"):
            activate_rule_set(draft)

    def test_refused_when_its_questionnaire_version_lacks_a_code(self, default_rule_set,
                                                                 version_1):
        version_2 = create_questionnaire_draft(version_1)
        Question.objects.get(version=version_2, code="jaundice").delete()
        draft = create_draft_from(default_rule_set, questionnaire_version=version_2)

        with pytest.raises(ValidationError) as caught:
            activate_rule_set(draft)

        assert any("rule “jaundice”" in m and "Unknown question code “jaundice”" in m
                   for m in caught.value.messages)
        draft.refresh_from_db()
        assert draft.status == RuleSet.Status.DRAFT
        default_rule_set.refresh_from_db()
        assert default_rule_set.status == RuleSet.Status.ACTIVE

    def test_refused_when_the_version_patients_answer_lacks_a_code(self, default_rule_set,
                                                                   version_1):
        """Rules written for a questionnaire draft with a new question cannot go live while
        patients still answer a version without it."""
        version_2 = create_questionnaire_draft(version_1)
        question = Question.objects.get(version=version_2, code="stress_level")
        Question.objects.create(version=version_2, section=question.section, code="fainting",
                                text="Have you fainted?", type="boolean", required=True)
        draft = create_draft_from(default_rule_set, questionnaire_version=version_2)
        Rule.objects.create(rule_set=draft, code="fainting", category="possible_cardiac",
                            tier="emergency", condition="fainting", explanation="x")

        with pytest.raises(ValidationError) as caught:
            activate_rule_set(draft)

        [message] = caught.value.messages
        assert message.startswith(
            "Questionnaire version 1: rule “fainting”: Unknown question code “fainting”: "
            "questionnaire version 1 has no question with that code."
        )


class TestPublishingAQuestionnaireVersion:
    def test_a_version_that_lacks_a_code_the_active_rules_need_is_refused(self, version_1):
        version_2 = create_questionnaire_draft(version_1)
        Question.objects.get(version=version_2, code="chest_pain").delete()
        radiates = Question.objects.get(version=version_2, code="pain_radiates_to")
        radiates.choices.get(value="jaw").delete()

        with pytest.raises(ValidationError) as caught:
            check_questionnaire_version_against_active_rules(version_2)

        messages = " ".join(caught.value.messages)
        assert "rule “cardiac_chest_pain”" in messages
        assert "Unknown question code “chest_pain”" in messages
        assert "rule “cardiac_jaw”" in messages
        assert "“jaw” is not a choice of “pain_radiates_to”" in messages

    def test_a_version_that_changes_a_type_is_refused(self, version_1):
        version_2 = create_questionnaire_draft(version_1)
        Question.objects.filter(version=version_2, code="pain_severity").update(required=False)

        with pytest.raises(ValidationError, match=r"rule “sudden_severe_pain”.*optional"):
            check_questionnaire_version_against_active_rules(version_2)

    def test_a_version_with_everything_the_rules_need_passes(self, version_1):
        version_2 = create_questionnaire_draft(version_1)
        Question.objects.get(version=version_2, code="stress_level").delete()

        check_questionnaire_version_against_active_rules(version_2)


class TestScreeningFailures:
    def test_no_active_rule_set(self, default_rule_set, version_1, routine_answers):
        RuleSet.objects.filter(pk=default_rule_set.pk).update(status=RuleSet.Status.RETIRED)

        with pytest.raises(NoActiveRuleSet):
            screen_answers(version_1, routine_answers)

    def test_a_missing_required_answer_is_refused_not_guessed(self, version_1,
                                                               routine_answers):
        del routine_answers["chest_pain"]

        with pytest.raises(ScreeningError, match="“chest_pain” has no answer"):
            screen(routine_answers, active_rule_set_for(version_1))

    @pytest.mark.parametrize(("code", "value"), [
        ("chest_pain", "yes"), ("pain_severity", 11), ("pain_severity", True),
        ("sex", "unknown"), ("pain_radiates_to", "jaw"), ("pain_radiates_to", ["jaww"]),
    ])
    def test_an_answer_that_does_not_fit_is_refused_without_quoting_it(
        self, version_1, routine_answers, code, value
    ):
        routine_answers[code] = value

        with pytest.raises(ScreeningError) as caught:
            screen(routine_answers, active_rule_set_for(version_1))

        assert code in str(caught.value)
        assert repr(value) not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__context__ is None

    def test_a_condition_that_fails_while_evaluating_names_the_rule_only(
        self, default_rule_set, routine_answers
    ):
        draft = create_draft_from(default_rule_set)
        Rule.objects.create(rule_set=draft, code="third_place", category="nerve", tier="soon",
                            condition="pain_location[2].length > 0", explanation="x")

        with pytest.raises(ScreeningError) as caught:
            screen(routine_answers, compile_rule_set(draft))

        assert "rule “third_place” of rule set v2 could not be evaluated" in str(caught.value)
        assert "between_shoulder_blades" not in str(caught.value)
        # The library's exception (which may quote the answer) is not chained for a logger.
        assert caught.value.__cause__ is None and caught.value.__suppress_context__

    def test_the_failure_result_is_urgent_and_stores_no_flags(self, submit, routine_answers):
        submission = submit(routine_answers)
        failure = ScreeningResult.failure()

        assert (failure.urgency, failure.failed, failure.flags) == ("urgent", True, ())
        assert record_flags(submission, failure) == []
        assert not submission.flags.exists()


def test_record_flags_stores_every_flag_with_its_evidence(submit, default_rule_set):
    answers = {**_d22_answers()}
    submission = submit(answers)

    flags = list(Flag.objects.filter(submission=submission))

    assert [f.rule_code for f in flags] == ["malignancy_cluster", "cancer_history",
                                            "weight_loss"]
    assert Submission.objects.get(pk=submission.pk).urgency == "urgent"
    assert all(f.rule_set == default_rule_set for f in flags)
    assert flags[1].evidence == {"history_of_cancer": True}
    assert flags[0].evidence == {"history_of_cancer": True, "night_sweats": False,
                                 "pain_worsening": False, "unexplained_weight_loss": True}
    assert flags[0].explanation.startswith("several cancer warning signs together")


def _d22_answers():
    import json
    from pathlib import Path

    vignettes = json.loads(
        (Path(__file__).resolve().parent.parent / "data" / "vignettes.json").read_text()
    )
    return next(v for v in vignettes if v["id"] == "d22")["answers"]
