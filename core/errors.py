"""The errors services raise when they refuse a request, whoever made it.

A service says *what* went wrong in the clinic's terms (no such case, not allowed, invalid
input, a conflict with an earlier request); it never builds an HTTP response or raises
``Http404`` or a REST framework exception.  The entry points' one mapping to HTTP statuses and
bodies is ``config.errors`` (pages, the REST API, and through the API's handler FHIR too).

Each error's message is written for the person or client that will read it: say what to do.
"""

from typing import Any


class DomainError(Exception):
    """A request a service refuses.  ``str(error)`` is the message to show."""

    default_message = "The request cannot be carried out."

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)


class NotFound(DomainError):
    """No such thing among those the asking user may see (whether or not it exists elsewhere:
    probing must reveal nothing)."""

    default_message = "Not found."


class Forbidden(DomainError):
    """The asking user may not do this at all."""

    default_message = "You do not have permission to do this."


class Invalid(DomainError):
    """Bad input, every problem at once: ``errors`` maps where each problem is (a field, or
    ``non_field_errors``) to its messages, or to a nested mapping of the same kind, e.g.
    ``{"answers": {"pain_severity": ["Must be between 0 and 10."]}}``."""

    default_message = "The input is invalid."

    def __init__(self, errors: dict[str, Any], message: str | None = None):
        super().__init__(message)
        self.errors = errors

    @property
    def messages(self) -> list[str]:
        """Every message, in the order of ``errors``, however deeply nested."""
        return list(_messages(self.errors))


class Conflict(DomainError):
    """The request contradicts one made before (e.g. an idempotency key reused with another
    request); repeating it will not help, a new one might."""

    default_message = "This request conflicts with an earlier one."


def _messages(errors: Any):
    if isinstance(errors, dict):
        for value in errors.values():
            yield from _messages(value)
    elif isinstance(errors, list | tuple):
        for value in errors:
            yield from _messages(value)
    else:
        yield str(errors)
