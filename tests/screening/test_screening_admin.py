"""The rule set admin: drafts are edited with conditions checked on the field, active sets are
read-only, and the dry run, activation, new-draft and rule-history pages work for admins."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from screening.models import Rule, RuleSet
from screening.services import create_draft_from

pytestmark = pytest.mark.django_db


def url(name, rule_set=None):
    return reverse(f"admin:screening_ruleset_{name}", args=[rule_set.pk] if rule_set else [])


def form_data(response) -> dict:
    """The POST data the admin page would send back unchanged."""
    data = {}

    def add(form, name):
        value = form[name].value()
        if value is True:
            data[form.add_prefix(name)] = "on"
        elif value is not None and value is not False:
            data[form.add_prefix(name)] = value

    form = response.context["adminform"].form
    for name in form.fields:
        add(form, name)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            data[f"{formset.prefix}-{name}"] = formset.management_form[name].value()
        for inline_form in formset.forms:
            for name in inline_form.fields:
                add(inline_form, name)
    return data


def rules_formset(response):
    """The rules' formset on a rule set page (beside the derived values' and the terms')."""
    return next(inline.formset for inline in response.context["inline_admin_formsets"]
                if inline.formset.prefix == "rules")


def _errors(response):
    context = response.context
    if context is None:  # not the page again: say what came back instead
        return response.status_code, response.content[:500]
    return (context["adminform"].form.errors,
            [f.errors for f in rules_formset(response).forms if f.errors],
            rules_formset(response).non_form_errors())


def rule_index(response, code) -> int:
    forms = rules_formset(response).forms
    return next(i for i, f in enumerate(forms) if f.instance.code == code)


@pytest.fixture
def draft(current_rule_set):
    return create_draft_from(current_rule_set)


class TestEditingADraft:
    def test_an_invalid_condition_is_refused_with_the_message_on_the_field(
        self, admin_client, draft
    ):
        page = admin_client.get(url("change", draft))
        data = form_data(page)
        index = rule_index(page, "cardiac_jaw")
        data[f"rules-{index}-condition"] = "'jaww' in pain_radiates_to"

        response = admin_client.post(url("change", draft), data)

        assert response.status_code == 200
        errors = rules_formset(response).forms[index].errors
        assert errors["condition"] == [
            "“jaww” is not a choice of “pain_radiates_to”; it offers none, neck, jaw, "
            "left_arm, right_arm, chest, legs."
        ]
        assert draft.rules.get(code="cardiac_jaw").condition == "'jaw' in pain_radiates_to"

    def test_a_valid_edit_is_saved_and_the_history_says_who(self, admin_client, admin_user,
                                                             draft):
        page = admin_client.get(url("change", draft))
        data = form_data(page)
        data[f"rules-{rule_index(page, 'fever')}-tier"] = "emergency"

        response = admin_client.post(url("change", draft), data)

        assert response.status_code == 302, _errors(response)
        rule = draft.rules.get(code="fever")
        assert rule.tier == "emergency"
        assert rule.history.first().history_user == admin_user
        history = admin_client.get(url("rule_history", draft))
        assert history.status_code == 200
        latest = history.context["changes"][0]
        assert (latest["record"].code, latest["changed"]) == ("fever", ["tier"])
        assert admin_user.username in history.content.decode()

    def test_a_new_rule_set_gets_the_next_number_and_its_rules_are_checked(
        self, admin_client, current_version, current_rule_set
    ):
        data = {
            "questionnaire_version": current_version.pk,
            "notes": "Trial",
            "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0",
            "rules-MIN_NUM_FORMS": "0", "rules-MAX_NUM_FORMS": "1000",
            "rules-0-code": "fever", "rules-0-category": "red_flag", "rules-0-tier": "urgent",
            "rules-0-enabled": "on", "rules-0-position": "0",
            "rules-0-condition": "fever_chils", "rules-0-explanation": "fever",
        }
        for prefix in ("derived_values", "free_text_terms"):  # none of those
            data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0",
                         f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"})

        refused = admin_client.post(url("add"), data)

        assert refused.status_code == 200
        errors = rules_formset(refused).forms[0].errors
        assert "Unknown question code “fever_chils”" in errors["condition"][0]
        # Only the two rule sets migrate made (version 1, retired, and version 2).
        assert RuleSet.objects.count() == 2

        data["rules-0-condition"] = "fever_chills"
        assert admin_client.post(url("add"), data).status_code == 302
        created = RuleSet.objects.get(version=3)
        assert (created.status, created.questionnaire_id) == ("draft",
                                                              current_version.questionnaire_id)
        assert [r.code for r in created.rules.all()] == ["fever"]


