"""Keyset ("cursor") pagination for the queue, in its own order (``clinic.review.cases``):
priority, a soon case's appointment, arrival, id.

DRF's CursorPagination keys on one field and counts an offset through ties; the queue's first
key (priority) has few values and many ties, so here the cursor carries the whole key of the
last row (``cases.QueueKey``) and ``cases.queue_after`` starts strictly after it, reading the
open queue's index.
"""

import base64
import binascii
import datetime
import json

from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from clinic.review.cases import QueueKey


class QueueCursorPagination:
    page_size = 50
    max_page_size = 200
    cursor_param = "cursor"

    def paginate(self, request, page) -> list:
        """The page ``page(after=<the cursor's key or None>, limit=<the page size>)`` gives,
        as ``cases.queue_after`` does: (rows, the key of the last when more follow)."""
        self.request = request
        cursor = request.query_params.get(self.cursor_param)
        self.page, self.last = page(after=self._decode(cursor) if cursor else None,
                                    limit=self._page_size(request))
        return self.page

    def response(self, data) -> Response:
        next_url = None
        if self.last is not None:
            next_url = replace_query_param(
                self.request.build_absolute_uri(), self.cursor_param, self._encode(self.last))
        return Response({"next": next_url, "results": data})

    def _page_size(self, request) -> int:
        raw = request.query_params.get("page_size")
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError({"page_size": [
                f"Give a whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    @staticmethod
    def _encode(key: QueueKey) -> str:
        raw = json.dumps([key.priority, key.starts.isoformat() if key.starts else None,
                          key.submitted_at.isoformat(), key.pk]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode(cursor: str) -> QueueKey:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            key = json.loads(base64.urlsafe_b64decode(padded))
            if type(key) is list and len(key) == 3:
                # A cursor from before issue 19, without the appointment: as a case without one.
                key = [key[0], None, *key[1:]]
            priority, starts, submitted_at, pk = key
            when = _moment(submitted_at)
            starts = _moment(starts) if starts is not None else None
            if type(priority) is not int or type(pk) is not int:
                raise ValueError
            if not (abs(priority) < 2**31 and abs(pk) < 2**63):  # the columns' ranges
                raise ValueError
        except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
            raise ValidationError({"cursor": [
                "This cursor is not valid; use the “next” link of a previous page."]}) from None
        return QueueKey(priority=priority, starts=starts, submitted_at=when, pk=pk)

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_param, "in": "query", "required": False,
             "schema": {"type": "string"}, "description": "The `next` link's cursor."},
            {"name": "page_size", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]


def _moment(text) -> datetime.datetime:
    """A time in a cursor, in UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts
    (-23:59), and a cursor this service wrote is UTC anyway."""
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError
    return when.astimezone(datetime.UTC)
