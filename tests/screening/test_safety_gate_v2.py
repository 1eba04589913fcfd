"""Clinical safety built in (issue 14): safety cases seeded by migrate, run at every activation;
a rule edit that un-catches a case cannot go live; only a clinical safety officer activates, with
a sign-off reason, kept with the results; warnings must be acknowledged; drafts target the
current questionnaire version; the dry run says why it cannot screen an old submission."""

import datetime
import json

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied

from clinic.models import AuditEvent, Clinic
from intake.models import QuestionnaireVersion, Submission
from intake.selectors import current_version
from screening import safety, services
from screening.activation import ActivationRefused, activate_rule_set, check_activation
from screening.models import Rule, RuleSet, SafetyCase, SignOff
from tests.factories import VIGNETTES, vignette

pytestmark = pytest.mark.django_db

REASON = "Reviewed every change against NICE CG95; all safety cases pass."


@pytest.fixture
def rule_set_2() -> RuleSet:
    return RuleSet.objects.get(questionnaire__slug="upper-back-pain", version=2)


@pytest.fixture
def draft(rule_set_2, admin_user) -> RuleSet:
    return services.create_draft_from(rule_set_2, by=admin_user)


@pytest.fixture
def officer(django_user_model):
    """A clinical safety officer: staff with the activation permission and nothing else."""
    user = django_user_model.objects.create_user("officer", password="officer-password-1",
                                                 is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="activate_ruleset"))
    return django_user_model.objects.get(pk=user.pk)


def test_migrate_seeds_the_specifications_cases_and_rule_set_2_passes_them_all(rule_set_2):
    assert SafetyCase.objects.count() == len(VIGNETTES) == 40

    report = safety.safety_report(rule_set_2)

    assert report.counts == {"pass": 40, "lower": 0, "error": 0, "higher": 0, "flags": 0}


def test_a_rule_edit_that_un_catches_a_case_cannot_be_activated(draft, officer):
    # Coughing blood to "soon": the case that is an emergency only through it is missed.
    Rule.objects.filter(rule_set=draft, code="haemoptysis").update(tier="soon")

    with pytest.raises(ActivationRefused) as refused:
        activate_rule_set(draft, by=officer, reason=REASON, acknowledge_warnings=True)

    lower = refused.value.check.safety.of(safety.LOWER)
    assert lower, "a case expecting haemoptysis at emergency should now be lower"
    assert all("haemoptysis" in r.caught_by_active for r in lower)
    assert any("The active rule set catches it with" in m and "haemoptysis" in m
               for m in refused.value.messages)
    draft.refresh_from_db()
    assert draft.status == RuleSet.Status.DRAFT
    assert not SignOff.objects.exists()


def test_a_user_without_the_safety_officer_permission_cannot_activate(draft, staff_admin):
    staff_admin.user_permissions.remove(Permission.objects.get(codename="activate_ruleset"))
    staff_admin = type(staff_admin).objects.get(pk=staff_admin.pk)

    with pytest.raises(PermissionDenied):
        activate_rule_set(draft, by=staff_admin, reason=REASON)

    assert RuleSet.objects.get(pk=draft.pk).status == RuleSet.Status.DRAFT


def test_the_sign_off_is_audited_with_its_results(draft, officer, rule_set_2):
    activated = activate_rule_set(draft, by=officer, reason=REASON)

    assert activated.status == RuleSet.Status.ACTIVE
    assert RuleSet.objects.get(pk=rule_set_2.pk).status == RuleSet.Status.RETIRED
    sign_off = SignOff.objects.get(rule_set=draft)
    assert (sign_off.by, sign_off.reason) == (officer, REASON)
    assert sign_off.results["safety_cases"]["counts"]["pass"] == 40
    assert sign_off.results["safety_cases"]["rule_set_version"] == draft.version
    event = AuditEvent.objects.get(actor=officer)
    assert f"signed off and activated rule set v{draft.version}" in event.detail
    assert "40 safety cases" in event.detail


def test_a_sign_off_needs_a_reason(draft, officer):
    with pytest.raises(ActivationRefused, match="sign-off reason"):
        activate_rule_set(draft, by=officer, reason="   ")


