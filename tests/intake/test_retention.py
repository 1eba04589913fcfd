"""Retention, subject access export and erasure, with the audit trail kept consistent."""

import datetime
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from clinic.models import Alert, AuditEvent
from intake.models import IdempotencyRecord, Submission
from intake.services import retention
from intake.services.submissions import submit_intake
from screening.models import Flag
from tests.factories import PATIENT, ROUTINE

pytestmark = pytest.mark.django_db

WITH_TEXT = {**ROUTINE, "chest_pain": True, "history_of_cancer": True,
             "cancer_details": "Bowel cancer, 2019", "other_information": "I live with Sam."}


def submit(answers=WITH_TEXT, key=None, **patient):
    return submit_intake(patient={**PATIENT, **patient}, answers=answers,
                         idempotency_key=key).submission


def age(submission, days):
    Submission.objects.filter(pk=submission.pk).update(
        submitted_at=timezone.now() - datetime.timedelta(days=days))


class TestRetention:
    def test_old_submissions_are_anonymised_and_recent_ones_kept(self, settings):
        settings.DATA_RETENTION_DAYS = 365
        old, recent = submit(), submit()
        age(old, 400)
        age(recent, 100)
        assert retention.anonymise_expired() == 1
        old.refresh_from_db()
        recent.refresh_from_db()
        assert (old.full_name, old.date_of_birth, old.phone, old.email) == ("", None, "", "")
        assert old.anonymised_at is not None
        codes = set(old.answers)
        assert "other_information" not in codes and "cancer_details" not in codes
        assert "chest_pain" in codes, "structured answers stay for the clinical record"
        assert old.urgency == "emergency" and old.flags.exists()
        assert recent.full_name == PATIENT["full_name"]
        assert AuditEvent.objects.filter(action="anonymise", reference=old.reference,
                                         actor=None).count() == 1
        assert retention.anonymise_expired() == 0, "running again changes nothing"

    def test_the_scheduled_task_anonymises_and_forgets_old_keys(self, settings):
        from intake.tasks import apply_retention

        settings.DATA_RETENTION_DAYS = 30
        old = submit(key="old-key")
        age(old, 31)
        IdempotencyRecord.objects.update(created_at=timezone.now() - datetime.timedelta(days=3))
        fresh = submit(key="fresh-key")
        apply_retention.apply()
        assert Submission.objects.get(pk=old.pk).anonymised_at is not None
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh-key"]
        assert Submission.objects.get(pk=fresh.pk).anonymised_at is None

    def test_an_anonymised_case_still_opens_for_clinicians(self, settings, clinician):
        settings.DATA_RETENTION_DAYS = 1
        case = submit()
        age(case, 2)
        retention.anonymise_expired()
        client = APIClient()
        client.force_authenticate(clinician)
        body = client.get(f"/api/submissions/{case.reference}/").json()
        assert body["patient"]["full_name"] == ""
        assert body["flags"][0]["code"] == "cardiac_chest_pain"


class TestExport:
    def test_export_by_reference_has_everything_and_is_audited(self, admin_user, capsys):
        case = submit()
        call_command("export_patient", "--reference", case.reference, "--by", admin_user.username)
        data = json.loads(capsys.readouterr().out)
        [exported] = data["submissions"]
        assert exported["reference"] == case.reference
        assert exported["patient"]["full_name"] == PATIENT["full_name"]
        assert {"code": "other_information", "question": exported["answers"][-1]["question"],
                "answer": "I live with Sam."} in exported["answers"]
        assert exported["flags"][0]["code"] == "cardiac_chest_pain"
        assert AuditEvent.objects.filter(action="export", reference=case.reference,
                                         actor=admin_user).exists()

    def test_export_by_name_and_date_of_birth_finds_every_submission(self, admin_user, capsys):
        first, second = submit(), submit(answers=ROUTINE)
        submit(full_name="Someone Else")
        call_command("export_patient", "--name", "ada  example", "--dob",
                     PATIENT["date_of_birth"], "--by", admin_user.username)
        data = json.loads(capsys.readouterr().out)
        assert {s["reference"] for s in data["submissions"]} == {first.reference,
                                                                 second.reference}

    def test_export_needs_an_admin_and_a_patient(self, admin_user, clinician):
        with pytest.raises(CommandError, match="Say whose data"):
            call_command("export_patient", "--by", admin_user.username)
        with pytest.raises(CommandError, match="No admin"):
            call_command("export_patient", "--reference", "X", "--by", clinician.username)
        with pytest.raises(CommandError, match="No submissions match"):
            call_command("export_patient", "--reference", "ZZZZ-ZZZZ-ZZZZ", "--by",
                         admin_user.username)


class TestErasure:
    def test_erasure_removes_the_data_and_keeps_the_audit_trail_consistent(
            self, admin_user, clinician):
        case = submit(key="erase-me")
        client = APIClient()
        client.force_authenticate(clinician)
        client.get(f"/api/submissions/{case.reference}/")
        client.post(f"/api/submissions/{case.reference}/acknowledge/")
        assert Alert.objects.filter(submission=case).exists()

        call_command("erase_patient", "--reference", case.reference, "--by",
                     admin_user.username, "--yes")

        assert not Submission.objects.filter(pk=case.pk).exists()
        for model in (Flag, Alert, IdempotencyRecord):
            assert not model.objects.filter(submission_id=case.pk).exists(), model.__name__
        events = list(AuditEvent.objects.filter(reference=case.reference).order_by("at", "pk")
                      .values_list("action", "actor__username", "submission_id"))
        assert events == [("view_case", "clinician", None), ("acknowledge", "clinician", None),
                          ("erase", "admin", None)]
        assert AuditEvent.objects.count() == 3, "no event lost"

    def test_erasure_asks_to_confirm(self, admin_user, monkeypatch):
        case = submit()
        monkeypatch.setattr("builtins.input", lambda prompt: "no")
        with pytest.raises(CommandError, match="Nothing erased"):
            call_command("erase_patient", "--reference", case.reference, "--by",
                         admin_user.username)
        assert Submission.objects.filter(pk=case.pk).exists()
