"""A JSON parser that refuses what the standard one lets through silently, and says why."""

import codecs
import json
import math

from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser

from intake.quoting import printable, quoted


class NotUTF8(UnsupportedMediaType):
    """The body is declared in a charset other than UTF-8."""


def _refuse_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ParseError(f"The JSON object has the key {quoted(key)} twice; send each key "
                             "once.")
        obj[key] = value
    return obj


def _refuse_constant(name):
    raise ParseError(f"{name} is not a JSON number; send a number.")


def _finite_float(text):
    # 1e400 is valid JSON but becomes float("inf"), which no answer can be and which the JSON
    # renderer cannot write back.
    value = float(text)
    if not math.isfinite(value):
        raise ParseError(f"The number {text[:32]} is too large; send a number of a sensible "
                         "size.")
    return value


def _declared_charset(parser_context) -> str | None:
    request = (parser_context or {}).get("request")
    if request is None:
        return None
    charset = getattr(request, "content_params", {}).get("charset")
    return charset.strip().strip('"').lower() if charset else None


class StrictJSONParser(JSONParser):
    """JSON in UTF-8, with no duplicate keys, no NaN or Infinity (nor numbers too large to hold),
    and bounded nesting.

    Deeply nested input (``[[[[...]]]]``) makes Python's decoder raise RecursionError, which the
    standard parser does not catch; here it is a 400 like any other malformed body.  JSON is
    UTF-8 (RFC 8259): a body declared in another charset is a 415, one that is in UTF-16 is a
    400 saying so, and a leading UTF-8 byte order mark, which some Windows tools add, is
    ignored as the RFC allows.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        charset = _declared_charset(parser_context)
        if charset is not None and charset not in {"utf-8", "utf8"}:
            raise NotUTF8(
                media_type,
                detail=f"The body is declared as {charset[:32]}, but JSON is always UTF-8: "
                "encode it as UTF-8 and send Content-Type: application/json.",
            )
        raw = stream.read() if stream is not None else b""
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in raw:
            raise ParseError("The request body looks like UTF-16 or UTF-32 (it has NUL bytes); "
                             "send it as UTF-8.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ParseError("The request body is not valid UTF-8.") from None
        if not text.strip():
            raise ParseError("The request body is empty; send a JSON object.")
        try:
            return json.loads(text, object_pairs_hook=_refuse_duplicate_keys,
                              parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None
        except json.JSONDecodeError as error:
            raise ParseError(f"The request body is not valid JSON: {error}") from None
        except ValueError:
            # int() refuses to convert more than sys.get_int_max_str_digits() digits.
            raise ParseError("A number in the request body has too many digits; send a "
                             "number of a sensible size.") from None


def json_body(request, *, what: str, content_type: str = "application/json"):
    """The request's parsed body.  A body of another media type is a 415 that names what was
    sent and says what to send instead (``what`` as ``content_type``)."""
    try:
        return request.data
    except NotUTF8:
        raise
    except UnsupportedMediaType:
        sent = printable(request.content_type or "", limit=100)
        described = f"Content-Type {sent}" if sent else "no Content-Type"
        raise UnsupportedMediaType(
            request.content_type,
            detail=f"The request has {described}; send {what} with "
            f"Content-Type: {content_type}.",
        ) from None
