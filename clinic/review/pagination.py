"""Keyset ("cursor") pagination for the queue, in its own order: (priority, submitted_at, id).

DRF's CursorPagination keys on one field and counts an offset through ties; the queue's first
key (priority) has few values and many ties, so here the cursor carries the whole key of the
last row and the next page starts strictly after it, in the queue index's order.
"""

import base64
import binascii
import datetime
import json

from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param


class QueueCursorPagination:
    page_size = 50
    max_page_size = 200
    cursor_param = "cursor"

    def paginate(self, queryset, request) -> list:
        self.request = request
        size = self._page_size(request)
        cursor = request.query_params.get(self.cursor_param)
        if cursor:
            priority, submitted_at, pk = self._decode(cursor)
            queryset = queryset.filter(
                Q(priority__gt=priority)
                | Q(priority=priority, submitted_at__gt=submitted_at)
                | Q(priority=priority, submitted_at=submitted_at, id__gt=pk)
            )
        rows = list(queryset[: size + 1])
        self.has_next = len(rows) > size
        self.page = rows[:size]
        return self.page

    def response(self, data) -> Response:
        next_url = None
        if self.has_next:
            last = self.page[-1]
            next_url = replace_query_param(
                self.request.build_absolute_uri(), self.cursor_param,
                self._encode(last.priority, last.submitted_at, last.pk))
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
    def _encode(priority, submitted_at, pk) -> str:
        raw = json.dumps([priority, submitted_at.isoformat(), pk]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode(cursor: str):
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            priority, submitted_at, pk = json.loads(base64.urlsafe_b64decode(padded))
            when = datetime.datetime.fromisoformat(submitted_at)
            if type(priority) is not int or type(pk) is not int or when.tzinfo is None:
                raise ValueError
            if not (abs(priority) < 2**31 and abs(pk) < 2**63):  # the columns' ranges
                raise ValueError
            # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (-23:59),
            # and a cursor this service wrote is UTC anyway.
            when = when.astimezone(datetime.UTC)
        except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
            raise ValidationError({"cursor": [
                "This cursor is not valid; use the “next” link of a previous page."]}) from None
        return priority, when, pk

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_param, "in": "query", "required": False,
             "schema": {"type": "string"}, "description": "The `next` link's cursor."},
            {"name": "page_size", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]
