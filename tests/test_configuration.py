"""The configuration generation (``core.configuration``): a number PostgreSQL adds one to with
every change of what a submission reads about its clinic, read by the pool's check of each
connection it hands out, and given to one read per request.

A submission then reads its clinic only after a change: counted here as production runs, each
request checking out its own connection from the pool (``checked_out``: the test's connection
goes back to the pool first; Django's test client, unlike a server, keeps it between
requests).
"""

import datetime
import re

import psycopg
import pytest
from django.core import signals
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import Clinic, OpeningHours
from core import configuration
from intake.models import Questionnaire, Submission
from screening.activation import activate_rule_set
from screening.models import RuleSet
from screening.services import create_draft_from
from tests.factories import (
    COMMITTED,
    PATIENT,
    ROUTINE,
    URGENT,
    another_connection,
    open_round_the_clock,
    post_submission,
)

pytestmark = pytest.mark.postgres


def raw(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT generation FROM core_configuration")
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.parametrize("change", [
    lambda clinic: OpeningHours.objects.create(clinic=clinic, weekday=6,
                                               opens=datetime.time(10), closes=datetime.time(12)),
    lambda clinic: clinic.opening_hours.all().delete(),
    lambda clinic: Clinic.objects.filter(pk=clinic.pk).update(out_of_hours_number="111"),
    lambda clinic: Clinic.objects.create(name="Kempston", slug="kempston"),
    # Published versions and active rule sets refuse the ORM's changes: as a script would.
    lambda clinic: raw("UPDATE intake_questionnaireversion SET number = number"),
    lambda clinic: Questionnaire.objects.update(slug="renamed"),
    lambda clinic: raw("UPDATE screening_ruleset SET status = status"),
], ids=["hours added", "hours deleted", "clinic updated", "clinic added", "version changed",
        "questionnaire renamed", "rule set changed"])
def test_every_change_a_submission_s_clinic_read_depends_on_makes_a_new_generation(change):
    before = generation()
    change(Clinic.objects.get(is_default=True))
    assert generation() == before + 1


@pytest.mark.django_db
def test_what_a_submission_does_not_depend_on_leaves_the_generation_alone():
    before = generation()
    Submission.objects.update(full_name="x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM clinic_clinic")  # a read
    assert generation() == before


def checked_out() -> None:
    """Return the test's connection to the pool, so that the next query checks one out (and
    the pool checks it), as each request does in production."""
    connection.close()


@COMMITTED
def test_the_pool_s_check_gives_the_generation_to_one_read_of_the_request():
    checked_out()
    signals.request_started.send(sender=None)
    try:
        connection.ensure_connection()
        assert configuration.current() == generation()
        assert configuration.current() is None  # once
    finally:
        signals.request_finished.send(sender=None)
    checked_out()
    connection.ensure_connection()  # outside a request
    assert configuration.current() is None


@COMMITTED
def test_the_check_passes_a_database_without_the_generation_and_keeps_its_transaction_mode():
    """Before ``migrate`` there is no table: the check still passes, with no generation, as
    psycopg_pool's own check passes a working connection."""
    raw = another_connection(options="-c search_path=nothing_here")  # sees no table
    try:
        signals.request_started.send(sender=None)
        assert configuration.current() is not None  # the request's own connection's
        configuration.check_connection(raw)
        assert configuration.current() is None
        assert raw.autocommit is False
        assert raw.execute("SELECT 1").fetchone() == (1,)
    finally:
        signals.request_finished.send(sender=None)
        raw.close()


@COMMITTED
def test_the_check_refuses_a_connection_the_server_has_dropped():
    raw = another_connection(autocommit=True)
    pid = raw.info.backend_pid
    killer = another_connection(autocommit=True)
    try:
        killer.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(psycopg.OperationalError):
            configuration.check_connection(raw)
    finally:
        killer.close()
        raw.close()


def statements_of(client, answers) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        checked_out()  # after the context's own check-out
        response = post_submission(client, {"patient": PATIENT, "answers": answers})
    assert response.status_code == 201, response.content
    return [re.sub(r"^\d+ times: ", "", query["sql"]).split(None, 1)[0].upper()
            for query in queries]


@COMMITTED
def test_a_submission_reads_its_clinic_again_only_after_a_change(client):
    """Each request checks out its connection: the first submission reads the clinic, the
    next ones keep what it read (a routine one is then its INSERT alone), and the first after
    a change of the opening hours reads them again, and advises by them."""
    clinic = Clinic.objects.get(is_default=True)
    open_round_the_clock(clinic)
    statements_of(client, ROUTINE)  # reads (and the version's questions, once per process)
    assert statements_of(client, ROUTINE) == ["INSERT"]
    assert statements_of(client, ROUTINE) == ["INSERT"]

    checked_out()
    told = post_submission(client, {"patient": PATIENT, "answers": {**ROUTINE, **URGENT}}).json()
    assert "phone you today" in told["advice"]

    with transaction.atomic():
        clinic.opening_hours.all().delete()
    assert statements_of(client, ROUTINE) == ["SELECT", "INSERT"]
    checked_out()
    told = post_submission(client, {"patient": PATIENT, "answers": {**ROUTINE, **URGENT}}).json()
    assert f"Call {clinic.out_of_hours_number} now" in told["advice"]

    Clinic.objects.filter(pk=clinic.pk).update(out_of_hours_number="01234 000111")
    checked_out()
    told = post_submission(client, {"patient": PATIENT, "answers": {**ROUTINE, **URGENT}}).json()
    assert "Call 01234 000111 now" in told["advice"]
    assert Submission.objects.count() == 7


@COMMITTED
def test_a_change_committed_by_another_process_is_read_by_the_next_request(client):
    clinic = Clinic.objects.get(is_default=True)
    open_round_the_clock(clinic)
    statements_of(client, ROUTINE)
    assert statements_of(client, ROUTINE) == ["INSERT"]
    admin = another_connection(autocommit=True)
    try:
        admin.execute("DELETE FROM clinic_openinghours WHERE clinic_id = %s", [clinic.pk])
    finally:
        admin.close()
    checked_out()
    told = post_submission(client, {"patient": PATIENT, "answers": {**ROUTINE, **URGENT}}).json()
    assert "no regular opening hours" in told["advice"]


@COMMITTED
def test_what_is_kept_is_not_changed_by_the_submissions_that_use_it(client):
    statements_of(client, ROUTINE)
    ((_, kept),) = [entry for key, entry in _kept().items() if key[0] is None]
    before = dict(vars(kept))
    for answers in (ROUTINE, {**ROUTINE, **URGENT}):
        statements_of(client, answers)
    assert dict(vars(kept)) == before


def _kept():
    from intake.services import submissions

    return submissions._KEPT


@COMMITTED
def test_a_rule_set_activated_is_used_by_the_next_submission(client, admin_user):
    """The clinical case for it: once a new rule set passes its safety cases and goes live, no
    submission is screened by the one it replaced."""
    current = RuleSet.objects.get(status=RuleSet.Status.ACTIVE)
    statements_of(client, ROUTINE)
    assert statements_of(client, ROUTINE) == ["INSERT"]  # kept
    activated = activate_rule_set(create_draft_from(current), by=admin_user,
                                  reason="The same rules again, as a new version.")
    statements_of(client, ROUTINE)
    latest = Submission.objects.latest("pk")
    assert latest.rule_set_id == activated.pk != current.pk
