"""Database functions Django lacks on every backend the project runs on (PostgreSQL, SQLite)."""

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
