"""What raising an alert adds to a submission in round trips to the database (issue 19):
counted, not timed.

An urgent or emergency intake reads the rota around the moment with each person's notification
rules (one query) and writes its alert and its notifications in the statement that stores the
submission (``core.db.insert_new``), which says which notifications it wrote; an urgent one also
locks the people it pages and reads whether a burst is open for them, in a transaction that holds
the lock until it is stored.  Once stored, the page is queued and marked so.
Counted as production runs, outside any test transaction, after one submission has loaded the
version's questions and compiled the rule set in this process (as ``tests/intake``'s count);
the delivery itself runs in a worker, not counted here.
"""

import datetime
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.alerting import alerts, delivery
from clinic.models import Alert, Clinic, Clinician, DutyShift, Notification
from tests.factories import (
    ANSWERS,
    COMMITTED,
    END_OF_DAY,
    PATIENT,
    ROUTINE,
    URGENT,
    another_connection,
    make_case,
    open_round_the_clock,
    post_submission,
)

pytestmark = COMMITTED

MINUTE = datetime.timedelta(minutes=1)


@pytest.fixture
def warm(client, monkeypatch):
    """The default clinic open round the clock with Dr Duty always on duty; one submission
    first (it loads the version and compiles the rule set in this process).  Queuing a
    delivery is taken by the broker, as in production, instead of running it here."""
    monkeypatch.setattr(delivery.deliver_notification, "delay", lambda notification_id: None)
    clinic = Clinic.objects.get(is_default=True)
    open_round_the_clock(clinic)
    duty = Clinician.objects.create(name="Dr Duty", email="duty@clinic.test")
    DutyShift.objects.bulk_create(
        DutyShift(clinic=clinic, clinician=duty, weekday=day, starts=datetime.time(0),
                  ends=END_OF_DAY) for day in range(7))
    post_submission(client, {"patient": PATIENT, "answers": ROUTINE})
    return duty


def statements_of(client, answers, urgency) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = post_submission(client, {"patient": PATIENT, "answers": answers})
    assert response.status_code == 201, response.content
    assert response.json()["urgency"] == urgency
    # An executemany (SQLite's many-row INSERT) is logged as "N times: INSERT ...".
    return [re.sub(r"^\d+ times: ", "", query["sql"]).split(None, 1)[0].upper()
            for query in queries]


def test_an_emergency_is_stored_with_its_alert_in_one_statement(client, warm):
    statements = statements_of(client, ANSWERS, "emergency")
    if connection.vendor == "postgresql":
        # The clinic, the rota, then the submission, its flags, its alert and its notification
        # in one statement, atomic without a transaction; and after it, the mark that the page
        # was queued.
        assert statements == ["SELECT", "SELECT", "WITH", "UPDATE"], statements
    else:  # no INSERT in a WITH: one per table, in a transaction of their own
        assert statements == ["SELECT", "SELECT", "BEGIN", "INSERT", "INSERT", "INSERT",
                              "INSERT", "COMMIT", "UPDATE"], statements
    notification = Notification.objects.get(alert__urgency="emergency")
    assert (notification.clinician, notification.status) == (warm, "pending")
    assert notification.last_queued_at is not None
    alert = notification.alert
    assert alert.submission.flags.exists()
    assert alert.escalation_plan == [[{"clinician": warm.pk, "name": "Dr Duty"}]]


def test_an_urgent_alert_holds_its_burst_lock_until_it_is_stored(client, warm):
    statements = statements_of(client, {**ROUTINE, **URGENT}, "urgent")
    # As an emergency's, in a transaction that locks the person paged and reads whether a
    # burst is open for them before the one statement that stores it all.
    stored = ["WITH"] if connection.vendor == "postgresql" else ["INSERT"] * 4
    assert statements == ["SELECT", "BEGIN", "SELECT", "SELECT", "SELECT", *stored, "COMMIT",
                          "UPDATE"], statements
    alert = Alert.objects.get(urgency="urgent")
    assert alert.escalation_plan == [[{"clinician": warm.pk, "name": "Dr Duty"}]]
    assert [n.clinician for n in alert.notifications.all()] == [warm]


def test_whether_a_burst_is_open_is_read_for_each_person_of_a_step():
    """``_held_until``'s reads are compiled once per number of people; each person's own latest
    urgent first page in the window counts, nobody else's."""
    now = timezone.now()
    one, two, three = (Clinician.objects.create(name=f"Dr {n}", email=f"{n}@clinic.test")
                       for n in ("One", "Two", "Three"))
    urgent = [make_case("urgent").alert for _ in range(3)]

    def page(alert, who, minutes_ago, **fields):
        Notification.objects.create(alert=alert, clinician=who, level=0,
                                    created_at=now - minutes_ago * MINUTE, **fields)

    page(urgent[0], one, 3)  # One's burst, opened 3 minutes ago
    page(urgent[1], one, 5)
    page(urgent[1], two, 4, status=Notification.Status.FAILED)  # reached nobody
    page(urgent[2], two, 30)  # its window is over
    page(make_case("emergency").alert, three, 1)  # emergencies open no burst
    alert = make_case("urgent").alert
    with transaction.atomic():
        assert alerts._held_until(alert, [three, two, one], now) == {
            one.pk: now - 3 * MINUTE + alerts.group_window()}
        assert alerts._held_until(alert, [two], now) == {}
        assert alerts._held_until(alert, [one], now) == {
            one.pk: now - 3 * MINUTE + alerts.group_window()}


@pytest.mark.postgres
def test_marking_pages_queued_does_not_wait_for_a_worker_that_claimed_one(client, warm):
    """A worker that claimed a page holds its row until the claim commits (after preparing the
    message).  The request that raised the alert marks its pages queued after its own commit;
    it must not wait for that claim, which held the patient's answer.  The claimed page keeps
    no mark (the claim makes it moot); the other gets it."""
    for _ in range(2):
        statements_of(client, ANSWERS, "emergency")
    claimed, other = Notification.objects.order_by("pk")
    Notification.objects.update(last_queued_at=None)
    worker = another_connection()
    try:
        worker.execute("SELECT 1 FROM clinic_notification WHERE id = %s FOR UPDATE",
                       [claimed.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")  # a wait fails the test, not hangs it
        delivery.queue_delivery([claimed.pk, other.pk])
    finally:
        worker.rollback()
        worker.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    claimed.refresh_from_db()
    other.refresh_from_db()
    assert claimed.last_queued_at is None
    assert other.last_queued_at is not None
