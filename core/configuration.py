"""Whether a clinic's configuration changed since this process last read it: the configuration
generation, read in the round trip the connection pool makes anyway.

A submission depends on its clinic, the clinic's opening hours, which questionnaire version is
current and which rule set is active.  Reading them took a query on every submission; kept in
the process, they would be stale after an admin's change unless every process learnt of it at
once.  So PostgreSQL keeps one number, ``core_configuration.generation``, and a trigger on each
table such a read depends on adds one to it in the transaction that changes the table (any
change, by the admin, a migration or a script: ``watch``).  A change and the new number commit
together, so whoever sees the new number sees the change.

The connection pool checks a connection before handing it out; ``check_connection`` is that
check (in place of psycopg_pool's empty query, in the same round trip), and reads the number.
In a request, where each request checks a connection out for itself, ``current()`` gives it
to the one read that asks first: that read may use what was kept under the same number
instead of reading again, and what it reads is kept under it.  A read that comes later in the
same request, or outside a request, or on a database without the number (SQLite, a pool
without the check), gets None and reads from the database.  So a request sees the
configuration as of the moment it checked out its connection, as if it had read it then.
"""

import threading

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections

FUNCTION = "core_configuration_changed"
TRIGGER = "configuration_changed"

_seen = threading.local()


def check_connection(conn: psycopg.Connection) -> None:
    """The pool's check of a connection before handing it out (psycopg_pool's
    ``check_connection``, with a query that reads the generation instead of an empty one):
    raises if the connection does not work, and notes the generation for ``current()`` when a
    request is checking it out.  A database without the table yet (before ``migrate``) passes
    the check without one."""
    generation = None
    autocommit = conn.autocommit
    if not autocommit:
        conn.autocommit = True
    try:
        try:
            row = conn.execute("SELECT generation FROM core_configuration").fetchone()
        except psycopg.errors.UndefinedTable:
            row = None
        generation = row[0] if row else None
    finally:
        if not autocommit:
            conn.autocommit = False
    if getattr(_seen, "in_request", False):
        _seen.generation = generation


def current() -> int | None:
    """The generation this request's connection was checked out with (checking one out if the
    request has none yet), once: the first caller gets it, later ones (and any outside a
    request, or without the number) None."""
    connections[DEFAULT_DB_ALIAS].ensure_connection()
    generation = getattr(_seen, "generation", None)
    _seen.generation = None
    return generation


def request_started(**kwargs) -> None:
    _seen.in_request, _seen.generation = True, None


def request_finished(**kwargs) -> None:
    _seen.in_request, _seen.generation = False, None


def install_sql() -> list[str]:
    """The table with its one row, and the trigger function that adds one to it."""
    return [
        "CREATE TABLE core_configuration (id smallint PRIMARY KEY CHECK (id = 1), "
        "generation bigint NOT NULL)",
        "INSERT INTO core_configuration (id, generation) VALUES (1, 1)",
        "CREATE FUNCTION core_configuration_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN UPDATE core_configuration SET generation = generation + 1; RETURN NULL; END $$",
    ]


def watch(table: str) -> str:
    """The trigger that counts every change of ``table`` (rows written, deleted or truncated)
    as a new generation, once per statement."""
    return (f'CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
            f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()")


def unwatch(table: str) -> str:
    return f'DROP TRIGGER IF EXISTS {TRIGGER} ON "{table}"'


def uninstall_sql() -> list[str]:
    return [f"DROP FUNCTION IF EXISTS {FUNCTION}()", "DROP TABLE IF EXISTS core_configuration"]
