"""Database functions Django lacks on every backend the project runs on (PostgreSQL, SQLite)."""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, router, transaction
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.db.models import Aggregate, JSONField, Model, signals
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


class JSONList(Aggregate):
    """The values of an expression as one JSON array: ``jsonb_agg`` on PostgreSQL,
    ``json_group_array`` on SQLite.  With ``JSONObject`` it reads a row's children in the same
    query as the row (e.g. a clinic's opening hours beside the clinic), one round trip instead
    of two."""

    function = "JSONB_AGG"
    output_field = JSONField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="JSON_GROUP_ARRAY", **extra_context)


class CompiledRead:
    """A read on the hot path whose SQL Django builds and compiles once per process and
    database, instead of on every call: for one query a request makes, building and compiling
    a queryset with a few subqueries costs several times what PostgreSQL takes to run it.

    ``make(*arguments)`` returns the queryset as ``values_list``, for arguments of the types
    ``arguments`` names (``int``, e.g. a primary key or 0 for "none", ``str``, compared as it
    is, ``datetime.date``, or an aware ``datetime.datetime``).
    It is compiled for two different values of each argument in turn, and the positions where
    the parameters differ are where that argument goes, as the backend takes it; so a queryset
    whose shape depended on an argument, or that used a value computed from one (``day - 1``),
    would be caught (``ValueError``) instead of run wrongly.  ``first(*arguments)`` returns the
    first row, or None; ``rows(*arguments)`` every row.

    ``prepared=True`` also spares PostgreSQL from planning it on every call: each pooled
    connection prepares it on first use (``prepared_cursor``).  Only for a read whose best plan
    does not depend on its arguments (one clinic by its id, say): a prepared statement may come
    to run a generic plan, which for the review queue took a hundred times longer.

    ``literal=True`` (with ``prepared``) is for a read whose best plan does depend on its
    arguments: it is compiled for each set of arguments it is given (a few hundred at most are
    kept), with every value written into the statement, so that the plan PostgreSQL makes once
    per connection is the plan for those very values.  For arguments with few values, e.g. the
    clinics a clinician works at.
    """

    LITERAL_KEPT = 256

    def __init__(self, make, *, arguments: tuple[type, ...] = (int,), prepared: bool = False,
                 literal: bool = False):
        self.make = make
        self.arguments = arguments
        self.prepared = prepared
        self.literal = literal
        self._compiled: dict[tuple, tuple[str, list | None, dict[int, int], tuple]] = {}

    def first(self, *arguments, key: tuple = ()):
        """The first row for ``arguments``; ``key`` names anything else ``make`` depends on
        (e.g. a setting), so that a change of it compiles afresh."""
        found = self._read(arguments, key, all_rows=False)
        return found[0] if found else None

    def rows(self, *arguments, key: tuple = ()) -> list[tuple]:
        """Every row for ``arguments`` (``key`` as for ``first``)."""
        return self._read(arguments, key, all_rows=True)

    def _read(self, arguments: tuple, key: tuple, *, all_rows: bool) -> list[tuple]:
        connection = connections[DEFAULT_DB_ALIAS]
        cache_key = (connection.vendor, *key, arguments if self.literal else None)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            if self.literal and len(self._compiled) >= self.LITERAL_KEPT:
                self._compiled.clear()
            compiled = self._compiled[cache_key] = (
                self._compile_literal(connection, arguments) if self.literal
                else self._compile(connection))
        sql, params, slots, converters = compiled
        if params is not None:
            params = list(params)
            for position, index in slots.items():
                params[position] = _as_parameter(arguments[index], connection)
        with prepared_cursor(connection) if self.prepared else connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall() if all_rows else cursor.fetchmany(1)
        return [tuple(convert(value) if convert else value
                      for value, convert in zip(row, converters, strict=True))
                for row in found]

    def _compile_literal(self, connection, arguments: tuple):
        """The statement for these ``arguments``: on PostgreSQL with every value written in by
        psycopg's own quoting (``compose_sql``), and no parameters; elsewhere as Django wrote
        it, with its parameters."""
        queryset = self.make(*arguments)
        sql, params = queryset.query.sql_with_params()
        if connection.vendor == "postgresql":
            sql, params = connection.ops.compose_sql(sql, params), None
        return sql, params, {}, self._converters(queryset)

    def _compile(self, connection):
        base = [_sample(kind, index) for index, kind in enumerate(self.arguments)]
        one = self.make(*base)
        sql, params = one.query.sql_with_params()
        slots: dict[int, int] = {}
        for index, kind in enumerate(self.arguments):
            other = [*base[:index], _sample(kind, index, other=True), *base[index + 1:]]
            sql_two, params_two = self.make(*other).query.sql_with_params()
            if sql != sql_two or len(params) != len(params_two):
                raise ValueError("the query's shape depends on its argument: it cannot be "
                                 "compiled once")
            for position, (a, b) in enumerate(zip(params, params_two, strict=True)):
                if a != b:
                    slots[position] = index
        for position, index in slots.items():
            if params[position] != _as_parameter(base[index], connection):
                raise ValueError("the query uses a value computed from an argument, not the "
                                 "argument itself: it cannot be compiled once")
        return sql, params, slots, self._converters(one)

    @staticmethod
    def _converters(queryset) -> tuple:
        """What Django does to each column of a row it reads (a JSON text into a list, a
        datetime string into a datetime on SQLite), as one function per column, or None."""
        connection = connections[DEFAULT_DB_ALIAS]
        compiler = queryset.query.get_compiler(connection=connection)
        compiler.setup_query()
        return _column_converters(
            compiler, [column for column, _sql, _alias in compiler.select], connection)


