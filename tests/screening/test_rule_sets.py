"""Rule sets as versioned data: the default set from migrate, drafts, activation, immutability,
the check before a questionnaire version is published, and storing flags."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from intake.models import Question, Submission
from intake.services.questionnaires import create_draft_from as create_questionnaire_draft
from screening import default_rules
from screening.activation import activate_rule_set
from screening.default_rules_v2 import RULES
from screening.engine import ScreeningError, ScreeningResult, screen
from screening.models import Flag, Rule, RuleSet, RuleSetLockedError
from screening.services import (
    NoActiveRuleSet,
    active_rule_set_for,
    check_questionnaire_version_against_active_rules,
    compile_rule_set,
    create_draft_from,
    record_flags,
    screen_answers,
)
from tests.factories import facts, refusal, routine_answers, save_refused

pytestmark = pytest.mark.django_db

REASON = "Checked every change against the specification."


def test_migrate_creates_rule_set_version_2_active(current_rule_set, current_version):
    assert current_rule_set.status == RuleSet.Status.ACTIVE
    assert current_rule_set.activated_at is not None
    assert current_rule_set.questionnaire_version == current_version
    assert current_rule_set.questionnaire == current_version.questionnaire
    rules = list(current_rule_set.rules.order_by("position"))
    assert [(r.code, r.title, r.category, r.tier, r.condition, r.explanation)
            for r in rules] == [tuple(rule) for rule in RULES]
    assert all(r.enabled for r in rules)
    # Its history starts at migrate.
    assert current_rule_set.history.count() == 1
    assert Rule.history.filter(rule_set_id=current_rule_set.pk).count() == len(RULES)


def test_migrate_retires_version_1_of_the_rules_and_keeps_them(default_rule_set, version_1,
                                                                current_rule_set):
    """Rule set version 1 stays, retired, with its rules as they were, so the submissions it
    screened keep their rule set."""
    assert default_rule_set.status == RuleSet.Status.RETIRED
    assert default_rule_set.retired_at == current_rule_set.activated_at
    assert default_rule_set.questionnaire_version == version_1
    rules = list(default_rule_set.rules.order_by("position"))
    assert [(r.code, r.category, r.tier, r.condition, r.explanation) for r in rules] == [
        tuple(rule) for rule in default_rules.RULES
    ]


class TestActiveRuleSetCannotChange:
    def test_rule_save(self, current_rule_set):
        rule = current_rule_set.rules.get(code="fever")
        save_refused(rule, RuleSetLockedError, tier="soon")
        assert current_rule_set.rules.get(code="fever").tier == "urgent"

    def test_rule_delete(self, current_rule_set):
        with pytest.raises(RuleSetLockedError):
            current_rule_set.rules.get(code="fever").delete()

    def test_bulk_update_and_delete(self, current_rule_set):
        with pytest.raises(RuleSetLockedError):
            Rule.objects.filter(rule_set=current_rule_set).update(enabled=False)
        with pytest.raises(RuleSetLockedError):
            Rule.objects.filter(rule_set=current_rule_set).delete()
        assert current_rule_set.rules.filter(enabled=True).count() == len(RULES)

    def test_new_rule(self, current_rule_set):
        with pytest.raises(RuleSetLockedError):
            Rule.objects.create(rule_set=current_rule_set, code="new", category="red_flag",
                                tier="soon", condition="jaundice", explanation="x")

    def test_rule_set_save_and_delete(self, current_rule_set):
        save_refused(current_rule_set, RuleSetLockedError, notes="changed")
        with pytest.raises(RuleSetLockedError):
            current_rule_set.delete()

    def test_a_second_active_rule_set_is_refused_by_the_database(self, current_rule_set):
        draft = create_draft_from(current_rule_set)
        with pytest.raises(IntegrityError), transaction.atomic():
            RuleSet.objects.filter(pk=draft.pk).update(status=RuleSet.Status.ACTIVE)


class TestDrafts:
    def test_a_draft_copies_every_rule_and_takes_the_next_number(self, current_rule_set,
                                                                 admin_user):
        draft = create_draft_from(current_rule_set, by=admin_user)

        assert draft.version == 3
        assert draft.status == RuleSet.Status.DRAFT
        assert draft.based_on == current_rule_set
        assert draft.questionnaire_version == current_rule_set.questionnaire_version
        copied = [(r.code, r.category, r.tier, r.condition, r.explanation, r.enabled, r.position)
                  for r in draft.rules.all()]
        original = [(r.code, r.category, r.tier, r.condition, r.explanation, r.enabled,
                     r.position) for r in current_rule_set.rules.all()]
        assert copied == original
        assert draft.history.get().history_user == admin_user
        history = Rule.history.filter(rule_set_id=draft.pk)
        assert {h.history_user for h in history} == {admin_user}
        assert {h.id for h in history} == set(draft.rules.values_list("pk", flat=True))

    def test_a_draft_can_be_edited_and_its_history_says_who(self, current_rule_set, admin_user):
        draft = create_draft_from(current_rule_set)
        rule = draft.rules.get(code="fever")
        rule.tier = "emergency"
        rule._history_user = admin_user
        rule.save()

        latest = rule.history.first()
        assert latest.tier == "emergency"
        assert latest.history_user == admin_user
        assert [c.field for c in latest.diff_against(latest.prev_record).changes] == ["tier"]

    def test_a_draft_is_not_used_for_screening(self, current_rule_set, current_version,
                                               routine_answers):
        draft = create_draft_from(current_rule_set)
        Rule.objects.create(rule_set=draft, code="everyone", category="red_flag",
                            tier="emergency", condition="pain_severity >= 0", explanation="x")

        assert screen_answers(current_version, routine_answers, facts()).urgency == "routine"


class TestActivation:
    def test_activating_a_draft_retires_the_active_set(self, current_rule_set, current_version,
                                                       routine_answers, admin_user):
        draft = create_draft_from(current_rule_set)
        Rule.objects.create(rule_set=draft, code="desk_work", category="red_flag",
                            tier="soon", condition="daily_posture == 'desk_sitting'",
                            explanation="x")

        # desk_work also fires on the routine safety cases: a warning, acknowledged.
        activate_rule_set(draft, by=admin_user, reason=REASON, acknowledge_warnings=True)

        draft.refresh_from_db()
        current_rule_set.refresh_from_db()
        assert draft.status == RuleSet.Status.ACTIVE and draft.activated_at is not None
        assert current_rule_set.status == RuleSet.Status.RETIRED
        assert current_rule_set.retired_at == draft.activated_at
        result = screen_answers(current_version, routine_answers, facts())
        assert (result.urgency, result.flag_codes, result.rule_set_version) == (
            "soon", ["desk_work"], 3
        )
        activated = draft.history.first()
        assert (activated.status, activated.history_user) == ("active", admin_user)
        assert activated.history_change_reason == "activated"
        retired = current_rule_set.history.first()
        assert (retired.status, retired.history_user) == ("retired", admin_user)

    def test_only_a_draft_can_be_activated(self, current_rule_set, admin_user):
        with pytest.raises(ValidationError, match="only a draft can be activated"):
            activate_rule_set(current_rule_set, by=admin_user, reason=REASON)

    def test_a_draft_without_enabled_rules_is_refused(self, current_rule_set, admin_user):
        draft = create_draft_from(current_rule_set)
        Rule.objects.filter(rule_set=draft).update(enabled=False)

        with pytest.raises(ValidationError, match="no enabled rules"):
            activate_rule_set(draft, by=admin_user, reason=REASON)

    def test_refused_when_its_questionnaire_version_lacks_a_code(self, current_rule_set,
                                                                 current_version, admin_user):
        new_version = create_questionnaire_draft(current_version)
        Question.objects.get(version=new_version, code="jaundice").delete()
        draft = create_draft_from(current_rule_set, questionnaire_version=new_version)

        with pytest.raises(ValidationError) as caught:
            activate_rule_set(draft, by=admin_user, reason=REASON)

        assert any("rule “jaundice”" in m and "Unknown question code “jaundice”" in m
                   for m in caught.value.messages)
        draft.refresh_from_db()
        assert draft.status == RuleSet.Status.DRAFT
        current_rule_set.refresh_from_db()
        assert current_rule_set.status == RuleSet.Status.ACTIVE

    def test_refused_when_the_version_patients_answer_lacks_a_code(self, current_rule_set,
                                                                   current_version, admin_user):
        """Rules written for a questionnaire draft with a new question cannot go live while
        patients still answer a version without it."""
        new_version = create_questionnaire_draft(current_version)
        question = Question.objects.get(version=new_version, code="stress_level")
        Question.objects.create(version=new_version, section=question.section, code="fainting",
                                text="Have you fainted?", type="boolean", required=True)
        draft = create_draft_from(current_rule_set, questionnaire_version=new_version)
        Rule.objects.create(rule_set=draft, code="fainting", category="possible_cardiac",
                            tier="emergency", condition="fainting", explanation="x")

        with pytest.raises(ValidationError) as caught:
            activate_rule_set(draft, by=admin_user, reason=REASON, acknowledge_warnings=True)

        message = caught.value.messages[0]
        assert message.startswith(
            "Questionnaire version 2: rule “fainting”: Unknown question code “fainting”: "
            "questionnaire version 2 has no question with that code"
        )


class TestPublishingAQuestionnaireVersion:
    def test_a_version_that_lacks_a_code_the_active_rules_need_is_refused(self, current_version):
        new_version = create_questionnaire_draft(current_version)
        Question.objects.get(version=new_version, code="chest_pain").delete()
        radiates = Question.objects.get(version=new_version, code="pain_radiates_to")
        radiates.choices.get(value="jaw").delete()

        messages = refusal(check_questionnaire_version_against_active_rules, new_version)
        # chest_pain is used by the derived value "chest" (which cardiac_chest_pain uses).
        assert "derived value “chest”: Unknown question code “chest_pain”" in messages
        assert "rule “cardiac_jaw”" in messages
        assert "“jaw” is not a choice of “pain_radiates_to”" in messages

    def test_a_version_that_changes_a_type_is_refused(self, current_version):
        new_version = create_questionnaire_draft(current_version)
        Question.objects.filter(version=new_version, code="pain_severity").update(required=False)

        messages = refusal(check_questionnaire_version_against_active_rules, new_version)
        assert "rule “abrupt_severe_pain”: “pain_severity” is optional" in messages
        assert "derived value “add_rs”: “pain_severity” is optional" in messages

    def test_a_version_with_everything_the_rules_need_passes(self, current_version):
        new_version = create_questionnaire_draft(current_version)
        Question.objects.get(version=new_version, code="stress_level").delete()

        check_questionnaire_version_against_active_rules(new_version)


class TestScreeningFailures:
    def test_no_active_rule_set(self, current_rule_set, current_version, routine_answers):
        RuleSet.objects.filter(pk=current_rule_set.pk).update(status=RuleSet.Status.RETIRED)

        with pytest.raises(NoActiveRuleSet):
            screen_answers(current_version, routine_answers, facts())

    def test_a_missing_required_answer_is_refused_not_guessed(self, current_version,
                                                               routine_answers):
        del routine_answers["chest_pain"]

        with pytest.raises(ScreeningError, match="“chest_pain” has no answer"):
            screen(routine_answers, active_rule_set_for(current_version), facts())

    @pytest.mark.parametrize(("code", "value"), [
        ("chest_pain", "yes"), ("pain_severity", 11), ("pain_severity", True),
        ("sex", "unknown"), ("pain_radiates_to", "jaw"), ("pain_radiates_to", ["jaww"]),
    ])
    def test_an_answer_that_does_not_fit_is_refused_without_quoting_it(
        self, current_version, routine_answers, code, value
    ):
        routine_answers[code] = value

        with pytest.raises(ScreeningError) as caught:
            screen(routine_answers, active_rule_set_for(current_version), facts())

        assert code in str(caught.value)
        assert repr(value) not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__context__ is None

    def test_a_condition_that_fails_while_evaluating_names_the_rule_only(
        self, current_rule_set, routine_answers
    ):
        draft = create_draft_from(current_rule_set)
        Rule.objects.create(rule_set=draft, code="third_place", category="nerve", tier="soon",
                            condition="pain_location[2].length > 0", explanation="x")

        with pytest.raises(ScreeningError) as caught:
            screen(routine_answers, compile_rule_set(draft), facts())

        assert "rule “third_place” of rule set v3 could not be evaluated" in str(caught.value)
        assert "between_shoulder_blades" not in str(caught.value)
        # The library's exception (which may quote the answer) is not chained for a logger.
        assert caught.value.__cause__ is None and caught.value.__suppress_context__

    def test_the_failure_result_is_urgent_and_stores_no_flags(self, submit, routine_answers):
        submission = submit(routine_answers)
        failure = ScreeningResult.failure()

        assert (failure.urgency, failure.failed, failure.flags) == ("urgent", True, ())
        record_flags(submission, failure)
        assert not submission.flags.exists()


def test_record_flags_stores_every_flag_with_its_evidence(submit, current_rule_set):
    # A history of cancer and weight loss, with the routine pain between the shoulder blades.
    answers = routine_answers(history_of_cancer=True, unexplained_weight_loss=True)
    submission = submit(answers)

    flags = list(Flag.objects.filter(submission=submission))

    assert [f.rule_code for f in flags] == ["cancer_spinal_pain", "malignancy_cluster",
                                            "cancer_history", "weight_loss"]
    assert Submission.objects.get(pk=submission.pk).urgency == "urgent"
    assert all(f.rule_set == current_rule_set for f in flags)
    assert flags[2].evidence == {"history_of_cancer": True}
    # Only the signs that counted: not the night sweats and worsening pain answered "no".
    assert flags[1].evidence == {"history_of_cancer": True, "unexplained_weight_loss": True}
    [signs] = flags[1].derived
    assert (signs["name"], signs["value"]) == ("malignancy_signs", 2)
    assert flags[1].explanation.startswith("several cancer warning signs together")
    # Cancer with thoracic pain: the pain's place, narrowed to what made it thoracic.
    assert flags[0].evidence == {"pain_location": ["between_shoulder_blades"],
                                 "history_of_cancer": True}
