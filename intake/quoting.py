"""Quoting what a client sent back to it in an error message, safely.

Every message that names a value the client sent (an answer, a question code, a JSON key, a
media type) quotes it through here, so that an error response can always be written and never
hides or reorders text.
"""

from typing import Any


def printable(text: Any, limit: int = 64) -> str:
    """``text`` made safe to quote back in an error: at most ``limit`` characters, with control
    and format characters and lone surrogates (which JSON can carry but UTF-8 cannot) shown
    as U+FFFD, so an error response can always be written and never hides or reorders text."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in str(text)[:limit])


def quoted(text: Any, limit: int = 64) -> str:
    """``text`` in curly quotes for an error message, made safe as ``printable`` does."""
    return f"“{printable(text, limit)}”"
