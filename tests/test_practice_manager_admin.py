"""The admin a practice manager uses (issue 18): their role, what they see and may change, the
question editor's generated codes, the rule builder's vocabulary, the rota's times and time
zones, the dashboard, and the audit trail's before and after."""

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from clinic.admin import time_zone_choices
from clinic.models import Alert, AuditEvent, Clinic, Clinician, DutyCover, DutyShift
from core.roles import PRACTICE_MANAGERS_GROUP
from intake.models import Choice
from intake.services.questionnaires import code_from_text
from intake.services.submissions import submit_intake
from screening import services
from screening.models import Rule, RuleSet
from tests.factories import EMERGENCY, PATIENT, routine_answers

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft_rules(practice_manager):
    active = RuleSet.objects.get(status=RuleSet.Status.ACTIVE)
    return services.create_draft_from(active, by=practice_manager)


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


# --- The role --------------------------------------------------------------------------------


def test_the_practice_managers_group_is_made_by_a_migration_without_security_tables():
    group = Group.objects.get(name=PRACTICE_MANAGERS_GROUP)
    apps = set(group.permissions.values_list("content_type__app_label", flat=True))
    assert apps == {"clinic", "intake", "screening"}
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"change_question", "add_choice", "add_rule", "add_dutycover", "view_auditevent",
            "view_alert"} <= codenames
    # Signing off a rule set stays the clinical safety officer's.
    assert "activate_ruleset" not in codenames
    assert "change_auditevent" not in codenames


def test_the_home_shows_a_practice_managers_tables_and_none_for_developers(
    practice_manager_client
):
    html = practice_manager_client.get(url("index")).content.decode()
    for table in ("Clinics", "Questionnaire versions", "Rule sets", "Audit events",
                  "Appointments", "Needs attention"):
        assert table in html, table
    for hidden in ("Auth Token", "Axes", "Access attempts", "TOTP", "Users", "Groups"):
        assert hidden not in html, hidden


@pytest.mark.parametrize("page", ["knox_authtoken_changelist", "axes_accessattempt_changelist",
                                  "otp_totp_totpdevice_changelist", "auth_user_changelist",
                                  "auth_group_changelist"])
def test_developer_and_security_tables_are_for_superusers_only(
    practice_manager, practice_manager_client, admin_client, page
):
    # Even with the table's own permissions a staff user who is not a superuser is refused.
    practice_manager.user_permissions.set(Permission.objects.exclude(
        content_type__app_label__in=["clinic", "intake", "screening"]))
    assert practice_manager_client.get(url(page)).status_code == 403
    assert admin_client.get(url(page)).status_code == 200


def test_the_dashboard_lists_what_needs_attention(practice_manager_client, draft):
    submit_intake(patient=PATIENT, answers=routine_answers(**EMERGENCY))
    assert Alert.objects.filter(acknowledged_at__isnull=True).exists()
    html = practice_manager_client.get(url("index")).content.decode()
    assert "1 alert not acknowledged" in html
    assert f"Questionnaire draft waiting to be published: {draft}" in html
    # The default clinic has opening hours and nobody on its rota.
    assert "when the clinic is open and nobody is on duty" in html


# --- Nothing published can change ------------------------------------------------------------


def test_a_practice_manager_cannot_change_a_published_version_or_its_codes(
    practice_manager_client, current
):
    question = current.questions.get(code="pain_onset")
    response = practice_manager_client.post(url("intake_question_change", question.pk), {
        "section": question.section_id, "code": "renamed", "text": "Changed", "type": "boolean",
    })
    assert response.status_code in (302, 403)
    question.refresh_from_db()
    assert (question.code, question.text) != ("renamed", "Changed")
    assert question.code == "pain_onset"
    html = practice_manager_client.get(url("intake_questionnaireversion_change",
                                           current.pk)).content.decode()
    assert 'name="questions-0-code"' not in html
    assert practice_manager_client.post(url("intake_questionnaireversion_delete", current.pk),
                                        {"post": "yes"}).status_code == 403


# --- Codes and values made from the text ----------------------------------------------------


