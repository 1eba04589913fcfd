"""The committed tests' flush and restore in SQL on PostgreSQL (tests/database_snapshot.py): a
flush empties every table, and the restore brings back exactly the rows the migrations wrote,
whatever a test did to them."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from intake.models import Choice, Questionnaire, Submission
from screening.models import RuleSet
from tests.factories import COMMITTED, make_case

pytestmark = [pytest.mark.postgres, COMMITTED]


def every_row() -> dict[str, list[tuple]]:
    with connection.cursor() as cursor:
        rows = {}
        for table in sorted(connection.introspection.django_table_names(only_existing=True)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows[table] = sorted(map(repr, cursor.fetchall()))
        return rows


def test_a_flush_empties_every_table_and_the_restore_brings_back_the_migrated_rows_exactly():
    migrated = every_row()
    assert Questionnaire.objects.exists()
    assert RuleSet.objects.filter(status=RuleSet.Status.ACTIVE).exists()

    make_case("emergency")
    with connection.cursor() as cursor:  # past the guard that keeps published versions frozen
        cursor.execute("UPDATE intake_choice SET label = 'changed' WHERE id = %s",
                       [Choice.objects.order_by("pk").values_list("pk", flat=True)[0]])
    assert every_row() != migrated

    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)
    assert not any(every_row().values())

    Group.objects.create(name="made after the flush")
    connection.creation.deserialize_db_from_string(connection._test_serialized_contents)
    assert every_row() == migrated
    assert not Submission.objects.exists()
    assert not Group.objects.filter(name="made after the flush").exists()
