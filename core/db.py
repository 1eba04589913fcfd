"""Database functions Django lacks on every backend the project runs on (PostgreSQL, SQLite)."""

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Aggregate, JSONField


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

    ``make(argument)`` returns the queryset as ``values_list``, for an ``int`` argument (e.g. a
    primary key, or 0 for "none").  It is compiled for two different arguments, and the
    positions where their parameters differ are where the argument goes, so a queryset whose
    shape depended on its argument would be caught (``ValueError``) instead of run wrongly.
    ``first(argument)`` returns the first row, or None.
    """

    def __init__(self, make):
        self.make = make
        self._compiled: dict[tuple, tuple[str, list, list[int], tuple]] = {}

    def first(self, argument: int, *, key: tuple = ()):
        """The first row for ``argument``; ``key`` names anything else ``make`` depends on
        (e.g. a setting), so that a change of it compiles afresh."""
        connection = connections[DEFAULT_DB_ALIAS]
        cache_key = (connection.vendor, *key)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            compiled = self._compiled[cache_key] = self._compile()
        sql, params, positions, converters = compiled
        params = list(params)
        for position in positions:
            params[position] = argument
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        return tuple(convert(value) if convert else value
                     for value, convert in zip(row, converters, strict=True))

    def _compile(self):
        one, two = self.make(1), self.make(2)
        sql, params = one.query.sql_with_params()
        sql_two, params_two = two.query.sql_with_params()
        if sql != sql_two or len(params) != len(params_two):
            raise ValueError("the query's shape depends on its argument: it cannot be compiled "
                             "once")
        positions = [n for n, (a, b) in enumerate(zip(params, params_two, strict=True)) if a != b]
        return sql, params, positions, self._converters(one)

    @staticmethod
    def _converters(queryset) -> tuple:
        """What Django does to each column of a row it reads (a JSON text into a list, a
        datetime string into a datetime on SQLite), as one function per column, or None."""
        connection = connections[DEFAULT_DB_ALIAS]
        compiler = queryset.query.get_compiler(connection=connection)
        compiler.setup_query()
        expressions = [column for column, _sql, _alias in compiler.select]
        found = compiler.get_converters(expressions)
        return tuple(_chain(*found[index], connection) if index in found else None
                     for index in range(len(expressions)))


def _chain(steps, expression, connection):
    def convert(value):
        for step in steps:
            value = step(value, expression, connection)
        return value
    return convert
