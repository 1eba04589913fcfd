"""What a submission costs in round trips to the database (issue 19): counted, not timed.

A routine intake reads what it depends on (the clinic and its opening hours, which questionnaire
version is current, which rule set is active) in one query, screens the answers in memory, and
stores the submission, its answers in it, in one INSERT: two statements (issue 19 asks for five
at most, BEGIN and COMMIT included).  Its flags, when it has any, go in the same statement on
PostgreSQL (a ``WITH`` of two INSERTs, atomic without a transaction); on SQLite, which cannot
write in a ``WITH``, in a transaction of two INSERTs.
Counted as production runs, outside any test transaction, after one submission has loaded the
version's questions and compiled the rule set in this process.
"""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.hours import clinic_with_hours, describe_hours
from clinic.models import Clinic, OpeningHours
from intake.models import Submission
from tests.factories import (
    COMMITTED,
    PATIENT,
    ROUTINE,
    SOON,
    URGENT,
    open_round_the_clock,
    post_submission,
)

pytestmark = COMMITTED


def statements_of(client, answers) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = post_submission(client, {"patient": PATIENT, "answers": answers})
    assert response.status_code == 201, response.content
    # An executemany (SQLite's many-row INSERT) is logged as "N times: INSERT ...".
    return [re.sub(r"^\d+ times: ", "", query["sql"]).split(None, 1)[0].upper()
            for query in queries]


@pytest.fixture
def warm(client):
    """One submission first: it loads the version and compiles the rule set in this process."""
    post_submission(client, {"patient": PATIENT, "answers": ROUTINE})


def test_a_routine_submission_is_two_statements(client, warm):
    statements = statements_of(client, ROUTINE)
    assert statements == ["SELECT", "INSERT"], statements
    assert Submission.objects.filter(urgency="routine").count() == 2


def test_a_soon_submission_stores_its_flags_in_the_same_statement(client, warm):
    statements = statements_of(client, {**ROUTINE, **SOON})
    if connection.vendor == "postgresql":
        assert statements == ["SELECT", "WITH"], statements
    else:
        assert statements == ["SELECT", "BEGIN", "INSERT", "INSERT", "COMMIT"], statements
    stored = Submission.objects.get(urgency="soon")
    assert stored.flags.count() >= 1
    assert all(flag.rule_set_id == stored.rule_set_id for flag in stored.flags.all())


def test_a_change_of_opening_hours_is_read_at_once(client, warm):
    """Nothing is kept between submissions but frozen things: once the clinic is open round the
    clock, the very next urgent intake is told the clinic will phone today; once it has no
    opening hours, the next is sent to the out-of-hours line."""
    clinic = Clinic.objects.get(is_default=True)
    open_round_the_clock(clinic)
    told = post_submission(client, {"patient": PATIENT, "answers": {**ROUTINE, **URGENT}}).json()
    assert told["urgency"] == "urgent"
    assert "phone you today" in told["advice"]

    clinic.opening_hours.all().delete()
    told = post_submission(client, {"patient": PATIENT, "answers": {**ROUTINE, **URGENT}}).json()
    assert f"Call {clinic.out_of_hours_number} now" in told["advice"]
    assert "no regular opening hours" in told["advice"]


def test_the_clinic_and_its_hours_read_in_one_query_match_a_prefetch(django_assert_num_queries):
    clinic = Clinic.objects.get(is_default=True)
    OpeningHours.objects.create(clinic=clinic, weekday=5, opens=datetime.time(10, 30),
                                closes=datetime.time(12, 15))
    with django_assert_num_queries(1):
        loaded = clinic_with_hours(Clinic.objects.filter(pk=clinic.pk))
        hours = [(h.pk, h.weekday, h.opens, h.closes) for h in loaded.opening_hours.all()]
    expected = Clinic.objects.prefetch_related("opening_hours").get(pk=clinic.pk)
    assert hours == [(h.pk, h.weekday, h.opens, h.closes) for h in expected.opening_hours.all()]
    assert describe_hours(loaded) == describe_hours(expected)

    clinic.opening_hours.all().delete()
    with django_assert_num_queries(1):
        assert list(clinic_with_hours(Clinic.objects.filter(pk=clinic.pk))
                    .opening_hours.all()) == []
