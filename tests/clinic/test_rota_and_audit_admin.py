"""The admin for the rota, alerts and the audit trail, and the audit of admin changes."""

import datetime

import pytest
from django.contrib import admin
from django.urls import reverse

from clinic.models import Alert, AuditEvent, Clinic, Clinician
from intake.services.submissions import submit_intake
from tests.factories import EMERGENCY, PATIENT, routine_answers

pytestmark = pytest.mark.django_db

CLINIC_MODELS = [m for m in admin.site._registry if m._meta.app_label == "clinic"]


@pytest.fixture
def records(admin_user):
    clinic = Clinic.objects.get(is_default=True)
    clinician = Clinician.objects.create(name="Dr Duty", email="duty@example.org")
    clinician.shifts.create(clinic=clinic, weekday=0)
    clinic.duty_contacts.create(clinician=clinician, role="out_of_hours")
    clinic.covers.create(clinician=Clinician.objects.create(
        name="Dr Cover", email="cover@example.org"), instead_of=clinician,
        first_day=datetime.date(2025, 6, 2))
    clinician.leave.create(first_day=datetime.date(2025, 6, 9),
                           last_day=datetime.date(2025, 6, 13))
    submit_intake(patient=PATIENT, answers=routine_answers(**EMERGENCY))
    AuditEvent.objects.create(actor=admin_user, action="view_case", reference="X")
    return {Clinic: clinic, Clinician: clinician, Alert: Alert.objects.get(),
            AuditEvent: AuditEvent.objects.first()}


def admin_url(model, page, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}", args=args)


@pytest.mark.parametrize("model", CLINIC_MODELS, ids=lambda m: m._meta.label)
def test_every_clinic_admin_page_renders(admin_client, records, model):
    obj = records.get(model) or model.objects.first()
    assert admin_client.get(admin_url(model, "changelist")).status_code == 200
    assert admin_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    can_add = admin.site._registry[model].has_add_permission(
        type("R", (), {"user": records[AuditEvent].actor})())
    assert admin_client.get(admin_url(model, "add")).status_code == (200 if can_add else 403)


def test_the_alert_page_shows_deliveries_and_cannot_be_edited(admin_client, records):
    alert = records[Alert]
    page = admin_client.get(admin_url(Alert, "change", alert.pk)).content.decode()
    assert alert.submission.reference in page
    assert "Dr Duty" in page
    assert 'name="level"' not in page, "nothing on the page is editable"
    response = admin_client.post(admin_url(Alert, "change", alert.pk), {"level": 9})
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.level == 0


def test_audit_events_cannot_be_edited_or_deleted_in_the_admin(admin_client, records):
    event = records[AuditEvent]
    assert admin_client.post(admin_url(AuditEvent, "change", event.pk),
                             {"detail": "x"}).status_code == 403
    assert admin_client.post(admin_url(AuditEvent, "delete", event.pk),
                             {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, detail="").exists()


def test_audit_events_can_be_filtered(admin_client, records):
    response = admin_client.get(admin_url(AuditEvent, "changelist") + "?action=view_case")
    assert response.status_code == 200
    assert "Viewed a case" in response.content.decode()


def test_admin_changes_to_the_rota_are_audited(admin_client, admin_user, records):
    clinician = records[Clinician]
    response = admin_client.post(admin_url(Clinician, "change", clinician.pk), {
        "name": "Dr Duty", "email": "new-duty@example.org", "webhook_url": "",
        "is_active": "on", "clinics": [records[Clinic].pk],
        "leave-TOTAL_FORMS": "0", "leave-INITIAL_FORMS": "0",
        "notification_rules-TOTAL_FORMS": "0", "notification_rules-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.filter(action="admin_change").latest("at")
    assert event.actor == admin_user
    assert "Dr Duty" in event.detail and "Email" in event.detail


def test_publishing_a_questionnaire_and_activating_rules_are_audited(admin_client, admin_user):
    from intake.models import QuestionnaireVersion
    from intake.services.questionnaires import create_draft_from
    from screening.models import RuleSet
    from screening.services import create_draft_from as new_rule_set_draft

    draft = create_draft_from(QuestionnaireVersion.objects.get(number=2))
    admin_client.post(reverse("admin:intake_questionnaireversion_publish", args=[draft.pk]))
    rules = new_rule_set_draft(RuleSet.objects.get(status="active"), by=admin_user)
    admin_client.post(reverse("admin:screening_ruleset_activate", args=[rules.pk]),
                      {"reason": "Same rules, checked against version 3."})
    details = list(AuditEvent.objects.filter(action="admin_change").values_list(
        "detail", flat=True))
    assert any(d.startswith("published") for d in details), details
    assert any("activated" in d for d in details), details