def test_more_urgent_or_other_flags_are_warnings_that_must_be_acknowledged(draft, officer):
    # Pain on breathing in to urgent: more urgent for the case that has it, never less.
    Rule.objects.filter(rule_set=draft, code="pleuritic_pain").update(tier="urgent")
    check = check_activation(draft)
    assert not check.blocked and check.safety.of(safety.HIGHER)

    with pytest.raises(ActivationRefused, match="acknowledge the warnings"):
        activate_rule_set(draft, by=officer, reason=REASON)
    activate_rule_set(draft, by=officer, reason=REASON, acknowledge_warnings=True)

    assert SignOff.objects.get(rule_set=draft).warnings_acknowledged


def test_a_case_that_cannot_be_screened_blocks(draft, officer):
    case = SafetyCase.objects.get(name="v2-01")
    case.answers = vignette("d01")["answers"]  # version 1 answers
    case.save()

    with pytest.raises(ActivationRefused, match="v2-01"):
        activate_rule_set(draft, by=officer, reason=REASON, acknowledge_warnings=True)


def test_new_drafts_target_the_current_questionnaire_version(admin_user):
    rule_set_1 = RuleSet.objects.get(questionnaire__slug="upper-back-pain", version=1)

    new = services.create_draft_from(rule_set_1, by=admin_user)

    assert new.questionnaire_version == current_version()
    assert "cardiac_feature" in services.rule_set_problems(new)  # pain_with_exertion is gone


def test_the_dry_run_explains_why_it_cannot_screen_an_old_submission(draft):
    version_1 = QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain", number=1)
    answers = vignette("d01")["answers"]
    Submission.objects.create(
        reference="OLD1-0000-0001", clinic=Clinic.objects.get(is_default=True),
        questionnaire_version=version_1, full_name="Old Patient", phone="07700 900000",
        date_of_birth=datetime.date(1970, 1, 1), urgency="routine", answers=answers)

    row = services.dry_run(draft).rows[0]

    assert row.change == services.FAILED
    assert row.error.startswith("answered on questionnaire version 1, which has no question ")
    assert "medicines" in row.error and "heart_conditions" in row.error
    assert check_activation(draft).warnings[-1].startswith("The dry run could not screen 1 of")


def test_cases_export_and_import_as_json_all_or_nothing(rule_set_2, admin_user):
    questionnaire_id = rule_set_2.questionnaire_id
    exported = safety.export_cases(questionnaire_id)
    assert len(exported) == 40
    changed = json.loads(json.dumps(exported))
    changed[0]["note"] = "Reviewed by the clinical safety officer."
    new = {**changed[1], "name": "incident-2027-01", "source": "incident report"}

    added, updated = safety.import_cases(questionnaire_id, [changed[0], new], by=admin_user)

    assert (added, updated) == (1, 1)
    assert SafetyCase.objects.get(name=changed[0]["name"]).note.startswith("Reviewed")
    with pytest.raises(safety.CasesInvalid) as invalid:
        safety.import_cases(questionnaire_id, [
            {**new, "name": "bad-1", "expected_urgency": "whenever"},
            {**new, "name": "bad-2", "answers": {"pain_with_exertion": True}},
        ])
    assert any("expected_urgency" in m for m in invalid.value.messages)
    assert any("pain_with_exertion" in m for m in invalid.value.messages)
    assert not SafetyCase.objects.filter(name__startswith="bad-").exists()


def test_the_admin_activation_page_shows_the_report_and_asks_for_a_sign_off(
    admin_client, draft
):
    page = admin_client.get(f"/admin/screening/ruleset/{draft.pk}/activate/")
    assert page.status_code == 200
    assert "40 safety cases screened" in page.content.decode()

    response = admin_client.post(f"/admin/screening/ruleset/{draft.pk}/activate/",
                                 {"reason": REASON})

    assert response.status_code == 302
    assert RuleSet.objects.get(pk=draft.pk).status == RuleSet.Status.ACTIVE


def test_the_admin_activation_page_refuses_a_blocked_rule_set(admin_client, draft):
    Rule.objects.filter(rule_set=draft, code="haemoptysis").update(tier="soon")

    page = admin_client.post(f"/admin/screening/ruleset/{draft.pk}/activate/",
                             {"reason": REASON, "acknowledge_warnings": "on"})

    assert page.status_code == 200
    assert "cannot be activated: these cases would be missed" in page.content.decode()
    assert RuleSet.objects.get(pk=draft.pk).status == RuleSet.Status.DRAFT