def test_code_from_text_is_slugified_unique_and_cut_at_a_word():
    assert code_from_text("Where is your pain?", taken=set()) == "where_is_your_pain"
    assert code_from_text("Where is your pain?", taken={"where_is_your_pain"}) == \
        "where_is_your_pain_2"
    assert code_from_text("3 or more", taken=set()) == "q_3_or_more"
    assert code_from_text("3 or more", taken=set(), may_start_with_digit=True) == "3_or_more"
    assert code_from_text("Çà ?!", taken=set()) == "ca"
    assert code_from_text("?!", taken=set(), fallback="choice") == "choice"
    long = code_from_text("Do you have any pain in your shoulders when you lift your arms "
                          "above your head", taken=set())
    assert len(long) <= 40 and not long.endswith("_")


def test_a_question_added_without_a_code_gets_one_from_its_text(practice_manager_client, draft):
    section = draft.sections.order_by("position").first()
    response = practice_manager_client.post(url("intake_question_add"), {
        "section": section.pk, "code": "", "text": "Do you sleep well?", "type": "boolean",
        "choices-TOTAL_FORMS": "0", "choices-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.context and response.context["errors"]
    assert draft.questions.filter(code="do_you_sleep_well").exists()


def test_a_choice_added_without_a_value_gets_one_from_its_label(practice_manager_client, draft):
    question = draft.questions.get(code="pain_location")
    page = practice_manager_client.get(url("intake_question_change", question.pk))
    formset = page.context["inline_admin_formsets"][0].formset
    data = {field.html_name: field.value() for field in page.context["adminform"].form
            if field.value() not in (None, False)}
    data["required"] = "on" if question.required else ""
    data.update({f"choices-{key}": value for key, value in {
        "TOTAL_FORMS": formset.total_form_count() + 1,
        "INITIAL_FORMS": formset.initial_form_count()}.items()})
    for index, form in enumerate(formset.forms):
        data.update({f"choices-{index}-{name}": "" if form[name].value() is None
                     else form[name].value() for name in ("id", "label", "value", "position")})
        data[f"choices-{index}-question"] = question.pk
    new = formset.total_form_count()
    data.update({f"choices-{new}-label": "Lower back (the small of the back)",
                 f"choices-{new}-value": "", f"choices-{new}-question": question.pk})
    response = practice_manager_client.post(url("intake_question_change", question.pk), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert Choice.objects.filter(question=question, value="lower_back_the_small_of_the_back",
                                 label="Lower back (the small of the back)").exists()


# --- Rules -----------------------------------------------------------------------------------


def test_the_rule_builder_offers_questions_age_and_derived_values(draft_rules):
    vocabulary = {item["name"]: item for item in services.rule_vocabulary(draft_rules)}
    assert vocabulary["chest_pain"]["kind"] == "yes_no"
    assert vocabulary["age"]["kind"] == "number"
    assert vocabulary["marburg_heart_score"]["kind"] == "number"
    location = vocabulary["pain_location"]
    assert location["kind"] == "choices"
    assert ["neck", "Neck"] in [[v, label.split(" ")[0]] for v, label in location["choices"]]


def test_a_rule_added_on_its_own_page_is_checked_like_a_typed_one(
    practice_manager_client, draft_rules
):
    data = {"rule_set": draft_rules.pk, "code": "builder_rule", "title": "Built",
            "category": "red_flag", "tier": "urgent", "enabled": "on", "position": 99,
            "condition": "'no_such_choice' in pain_location", "explanation": "Because."}
    response = practice_manager_client.post(url("screening_rule_add"), data)
    assert response.status_code == 200
    assert "no_such_choice" in response.content.decode()
    data["condition"] = "chest_pain and age >= 50"
    response = practice_manager_client.post(url("screening_rule_add"), data)
    assert response.status_code == 302
    assert Rule.objects.get(rule_set=draft_rules, code="builder_rule").condition == \
        "chest_pain and age >= 50"


def test_the_rule_pages_carry_the_builders_vocabulary(practice_manager_client, draft_rules):
    html = practice_manager_client.get(
        url("screening_rule_add") + f"?rule_set={draft_rules.pk}").content.decode()
    assert 'id="rule-vocabulary"' in html and "rule-builder.js" in html
    html = practice_manager_client.get(url("screening_ruleset_change", draft_rules.pk)
                                       ).content.decode()
    assert "Add a rule" in html


# --- Rota ------------------------------------------------------------------------------------


def test_times_show_as_hours_and_minutes_and_time_zones_are_a_short_list(
    practice_manager_client
):
    clinic = Clinic.objects.get(is_default=True)
    DutyShift.objects.create(clinic=clinic, clinician=Clinician.objects.create(
        name="Dr Duty", email="duty@example.org"), weekday=0, starts=datetime.time(9),
        ends=datetime.time(17, 30))
    html = practice_manager_client.get(url("clinic_clinic_change", clinic.pk)).content.decode()
    assert 'value="09:00"' in html and 'value="17:30"' in html
    assert "09:00:00" not in html
    field = practice_manager_client.get(url("clinic_clinic_change", clinic.pk)).context[
        "adminform"].form.fields["timezone"]
    assert field.choices[0] == ("United Kingdom", [("Europe/London", "London (Europe/London)")])
    assert sum(len(zones) for _, zones in field.choices) < 80
    assert time_zone_choices("Australia/Perth")[0][0] == "Australia"
    assert time_zone_choices("Asia/Tokyo")[0] == ("This clinic", [("Asia/Tokyo", "Asia/Tokyo")])


def test_cover_for_one_date_from_the_calendar_goes_back_to_that_week(practice_manager_client):
    clinic = Clinic.objects.get(is_default=True)
    covering = Clinician.objects.create(name="Dr Cover", email="cover@example.org")
    html = practice_manager_client.get(url("clinic_clinic_rota", clinic.pk)
                                       + "?week=2026-12-07").content.decode()
    assert f"clinic={clinic.pk}&amp;first_day=2026-12-09&amp;last_day=2026-12-09" in html
    response = practice_manager_client.post(url("clinic_dutycover_add"), {
        "clinic": clinic.pk, "first_day": "2026-12-09", "last_day": "2026-12-09",
        "starts": "", "ends": "", "clinician": covering.pk, "instead_of": "", "note": "",
    })
    assert response.status_code == 302
    assert response.url.endswith("?week=2026-12-09")
    assert DutyCover.objects.filter(clinician=covering, first_day="2026-12-09").exists()


# --- Audit -----------------------------------------------------------------------------------


def test_a_reworded_question_is_audited_with_before_and_after(practice_manager_client, draft):
    question = draft.questions.get(code="chest_pain")
    before = question.text
    page = practice_manager_client.get(url("intake_question_change", question.pk))
    form = page.context["adminform"].form
    data = {field.html_name: field.value() for field in form
            if field.value() not in (None, False)}
    data["required"] = "on" if question.required else ""
    data["text"] = "Do you have chest pain or tightness?"
    data.update({"choices-TOTAL_FORMS": "0", "choices-INITIAL_FORMS": "0"})
    response = practice_manager_client.post(url("intake_question_change", question.pk), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    event = AuditEvent.objects.filter(action="admin_change").first()
    assert event.changes == [{"what": "", "field": "Question", "before": before,
                              "after": "Do you have chest pain or tightness?"}]
    assert event.object_url == url("intake_question_change", question.pk)
    assert f"{before} → Do you have chest pain or tightness?" in event.detail
    html = practice_manager_client.get(url("clinic_auditevent_change", event.pk)
                                       ).content.decode()
    assert 'class="audit-before"' in html and before in html
    assert f'href="{event.object_url}"' in html


def test_a_practice_manager_can_read_but_not_change_the_audit_trail(practice_manager_client):
    event = AuditEvent.objects.create(action="view_case", reference="X")
    assert practice_manager_client.get(url("clinic_auditevent_changelist")).status_code == 200
    assert practice_manager_client.post(url("clinic_auditevent_change", event.pk),
                                        {"detail": "x"}).status_code == 403


def test_a_signed_out_visitor_is_sent_to_sign_in():
    assert Client().get(url("index")).status_code == 302


def test_a_rule_written_as_an_expression_comes_to_the_builder_read_back(
    practice_manager_client, draft_rules
):
    built = draft_rules.rules.get(code="cardiac_unstable_pattern")
    html = practice_manager_client.get(url("screening_rule_change", built.pk)).content.decode()
    assert 'id="rule-builder-grammar"' in html
    assert 'data-built="{&quot;match&quot;: &quot;all&quot;, &quot;groups&quot;' in html
    unreadable = draft_rules.rules.get(code="cardiac_feature")
    html = practice_manager_client.get(url("screening_rule_change", unreadable.pk)
                                       ).content.decode()
    assert 'data-unreadable="it has “not” before a group of conditions"' in html
    assert "data-built" not in html
    # On the rule set's page, every rule's field says one or the other.
    html = practice_manager_client.get(url("screening_ruleset_change", draft_rules.pk)
                                       ).content.decode()
    assert (html.count("data-built="), html.count("data-unreadable=")) == (57, 6)
