"""Serialized rollback in SQL, for the tests that commit (``COMMITTED``) on PostgreSQL.

A test that commits (the live server, the Celery worker and the browser must see its rows) gets
an emptied database afterwards and, before the next such test, the rows the migrations wrote
(the published questionnaires, the active rule set, the clinic): Django flushes with one
``TRUNCATE`` of every table (about 2 s for this schema's 68 tables) and then saves the migrated
rows back one model instance at a time from their JSON (about 1 s).  Three seconds a test, for
some 190 tests, was a quarter of the suite's time.

``install`` keeps a copy of every table that holds rows, right after the test database is
migrated, in a schema of its own (``test_snapshot``, outside the search path, so Django never
sees it), and then, on that one connection to the test database:

- flushing deletes every table's rows, in one transaction (the foreign keys Django makes on
  PostgreSQL are checked at commit), instead of truncating them;
- restoring the migrated rows (``deserialize_db_from_string``) empties the tables the same way
  and copies the kept rows back in, in one transaction, whatever was there before.

Sequences are left alone, as Django leaves them. SQLite keeps Django's own way (its flush
already deletes).
"""

from __future__ import annotations

import types

SCHEMA = "test_snapshot"


def install(connection) -> list[str]:
    """Keep the migrated rows of ``connection``'s database and make its flush and restore use
    them; returns the tables kept.  PostgreSQL only."""
    assert connection.vendor == "postgresql", connection.vendor
    names = connection.introspection.django_table_names
    # Every name in these statements is a table Django made, quoted.
    quote, snapshot = connection.ops.quote_name, connection.ops.quote_name(SCHEMA)

    def delete_all(tables) -> list[str]:
        return [f"DELETE FROM {quote(table)}" for table in tables]  # noqa: S608

    kept = []
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {snapshot} CASCADE")
        cursor.execute(f"CREATE SCHEMA {snapshot}")
        for table in sorted(names(only_existing=True, include_views=False)):
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(table)})")  # noqa: S608
            if cursor.fetchone()[0]:
                copy = f"CREATE TABLE {snapshot}.{quote(table)} AS SELECT * FROM"
                cursor.execute(f"{copy} {quote(table)}")
                kept.append(table)

    def flush(ops, style, tables, *, reset_sequences=False, allow_cascade=False):
        return delete_all(tables)

    def restore(creation, data):
        connection.ops.execute_sql_flush(
            delete_all(names(only_existing=True, include_views=False))
            + [f"INSERT INTO {quote(table)} SELECT * FROM {snapshot}.{quote(table)}"  # noqa: S608
               for table in kept])

    connection.ops.sql_flush = types.MethodType(flush, connection.ops)
    connection.creation.deserialize_db_from_string = types.MethodType(restore,
                                                                      connection.creation)
    return kept