def _column_converters(compiler, expressions, connection) -> tuple:
    """``compiler``'s converters for ``expressions``, one function per column, or None."""
    found = compiler.get_converters(expressions)
    return tuple(_chain(*found[index], connection) if index in found else None
                 for index in range(len(expressions)))


class _PreparingCursor(psycopg.Cursor):
    """psycopg's cursor that binds parameters on the server and has it prepare every statement
    on first use (Django's own bind them on the client, which cannot be prepared)."""

    def execute(self, query, params=None, **options):
        try:
            return super().execute(query, params, prepare=True, **options)
        except psycopg.errors.FeatureNotSupported:
            # "cached plan must not change result type": a column the statement returns
            # changed type (another process's migration) since this connection prepared it,
            # and every later run here would fail alike.  Forget the connection's prepared
            # statements (psycopg forgets its names with them) and run it again, prepared
            # afresh.  Inside a transaction the failure has spoilt it: the caller's
            # transaction fails, once, and its rollback makes psycopg forget them all.
            if self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                raise
            super().execute("DEALLOCATE ALL")
            return super().execute(query, params, prepare=True, **options)


def prepared_cursor(connection):
    """A cursor of ``connection`` for statements run on the hot path.  On PostgreSQL each is
    prepared by the server on first use, and then run by name without being parsed or planned
    again, for as long as the pooled connection lives; elsewhere it is the ordinary cursor.
    Logged and counted as Django's own cursors are.  psycopg prepares nothing while
    ``prepare_threshold`` is None (the operator's switch, ``DATABASE_PREPARED_STATEMENTS``,
    for a pooler that cannot keep them): then this is a cursor that binds on the server."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    with connection.wrap_database_errors:
        cursor = _PreparingCursor(connection.connection)
    return (_LoggedPreparedCursor(cursor, connection) if connection.queries_logged
            else connection.make_cursor(cursor))


class _LoggedPreparedCursor(CursorDebugWrapper):
    """Logs what it runs as Django's debug cursor does (``connection.queries``, a test's
    ``CaptureQueriesContext``): with its values in place, since psycopg keeps no text of a
    statement it runs by name."""

    def execute(self, sql, params=None):
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)


def _sample(kind: type, index: int, *, other: bool = False):
    """A value of ``kind`` to compile with as argument ``index``, or the other one: distinct
    from every other argument's, since Django drops a repeated value from ``IN (...)``."""
    step = 2 * index + other
    if kind is int:
        return 1 + step
    if kind is str:
        return f"compiled-read-sample-{step}"
    if kind is datetime.date:
        return datetime.date(2001, 2, 3) + datetime.timedelta(days=step)
    if kind is datetime.datetime:
        return (datetime.datetime(2001, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
                + datetime.timedelta(days=step))
    raise TypeError(f"a compiled read takes int, str, date or datetime arguments, not {kind}")


def _as_parameter(value, connection):
    """An argument as Django hands it to the backend: a date or an (aware) datetime as
    ``DateField`` and ``DateTimeField`` prepare them (a string on SQLite), a number as it
    is."""
    if isinstance(value, datetime.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, datetime.date):
        return connection.ops.adapt_datefield_value(value)
    return value


def _chain(steps, expression, connection):
    def convert(value):
        for step in steps:
            value = step(value, expression, connection)
        return value
    return convert


def insert_rows(model, fields: Sequence[str], rows: Iterable[Sequence], *,
                ignore_conflicts: bool = False, returning: Sequence[str] = ()) -> list[tuple]:
    """Insert ``rows`` (the values of ``fields``, in that order; a foreign key by its id) into
    ``model``'s table in one statement (``INSERT ... VALUES (...), (...)``, prepared on
    PostgreSQL as ``prepared_cursor`` does, one statement for each number of rows), without a
    model instance per row or an ORM query to compile: for a submission's flags and an alert's
    notifications, a handful of rows each.  Values are prepared by each field as the ORM
    prepares them.  No signals.  (``bulk_create``'s ``unnest`` of one array per column cost
    psycopg more to send than a row of values: 0.21-0.27 ms of CPU against 0.10 for two flags.)

    ``ignore_conflicts`` skips a row that would break a unique constraint, as ``bulk_create``'s
    does on each backend.  ``returning`` names integer columns (ids) to give back for each row
    inserted, in no particular order (a skipped row gives nothing): what ``bulk_create`` cannot
    do when it ignores conflicts, so the caller learns what was new without reading it back."""
    connection = connections[router.db_for_write(model)]
    key = (model, tuple(fields), ignore_conflicts, tuple(returning), connection.alias)
    compiled = _ROW_INSERTS.get(key)
    if compiled is None:
        compiled = _ROW_INSERTS[key] = _compile_row_insert(model, fields, ignore_conflicts,
                                                           returning, connection)
    columns, statement, row, suffix = compiled
    prepared = [[field.get_db_prep_save(value, connection)
                 for field, value in zip(columns, values, strict=True)] for values in rows]
    written = []
    # A statement holds at most 30,000 values, within what SQLite and PostgreSQL take.
    batch = max(1, 30_000 // len(columns))
    with prepared_cursor(connection) as cursor:
        for start in range(0, len(prepared), batch):
            part = prepared[start:start + batch]
            cursor.execute(f"{statement}{', '.join([row] * len(part))}{suffix}",
                           [value for values in part for value in values])
            if returning:
                written += cursor.fetchall()
    return written


_ROW_INSERTS: dict[tuple, tuple[list, str, str, str]] = {}


def _compile_row_insert(model, fields, ignore_conflicts, returning, connection):
    """``insert_rows``'s statement for these arguments, built once: its columns, the text up
    to ``VALUES``, one row's placeholders, and what follows the rows.  Names come from the
    model's own metadata; every value is a parameter."""
    columns = [model._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    statement = (f"{connection.ops.insert_statement(on_conflict=on_conflict)} "
                 f"{quote(model._meta.db_table)} "
                 f"({', '.join(quote(field.column) for field in columns)}) VALUES ")
    suffix = connection.ops.on_conflict_suffix_sql(columns, on_conflict, None, None)
    if returning:
        suffix += " RETURNING " + ", ".join(quote(model._meta.get_field(name).column)
                                            for name in returning)
    return columns, statement, f"({', '.join(['%s'] * len(columns))})", f" {suffix}"


_INSERTS: dict[tuple, tuple[str, list, tuple, tuple]] = {}


@dataclass(frozen=True)
class Rows:
    """Rows of ``model`` that belong to a new instance, for ``insert_new`` to store with it:
    the values of ``fields`` in that order (a foreign key by its id), the foreign key
    ``parent`` to the new instance left out of them."""

    model: type[Model]
    parent: str
    fields: tuple[str, ...]
    rows: Sequence[Sequence]

    def insert_for(self, parent_pk) -> None:
        """Insert the rows (``insert_rows``) for an instance stored already."""
        if self.rows:
            insert_rows(self.model, (self.parent, *self.fields),
                        [(parent_pk, *row) for row in self.rows])


def insert_new(instance, children: Rows | None = None) -> None:
    """Store a new ``instance`` as ``instance.save(force_insert=True)`` does, with the INSERT
    written once per process and model and, on PostgreSQL, prepared (``prepared_cursor``);
    with ``children``, their rows too, all or nothing.

    On PostgreSQL the instance and its children go in one statement (an INSERT of each in a
    ``WITH``): atomic on its own, so a caller with nothing else to write needs no transaction,
    and one round trip where a transaction took four (BEGIN, two INSERTs, COMMIT).  Elsewhere,
    two statements in a transaction (the caller's, if there is one).

    For a model without a parent model or a ``save`` of its own, whose save signals nobody
    receives: anything else (or a value that is an SQL expression, or a primary key already
    set) is saved by ``save``, and its children by ``insert_rows``.  For a submission's row
    (twenty-odd columns) ``save`` took 0.33-0.41 ms of CPU, building and compiling the INSERT
    each time, and this 0.16-0.21 ms."""
    model = type(instance)
    meta = model._meta
    alias = router.db_for_write(model, instance=instance)
    connection = connections[alias]
    values = None
    if not (meta.parents or model.save is not Model.save or instance._is_pk_set()
            or signals.pre_save.has_listeners(model)
            or signals.post_save.has_listeners(model)):
        compiled = _INSERTS.get((model, alias))
        if compiled is None:
            compiled = _INSERTS[(model, alias)] = _compile_insert(model, connection)
        sql, fields, returning, converters = compiled
        instance._prepare_related_fields_for_save(operation_name="save")
        values = []
        for field in fields:
            value = field.pre_save(instance, True)
            if hasattr(value, "resolve_expression"):
                values = None
                break
            values.append(field.get_db_prep_save(value, connection))
    rows = children.rows if children else ()
    if values is None and not rows:
        instance.save(force_insert=True)
        return
    if values is None or (rows and connection.vendor != "postgresql"):
        with transaction.atomic(using=alias, savepoint=False):
            if values is None:
                instance.save(force_insert=True)
            else:
                _insert(instance, sql, values, returning, converters, connection)
            children.insert_for(instance.pk)
        return
    if rows:
        columns, sql = _compile_with_children(model, sql, children, connection)
        values += [field.get_db_prep_save(value, connection)
                   for row in rows for field, value in zip(columns, row, strict=True)]
    _insert(instance, sql, values, returning, converters, connection)


def _insert(instance, sql, values, returning, converters, connection) -> None:
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    for field, value, convert in zip(returning, row, converters, strict=True):
        setattr(instance, field.attname, convert(value) if convert else value)
    instance._state.adding = False
    instance._state.db = connection.alias


_CHILD_INSERTS: dict[tuple, tuple[list, str]] = {}


def _compile_with_children(model, sql, children: Rows, connection) -> tuple[list, str]:
    """``insert_new``'s statement for the instance (its INSERT is ``sql``) with ``children``:
    the INSERT of their rows, each referring to the row the first INSERT returns, in the same
    ``WITH``; and their columns.  Built once per number of rows; names come from the models'
    own metadata, every value is a parameter."""
    key = (model, children.model, children.parent, children.fields, len(children.rows),
           connection.alias)
    compiled = _CHILD_INSERTS.get(key)
    if compiled is None:
        meta = children.model._meta
        quote = connection.ops.quote_name
        parent = meta.get_field(children.parent)
        if parent.related_model is not model or parent.target_field is not model._meta.pk:
            raise ValueError(f"{meta.label}.{children.parent} must refer to "
                             f"{model._meta.label} by its primary key")
        columns = [meta.get_field(name) for name in children.fields]
        referred = quote(parent.target_field.column)
        placeholders = ", ".join(["%s"] * len(columns))
        row = f"((SELECT {referred} FROM parent), {placeholders})"  # noqa: S608 (a name)
        names = ", ".join(quote(field.column) for field in (parent, *columns))
        compiled = _CHILD_INSERTS[key] = columns, (
            f"WITH parent AS ({sql}), children AS ("  # noqa: S608 (names, not values)
            f"INSERT INTO {quote(meta.db_table)} ({names}) "
            f"VALUES {', '.join([row] * len(children.rows))}) SELECT * FROM parent")
    return compiled


def _compile_insert(model, connection):
    meta = model._meta
    fields = [field for field in meta.local_concrete_fields
              if not field.generated and field is not meta.auto_field]
    returning = meta.db_returning_fields
    if any(hasattr(field, "get_placeholder") for field in fields) or not (
            connection.features.can_return_columns_from_insert):
        raise ValueError(f"insert_new cannot write {meta.label} on {connection.vendor}")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    returning_sql, _ = connection.ops.return_insert_columns(returning)
    sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 (names, not values)
           f"VALUES ({', '.join(['%s'] * len(fields))}) {returning_sql}")
    compiler = InsertQuery(model).get_compiler(connection=connection)
    converters = _column_converters(
        compiler, [field.get_col(meta.db_table) for field in returning], connection)
    return sql, fields, tuple(returning), converters
