"""core.db: the hot path's compiled read and many-row insert do what the ORM would."""

import dataclasses
import datetime

import pytest
from django.db import IntegrityError, connection
from django.db.models import CharField, F, Value
from django.db.models.functions import Concat
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.alerting import alerts
from clinic.models import (
    Alert,
    Clinic,
    Clinician,
    Leave,
    Notification,
    NotificationRule,
    OpeningHours,
)
from core.db import CompiledRead, New, Rows, insert_new, insert_rows
from intake.models import Submission
from intake.references import new_reference
from screening.models import Flag
from screening.services import FLAG_FIELDS
from tests.factories import COMMITTED, another_connection, make_case

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)


def clinic_named(pk):
    return (Clinic.objects.filter(pk=pk)
            .annotate(label=Concat(F("name"), Value(" / "), F("slug"), output_field=CharField()))
            .values_list("name", "is_default", "label"))


def test_a_compiled_read_gives_what_the_queryset_gives_for_any_argument():
    other = Clinic.objects.create(name="Kempston", slug="kempston")
    default = Clinic.objects.get(is_default=True)
    read = CompiledRead(clinic_named)
    for clinic in (default, other, default):
        assert read.first(clinic.pk) == clinic_named(clinic.pk).first()
    assert read.first(other.pk)[1] is False  # converted as the ORM converts (SQLite's 0)
    assert read.first(999_999) is None


