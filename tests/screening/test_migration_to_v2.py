"""Upgrading a database that holds version 1 submissions to version 2 (the data migrations
``intake.0008`` and ``screening.0004``): the v1 records still read, export and show exactly as
before, and the install ends in the state a fresh one has.

The test takes the database back to before version 2 (schema and data: version 2's rows
removed, rule set 1 active again, as on an install that never had them), with a version 1
submission screened by rule set 1 in it, then migrates forward as an upgrade does.
"""

import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from clinic.models import Clinic
from intake.models import QuestionnaireVersion, Submission
from intake.selectors import current_version
from intake.services.retention import export_patient
from screening import services
from screening.models import RuleSet
from tests.factories import vignette

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE_V2 = [("intake", "0007_choice_values_may_start_with_a_digit"),
             ("screening", "0002_default_rule_set")]


def store_version_1_submission() -> Submission:
    """A v1 intake (fever with numbness in the legs) screened by rule set 1, as submitted
    before version 2 existed."""
    version_1 = QuestionnaireVersion.objects.get(questionnaire__slug="upper-back-pain", number=1)
    rule_set_1 = RuleSet.objects.get(questionnaire__slug="upper-back-pain", version=1)
    answers = vignette("d15")["answers"]
    result = services.screen(answers, services.compile_rule_set(rule_set_1, version_1))
    submission = Submission.objects.create(
        reference="V1AB-CDEF-0001", clinic=Clinic.objects.get(is_default=True),
        questionnaire_version=version_1, full_name="Old Record", phone="07700 900111",
        date_of_birth=datetime.date(1961, 4, 2), urgency=result.urgency, rule_set=rule_set_1,
        answers=answers,
    )
    services.record_flags(submission, result)
    return submission


def how_it_reads(clinician_client, admin_user) -> dict:
    submission = Submission.objects.get(reference="V1AB-CDEF-0001")
    api = APIClient()
    api.force_authenticate(admin_user)
    page = clinician_client.get("/cases/V1AB-CDEF-0001/")
    assert page.status_code == 200
    shown = page.content.decode()
    return {
        "page shows every question as asked": all(
            answer.question_text.replace("'", "&#x27;") in shown
            for answer in submission.answered),
        "export": export_patient([submission], by=admin_user)["submissions"],
        "api": api.get("/api/submissions/V1AB-CDEF-0001/").json(),
        "fhir": api.get("/api/fhir/QuestionnaireResponse/V1AB-CDEF-0001",
                        HTTP_ACCEPT="application/json").json(),
        "flags": list(submission.flags.values("rule_code", "tier", "category", "explanation",
                                              "evidence", "rule_set__version")),
    }


def roll_back_to_version_1() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_V2)
    apps = executor.loader.project_state(BEFORE_V2).apps
    # The data migrations' reverses do nothing, so remove what they made, as on an install
    # that never had version 2.
    RuleSetHistorical = apps.get_model("screening", "RuleSet")
    RuleSetHistorical.objects.filter(version__gte=2).delete()
    RuleSetHistorical.objects.filter(version=1).update(status="active", retired_at=None)
    apps.get_model("intake", "QuestionnaireVersion").objects.filter(number__gte=2).delete()


def migrate_forward() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_version_1_records_read_export_and_show_exactly_as_before(clinician_client, admin_user):
    store_version_1_submission()
    before = how_it_reads(clinician_client, admin_user)
    assert before["api"]["questionnaire_version"] == 1
    assert [f["code"] for f in before["api"]["flags"]] == [
        "infection_with_neuro_signs", "fever", "neuro_numbness"]

    roll_back_to_version_1()
    migrate_forward()
    services.clear_compiled_cache()

    assert how_it_reads(clinician_client, admin_user) == before
    # And the install is now where a fresh one starts: version 2 current, rule set 2 active
    # for it, rule set 1 retired but still able to reproduce the old result.
    version = current_version()
    assert version.number == 2 and version.based_on.number == 1
    active = RuleSet.objects.get(status=RuleSet.Status.ACTIVE)
    assert (active.version, active.questionnaire_version_id) == (2, version.pk)
    assert active.rules.count() == 63 and active.derived_values.count() == 24
    assert RuleSet.objects.get(version=1).status == RuleSet.Status.RETIRED
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