class TestAnActiveRuleSetIsReadOnly:
    def test_the_page_shows_it_but_it_cannot_be_saved(self, admin_client, current_rule_set):
        page = admin_client.get(url("change", current_rule_set))

        assert page.status_code == 200
        assert not page.context["has_change_permission"]
        assert "cardiac_chest_pain" in page.content.decode()
        assert admin_client.post(url("change", current_rule_set), {}).status_code == 403
        assert admin_client.post(url("delete", current_rule_set), {"post": "yes"}
                                 ).status_code == 403

    def test_history_cannot_be_reverted(self, admin_client, current_rule_set):
        record = current_rule_set.history.first()
        revert = reverse("admin:screening_ruleset_simple_history",
                         args=[current_rule_set.pk, record.history_id])

        assert admin_client.post(revert, {}).status_code == 403


class TestActivation:
    def test_an_admin_activates_a_draft_after_confirming(self, staff_admin_client, staff_admin,
                                                         draft, current_rule_set):
        confirm = staff_admin_client.get(url("activate", draft))
        assert confirm.status_code == 200
        assert "Rule set v2 (active) will be retired" in confirm.content.decode()

        response = staff_admin_client.post(url("activate", draft),
                                           {"reason": "Same rules as version 2."})

        assert response.status_code == 302
        draft.refresh_from_db()
        current_rule_set.refresh_from_db()
        assert (draft.status, current_rule_set.status) == ("active", "retired")
        assert draft.history.first().history_user == staff_admin

    def test_problems_are_shown_and_nothing_is_activated(self, admin_client, draft):
        Rule.objects.filter(rule_set=draft, code="fever").update(condition="fever_chils")

        page = admin_client.get(url("activate", draft))
        admin_client.post(url("activate", draft))

        assert "Unknown question code “fever_chils”" in page.content.decode()
        draft.refresh_from_db()
        assert draft.status == "draft"

    def test_activating_needs_its_own_permission(self, django_user_model, draft):
        editor = django_user_model.objects.create_user("editor", is_staff=True)
        editor.user_permissions.set(Permission.objects.filter(
            content_type__app_label="screening"
        ).exclude(codename="activate_ruleset"))
        client = Client()
        client.force_login(editor)

        assert client.get(url("change", draft)).status_code == 200
        assert client.post(url("activate", draft)).status_code == 403
        draft.refresh_from_db()
        assert draft.status == "draft"


class TestDryRunPage:
    def test_it_shows_the_changes_without_patient_details(self, admin_client, current_rule_set,
                                                          submit, routine_answers):
        submission = submit({**routine_answers, "jaundice": True})
        draft = create_draft_from(current_rule_set)
        Rule.objects.filter(rule_set=draft, code="jaundice").update(tier="emergency")

        page = admin_client.get(url("dry_run", draft), {"limit": 10})

        assert page.status_code == 200
        report = page.context["report"]
        assert report.counts["up"] == 1
        content = page.content.decode()
        assert submission.reference in content
        assert "more urgent" in content
        assert submission.full_name not in content

    def test_the_form_comes_first_with_100_as_default(self, admin_client, draft):
        page = admin_client.get(url("dry_run", draft))

        assert page.context["report"] is None
        assert page.context["form"]["limit"].value() == 100

    def test_the_action_leads_to_the_page(self, admin_client, draft):
        response = admin_client.post(url("changelist"), {
            "action": "dry_run_action", "_selected_action": [draft.pk],
        })

        assert response.status_code == 302
        assert response["Location"] == url("dry_run", draft)


def test_a_new_draft_from_the_active_set(admin_client, current_rule_set):
    response = admin_client.post(url("new_draft", current_rule_set))

    draft = RuleSet.objects.get(version=3)
    assert response["Location"] == url("change", draft)
    assert draft.rules.count() == current_rule_set.rules.count()


def test_clinicians_cannot_reach_the_rules(clinician_client, current_rule_set):
    for name in ("change", "dry_run", "activate", "rule_history"):
        assert clinician_client.get(url(name, current_rule_set)).status_code == 302