def prepared_statements() -> list[tuple[str, int]]:
    """The statements this connection has prepared on the server, with how often each ran."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements")
        return cursor.fetchall()


@pytest.mark.postgres
def test_a_prepared_read_is_planned_once_per_connection_and_reads_the_same():
    other = Clinic.objects.create(name="Kempston", slug="kempston")
    read = CompiledRead(clinic_named, prepared=True)
    for clinic in (other, Clinic.objects.get(is_default=True), other):
        assert read.first(clinic.pk) == clinic_named(clinic.pk).first()
    assert read.first(999_999) is None
    runs = [runs for statement, runs in prepared_statements() if '"label"' in statement]
    # Prepared once for each type psycopg sends the id as (a small number as int2, a large one
    # as int4), and run from there.
    assert sorted(runs) == [1, 3], prepared_statements()


def clinics_named_in(*pks):
    return Clinic.objects.filter(pk__in=pks).order_by("pk").values_list("pk", "name")


def test_a_literal_read_is_compiled_for_each_set_of_arguments_and_reads_the_same():
    other = Clinic.objects.create(name="Kempston", slug="kempston")
    default = Clinic.objects.get(is_default=True)
    read = CompiledRead(clinics_named_in, arguments=(int, int), prepared=True, literal=True)
    for pks in ((default.pk, other.pk), (other.pk, 999_999), (default.pk, other.pk)):
        assert read.rows(*pks) == list(clinics_named_in(*pks))
    assert len(read._compiled) == 2


@pytest.mark.postgres
def test_a_literal_read_is_prepared_with_its_values_written_in():
    other = Clinic.objects.create(name="Kempston", slug="kempston")
    read = CompiledRead(clinics_named_in, arguments=(int,), prepared=True, literal=True)
    for _ in range(3):
        assert read.rows(other.pk) == [(other.pk, "Kempston")]
    [(statement, runs)] = [(statement, runs) for statement, runs in prepared_statements()
                           if 'FROM "clinic_clinic"' in statement and "IN (" in statement]
    assert f"IN ({other.pk})" in statement and "$1" not in statement, statement
    assert runs == 3


@pytest.mark.postgres
@COMMITTED
def test_a_prepared_read_survives_a_migration_that_changes_a_column_it_reads():
    """Another process (a deploy's migration) changes the type of a column the prepared read
    returns; PostgreSQL then refuses the prepared statement on every later run on that
    connection.  The read prepares it afresh instead of failing each submission after."""
    read = CompiledRead(clinic_named, prepared=True)
    default = Clinic.objects.get(is_default=True)
    assert read.first(default.pk)[0] == default.name
    migrating = another_connection(autocommit=True)
    try:
        migrating.execute("ALTER TABLE clinic_clinic ALTER COLUMN name TYPE text")
        assert read.first(default.pk) == clinic_named(default.pk).first()
        assert read.first(default.pk)[0] == default.name
    finally:
        migrating.execute("ALTER TABLE clinic_clinic ALTER COLUMN name TYPE varchar(200)")
        migrating.close()


def test_a_query_whose_shape_depends_on_its_argument_is_refused():
    read = CompiledRead(lambda n: Clinic.objects.filter(pk__in=list(range(n))).values_list("pk"))
    with pytest.raises(ValueError, match="shape depends on its argument"):
        read.first(3)


def test_insert_rows_stores_what_bulk_create_would():
    clinic = Clinic.objects.create(name="Kempston", slug="kempston")
    rows = [(clinic.pk, 5, datetime.time(9, 30), datetime.time(12)),
            (clinic.pk, 6, datetime.time(10), datetime.time(11, 45))]
    insert_rows(OpeningHours, ("clinic", "weekday", "opens", "closes"), rows)
    insert_rows(OpeningHours, ("clinic", "weekday", "opens", "closes"), [])
    stored = list(OpeningHours.objects.filter(clinic=clinic).order_by("weekday")
                  .values_list("clinic_id", "weekday", "opens", "closes"))
    assert stored == rows


def test_insert_rows_splits_what_one_statement_cannot_hold():
    """Four columns: 7,500 rows to a statement (30,000 values, within SQLite's limit)."""
    clinic = Clinic.objects.create(name="Kempston", slug="kempston")
    rows = [(clinic.pk, n % 7, datetime.time(9), datetime.time(10 + n % 8)) for n in range(7_503)]
    written = insert_rows(OpeningHours, ("clinic", "weekday", "opens", "closes"), rows,
                          returning=("id",))
    assert len({pk for (pk,) in written}) == 7_503
    assert OpeningHours.objects.filter(clinic=clinic, closes=datetime.time(17)).count() == 937


def leave_touching(clinician_pk, first_day, last_day):
    return (Leave.objects.filter(clinician=clinician_pk, first_day__lte=last_day,
                                 last_day__gte=first_day)
            .order_by("first_day").values_list("first_day", "last_day"))


def test_a_compiled_read_takes_dates_and_gives_every_row():
    who = Clinician.objects.create(name="Dr Away", email="away@clinic.test")
    june = [datetime.date(2025, 6, day) for day in range(1, 31)]
    Leave.objects.bulk_create([Leave(clinician=who, first_day=june[1], last_day=june[3]),
                               Leave(clinician=who, first_day=june[9], last_day=june[9])])
    read = CompiledRead(leave_touching, arguments=(int, datetime.date, datetime.date))
    for first_day, last_day in [(june[0], june[29]), (june[2], june[8]), (june[4], june[8])]:
        assert read.rows(who.pk, first_day, last_day) == list(
            leave_touching(who.pk, first_day, last_day))
    assert read.first(who.pk, june[9], june[9]) == (june[9], june[9])


def test_a_query_using_a_value_computed_from_its_argument_is_refused():
    read = CompiledRead(lambda day: Leave.objects.filter(first_day__lte=day - DAY)
                        .values_list("pk"), arguments=(datetime.date,))
    with pytest.raises(ValueError, match="computed from an argument"):
        read.rows(datetime.date(2025, 6, 1))


def test_insert_rows_skips_conflicts_and_says_which_rows_it_wrote():
    who = Clinician.objects.create(name="Dr Rule", email="rule@clinic.test")
    fields = ("clinician", "urgency", "channel", "delay_minutes", "position")
    first = insert_rows(NotificationRule, fields, [(who.pk, "urgent", "email", 0, 0)],
                        ignore_conflicts=True, returning=("id", "channel"))
    # The email rule is there already (one per channel): only the text message is new.
    written = insert_rows(NotificationRule, fields, [(who.pk, "urgent", "email", 5, 1),
                                                     (who.pk, "urgent", "sms", 10, 2)],
                          ignore_conflicts=True, returning=("id", "delay_minutes"))
    rules = {rule.channel: rule for rule in NotificationRule.objects.filter(clinician=who)}
    assert first == [(rules["email"].pk, "email")]
    assert written == [(rules["sms"].pk, 10)]
    assert (rules["email"].delay_minutes, rules["email"].position) == (0, 0)


def stored(submission: Submission) -> dict:
    """What the database holds of ``submission``, but for what makes each row its own."""
    row = Submission.objects.values().get(pk=submission.pk)
    return {name: value for name, value in row.items() if name not in ("id", "reference")}


def copy_of(case: Submission) -> Submission:
    return Submission(
        reference=new_reference(), clinic=case.clinic, appointment=None,
        questionnaire_version=case.questionnaire_version, full_name=case.full_name,
        date_of_birth=case.date_of_birth, phone=case.phone, email="a@example.org",
        submitted_at=case.submitted_at, answers=case.answers, urgency=case.urgency,
        rule_set_id=case.rule_set_id, language="cy", changed_at=case.changed_at)


@pytest.mark.parametrize("urgency", ["routine", "emergency"])
def test_insert_new_stores_what_save_would(urgency):
    case = make_case(urgency)
    saved, inserted = copy_of(case), copy_of(case)
    saved.save(force_insert=True)
    insert_new(inserted)
    assert stored(inserted) == stored(saved)
    assert stored(inserted)["language"] == "cy"
    # What the database gave back, as save sets it: the id, and the queue's priority, which the
    # database works out from the urgency.
    assert inserted.pk > saved.pk
    assert inserted.priority == saved.priority == Submission.objects.get(pk=case.pk).priority
    assert (inserted._state.adding, inserted._state.db) == (False, "default")


def flag_rows(case: Submission) -> list[tuple]:
    return list(case.flags.order_by("position").values_list(*FLAG_FIELDS))


@pytest.mark.parametrize("urgency", ["soon", "emergency"])
def test_insert_new_stores_children_with_the_row_as_two_inserts_would(urgency):
    case = make_case(urgency)
    rows = flag_rows(case)
    assert rows, "the case has flags"
    saved, inserted = copy_of(case), copy_of(case)
    saved.save(force_insert=True)
    insert_rows(Flag, ("submission", *FLAG_FIELDS), [(saved.pk, *row) for row in rows])
    with CaptureQueriesContext(connection) as queries:
        insert_new(inserted, Rows(Flag, "submission", FLAG_FIELDS, rows))
    statements = [query["sql"].split(None, 1)[0] for query in queries]
    if connection.vendor == "postgresql":
        assert statements == ["WITH"], statements  # one statement, no transaction of its own
    else:  # no INSERT in a WITH: two, in the test's transaction (no savepoint)
        assert statements == ["INSERT", "INSERT"], statements
    assert stored(inserted) == stored(saved)
    assert flag_rows(inserted) == flag_rows(saved) == rows
    assert inserted.pk > saved.pk
    assert inserted.priority == saved.priority  # given back by the database, as save does


def test_insert_new_without_children_rows_is_one_insert():
    case = make_case("routine")
    inserted = copy_of(case)
    with CaptureQueriesContext(connection) as queries:
        insert_new(inserted, Rows(Flag, "submission", FLAG_FIELDS, []))
    assert [query["sql"].split(None, 1)[0] for query in queries] == ["INSERT"]
    assert not inserted.flags.exists()


@COMMITTED
def test_insert_new_with_children_stores_all_or_nothing_outside_a_transaction():
    """Outside any transaction (as a routine submission is stored): a child row the database
    refuses leaves no parent row behind, on PostgreSQL (one statement) and SQLite (its own
    transaction)."""
    case = make_case("soon")
    rows = flag_rows(case)
    broken = [(*rows[0][:5], None, *rows[0][6:])]  # no explanation: NOT NULL
    before = Submission.objects.count()
    with pytest.raises(IntegrityError):
        insert_new(copy_of(case), Rows(Flag, "submission", FLAG_FIELDS, rows + broken))
    assert Submission.objects.count() == before
    assert connection.get_autocommit()
    stored_case = copy_of(case)
    insert_new(stored_case, Rows(Flag, "submission", FLAG_FIELDS, rows))
    assert flag_rows(stored_case) == rows


@pytest.mark.postgres
def test_insert_new_with_children_is_prepared_once_per_number_of_rows():
    case = make_case("routine")
    (row, *_) = flag_rows(make_case("emergency"))
    two = [row, (row[0], f"{row[1]}_again", *row[2:-1], row[-1] + 1)]

    def runs() -> dict[str, int]:
        return {statement: runs for statement, runs in prepared_statements()
                if statement.startswith('WITH new0 AS (INSERT INTO "intake_submission"')}

    before = runs()
    for rows in ([row], two, [row], two, [row]):
        insert_new(copy_of(case), Rows(Flag, "submission", FLAG_FIELDS, rows))
    after = runs()
    # One statement for one flag, one for two (each new, or made already by the cases).
    assert sorted(after[statement] - before.get(statement, 0) for statement in after
                  if after[statement] != before.get(statement, 0)) == [2, 3], (before, after)


def planned_alert(submission: Submission, clinicians, now) -> tuple[Alert, Rows]:
    """An emergency alert for ``submission`` (stored or not) paging ``clinicians``, and its
    notifications as rows for ``insert_new``, as ``clinic.alerting.alerts`` makes them."""
    alert = Alert(submission=submission, clinic=submission.clinic, urgency="emergency",
                  created_at=now, escalate_at=now + datetime.timedelta(minutes=5),
                  escalation_plan=[[{"clinician": c.pk, "name": c.name} for c in clinicians]])
    rows = alerts._notification_rows(alert, level=0, steps=[clinicians], now=now)
    return alert, Rows(Notification, "alert", alerts._NOTIFICATION_COLUMNS[1:], rows,
                       returning=("id", "clinician", "step"))


def alert_values(alert: Alert) -> dict:
    values = Alert.objects.filter(pk=alert.pk).values().get()
    return {name: value for name, value in values.items() if name not in ("id", "submission_id")}


def notification_rows(alert: Alert) -> list[tuple]:
    return list(alert.notifications.order_by("clinician", "step")
                .values_list(*alerts._NOTIFICATION_COLUMNS[1:]))


def test_insert_new_stores_a_child_instance_and_its_rows_with_the_row():
    """A submission, its flags, its alert and the alert's notifications: one statement on
    PostgreSQL, each child referring to the row its parent's INSERT wrote; the same rows as
    saving them one by one would store."""
    case = make_case("emergency")
    rows = flag_rows(case)
    now = timezone.now()
    clinicians = [Clinician.objects.create(name=f"Dr {n}", email=f"{n}@clinic.test")
                  for n in ("One", "Two")]
    saved = copy_of(case)
    saved.save(force_insert=True)
    saved_alert, saved_notifications = planned_alert(saved, clinicians, now)
    saved_alert.save(force_insert=True)
    saved_notifications.insert_for(saved_alert.pk)

    inserted = copy_of(case)
    alert, notifications = planned_alert(inserted, clinicians, now)
    with CaptureQueriesContext(connection) as queries:
        insert_new(inserted, Rows(Flag, "submission", FLAG_FIELDS, rows),
                   New(alert, "submission", (notifications,)))
    statements = [query["sql"].split(None, 1)[0] for query in queries]
    if connection.vendor == "postgresql":
        assert statements == ["WITH"], statements
    else:  # one INSERT per table, in the test's transaction
        assert statements == ["INSERT"] * 4, statements
    assert stored(inserted) == stored(saved)
    assert flag_rows(inserted) == rows
    assert alert.pk > saved_alert.pk
    assert (alert.submission_id, alert.submission) == (inserted.pk, inserted)
    assert (alert._state.adding, alert._state.db) == (False, "default")
    assert alert_values(alert) == alert_values(saved_alert)
    assert notification_rows(alert) == notification_rows(saved_alert)
    assert len(notification_rows(alert)) == 2
    # What the notifications' INSERT returned: each row written, with its id.
    assert sorted(notifications.written) == sorted(
        alert.notifications.values_list("id", "clinician", "step"))
    assert sorted(saved_notifications.written) == sorted(
        saved_alert.notifications.values_list("id", "clinician", "step"))


def test_insert_new_leaves_out_a_child_instance_s_rows_when_there_are_none():
    case = make_case("routine")
    inserted = copy_of(case)
    alert, _ = planned_alert(inserted, [], timezone.now())
    nobody = Rows(Notification, "alert", alerts._NOTIFICATION_COLUMNS[1:], [],
                  returning=("id",))
    insert_new(inserted, New(alert, "submission", (nobody,)))
    assert Alert.objects.get(submission=inserted).pk == alert.pk
    assert not alert.notifications.exists()
    assert nobody.written == []


@COMMITTED
def test_insert_new_with_a_child_instance_stores_all_or_nothing_outside_a_transaction():
    """A grandchild row the database refuses (a notification without a channel) leaves
    neither the submission nor its alert behind."""
    case = make_case("emergency")
    clinician = Clinician.objects.create(name="Dr One", email="one@clinic.test")
    inserted = copy_of(case)
    alert, notifications = planned_alert(inserted, [clinician], timezone.now())
    (row,) = notifications.rows
    channel = alerts._NOTIFICATION_COLUMNS[1:].index("channel")
    broken = dataclasses.replace(notifications,
                                 rows=[row, (*row[:channel], None, *row[channel + 1:])])
    submissions, alerts_before = Submission.objects.count(), Alert.objects.count()
    with pytest.raises(IntegrityError):
        insert_new(inserted, New(alert, "submission", (broken,)))
    assert (Submission.objects.count(), Alert.objects.count()) == (submissions, alerts_before)
    assert connection.get_autocommit()


def test_a_child_instance_must_refer_to_its_parent_by_its_primary_key():
    case = make_case("routine")
    with pytest.raises(ValueError, match=r"Alert\.clinic\"? must"):
        insert_new(copy_of(case), New(planned_alert(case, [], timezone.now())[0], "clinic"))


def test_insert_new_leaves_to_save_a_model_whose_saving_someone_listens_for():
    heard = []

    def listener(sender, instance, created, **kwargs):
        heard.append((instance.name, created))

    post_save.connect(listener, sender=Clinic)
    try:
        clinic = Clinic(name="Kempston", slug="kempston")
        insert_new(clinic)
    finally:
        post_save.disconnect(listener, sender=Clinic)
    assert heard == [("Kempston", True)]
    assert Clinic.objects.get(pk=clinic.pk).slug == "kempston"


@pytest.mark.postgres
def test_insert_new_prepares_its_insert_once_per_connection():
    case = make_case("routine")
    for _ in range(3):
        insert_new(copy_of(case))
    runs = [runs for statement, runs in prepared_statements()
            if statement.startswith('INSERT INTO "intake_submission"')]
    assert runs == [4], prepared_statements()  # the case's own, then its three copies
