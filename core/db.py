"""Database functions Django lacks on every backend the project runs on (PostgreSQL, SQLite)."""

import dataclasses
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
    ``parent`` to the new instance left out of them.  ``returning`` names integer columns
    (ids) to read back: ``written`` then holds them, a tuple per row, in no particular
    order."""

    model: type[Model]
    parent: str
    fields: tuple[str, ...]
    rows: Sequence[Sequence]
    returning: tuple[str, ...] = ()
    written: list[tuple] = dataclasses.field(default_factory=list, compare=False, repr=False)

    def insert_for(self, parent_pk) -> None:
        """Insert the rows (``insert_rows``) for an instance stored already."""
        if self.rows:
            self.written[:] = insert_rows(self.model, (self.parent, *self.fields),
                                          [(parent_pk, *row) for row in self.rows],
                                          returning=self.returning)


@dataclass(frozen=True)
class New:
    """Another new instance that belongs to the one ``insert_new`` stores, for it to store in
    the same statement: ``instance``, whose foreign key ``parent`` refers to that one (unsaved
    yet), and rows or instances of its own."""

    instance: Model
    parent: str
    children: tuple["Rows | New", ...] = ()


def insert_new(instance, *children: Rows | New) -> None:
    """Store a new ``instance`` as ``instance.save(force_insert=True)`` does, with the INSERT
    written once per process and model and, on PostgreSQL, prepared (``prepared_cursor``);
    with ``children`` (``Rows``, or ``New`` instances with children of their own), all of
    them too, all or nothing.

    On PostgreSQL the instance and everything under it go in one statement (an INSERT of each
    in a ``WITH``, each child referring to the row its parent's INSERT returns): atomic on its
    own, so a caller with nothing else to write needs no transaction, and one round trip where
    a transaction took one per table and two more (BEGIN, COMMIT).  Elsewhere, one statement
    per table in a transaction (the caller's, if there is one).

    For models without a parent model or a ``save`` of their own, whose save signals nobody
    receives: anything else (or a value that is an SQL expression, or a primary key already
    set) is saved by ``save``, and its children by ``insert_rows``.  For a submission's row
    (twenty-odd columns) ``save`` took 0.33-0.41 ms of CPU, building and compiling the INSERT
    each time, and this 0.16-0.21 ms."""
    alias = router.db_for_write(type(instance), instance=instance)
    connection = connections[alias]
    children = _pruned(children)
    if not children:
        values = _values_to_insert(instance, connection)
        if values is None:
            instance.save(force_insert=True)
        else:
            _insert(instance, values, connection)
        return
    if connection.vendor == "postgresql":
        values = _values_to_insert(instance, connection)
        tree = _tree_values(children, connection) if values is not None else None
        if tree is not None:
            _insert_tree(instance, children, values + tree, connection)
            return
    with transaction.atomic(using=alias, savepoint=False):
        insert_new(instance)
        for child in children:
            if isinstance(child, Rows):
                child.insert_for(instance.pk)
            else:
                setattr(child.instance, child.instance._meta.get_field(child.parent).name,
                        instance)
                insert_new(child.instance, *child.children)


def _pruned(children) -> tuple:
    """``children`` without ``Rows`` of no rows, at every depth."""
    return tuple(child if isinstance(child, Rows)
                 else New(child.instance, child.parent, _pruned(child.children))
                 for child in children if not isinstance(child, Rows) or child.rows)


def _values_to_insert(instance, connection, *, parent: str | None = None) -> list | None:
    """The values of ``instance``'s compiled INSERT (``_compile_insert``), as the backend
    takes them; None for an instance that only ``save`` can store.  Without the value of its
    foreign key ``parent``, when it refers to a row inserted in the same statement."""
    model = type(instance)
    meta = model._meta
    if (meta.parents or model.save is not Model.save or instance._is_pk_set()
            or signals.pre_save.has_listeners(model)
            or signals.post_save.has_listeners(model)):
        return None
    _sql, fields, _returning, _converters = _compiled_insert(model, connection)
    if parent is None:
        instance._prepare_related_fields_for_save(operation_name="save")
    else:
        parent_field = meta.get_field(parent)
        fields = [field for field in fields if field is not parent_field]
        instance._prepare_related_fields_for_save(operation_name="save", fields=fields)
    values = []
    for field in fields:
        value = field.pre_save(instance, True)
        if hasattr(value, "resolve_expression"):
            return None
        values.append(field.get_db_prep_save(value, connection))
    return values


def _tree_values(children, connection) -> list | None:
    """The values of ``children``'s INSERTs, in the order of ``_compile_tree``'s statement;
    None if an instance among them can only be stored by ``save``."""
    values = []
    for child in children:
        if isinstance(child, Rows):
            columns = [child.model._meta.get_field(name) for name in child.fields]
            values += [field.get_db_prep_save(value, connection)
                       for row in child.rows for field, value in zip(columns, row, strict=True)]
            continue
        own = _values_to_insert(child.instance, connection, parent=child.parent)
        below = _tree_values(child.children, connection) if own is not None else None
        if below is None:
            return None
        values += own + below
    return values


def _compiled_insert(model, connection):
    compiled = _INSERTS.get((model, connection.alias))
    if compiled is None:
        compiled = _INSERTS[(model, connection.alias)] = _compile_insert(model, connection)
    return compiled


def _insert(instance, values, connection) -> None:
    sql, _fields, returning, converters = _compiled_insert(type(instance), connection)
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    _set_returned(instance, returning, converters, row, connection)


def _set_returned(instance, returning, converters, row, connection) -> None:
    for field, value, convert in zip(returning, row, converters, strict=True):
        setattr(instance, field.attname, convert(value) if convert else value)
    instance._state.adding = False
    instance._state.db = connection.alias


def _insert_tree(instance, children, values, connection) -> None:
    """Run ``_compile_tree``'s statement and give each instance what the database returned,
    each ``New`` its parent's id, and each ``Rows`` with ``returning`` the rows it wrote."""
    sql = _compile_tree(type(instance), children, connection)
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    _sql, _fields, returning, converters = _compiled_insert(type(instance), connection)
    _set_returned(instance, returning, converters, row[:len(returning)], connection)
    _give_back(instance, children, iter(row[len(returning):]), connection)


def _give_back(parent, children, returned, connection) -> None:
    """Hand ``children`` what ``_insert_tree``'s statement returned for them (``returned``, in
    ``_compile_tree``'s order)."""
    for child in children:
        if isinstance(child, Rows):
            if child.returning:
                child.written[:] = [tuple(row) for row in next(returned)]
            continue
        model = type(child.instance)
        _sql, _fields, returning, converters = _compiled_insert(model, connection)
        _set_returned(child.instance, returning, converters,
                      [next(returned) for _ in returning], connection)
        setattr(child.instance, model._meta.get_field(child.parent).name, parent)
        _give_back(child.instance, child.children, returned, connection)


_TREES: dict[tuple, str] = {}


def _shape(children) -> tuple:
    return tuple((child.model, child.parent, child.fields, len(child.rows), child.returning)
                 if isinstance(child, Rows)
                 else (type(child.instance), child.parent, _shape(child.children))
                 for child in children)


def _compile_tree(model, children, connection) -> str:
    """``insert_new``'s one statement for an instance of ``model`` and ``children``: an INSERT
    of each in a ``WITH`` (``new0`` the instance's, then its children's, depth first), each
    child's foreign key to its parent a subquery of the row the parent's INSERT returns; then
    a row of what the instance's INSERT returns, of what each ``New``'s returns, and of an
    array of the ``returning`` columns of each ``Rows`` that has them.  Built once per shape
    (models, foreign keys, numbers of rows); names come from the models' own metadata, every
    value is a parameter."""
    key = (model, _shape(children), connection.alias)
    compiled = _TREES.get(key)
    if compiled is not None:
        return compiled
    quote = connection.ops.quote_name
    parts = [f"new0 AS ({_compiled_insert(model, connection)[0]})"]
    selected = ["new0.*"]

    def add(parent_model, parent_name: str, children) -> None:
        for child in children:
            name = f"new{len(parts)}"
            child_model = child.model if isinstance(child, Rows) else type(child.instance)
            meta = child_model._meta
            link = meta.get_field(child.parent)
            if (link.related_model is not parent_model
                    or link.target_field is not parent_model._meta.pk):
                raise ValueError(f"{meta.label}.{child.parent} must refer to "
                                 f"{parent_model._meta.label} by its primary key")
            parent_id = f"(SELECT {quote(link.target_field.column)} FROM {parent_name})"  # noqa: S608
            if isinstance(child, Rows):
                columns = [link, *(meta.get_field(field) for field in child.fields)]
                row = f"({parent_id}, {', '.join(['%s'] * len(child.fields))})"
                rows = ", ".join([row] * len(child.rows))
                returning = [quote(meta.get_field(field).column) for field in child.returning]
            else:
                _sql, fields, returned, _converters = _compiled_insert(child_model, connection)
                columns = fields
                rows = "({})".format(", ".join(parent_id if field is link else "%s"
                                               for field in fields))
                returning = [quote(field.column) for field in returned]
            insert = (f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 (names, not values)
                      f"({', '.join(quote(field.column) for field in columns)}) VALUES {rows}")
            if returning:
                insert += f" RETURNING {', '.join(returning)}"
            parts.append(f"{name} AS ({insert})")
            if isinstance(child, Rows):
                if returning:
                    columns = ", ".join(returning)
                    selected.append(f"ARRAY(SELECT ARRAY[{columns}] FROM {name})")  # noqa: S608
            else:
                selected.extend(f"(SELECT {column} FROM {name})"  # noqa: S608 (a name)
                                for column in returning)
                add(child_model, name, child.children)

    add(model, "new0", children)
    compiled = _TREES[key] = (f"WITH {', '.join(parts)} "  # noqa: S608 (names, not values)
                              f"SELECT {', '.join(selected)} FROM new0")
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
