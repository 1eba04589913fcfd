"""A JSON parser that refuses what the standard one lets through silently."""

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _refuse_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ParseError(f"The JSON object has the key “{key[:64]}” twice; send each key once.")
        obj[key] = value
    return obj


def _refuse_constant(name):
    raise ParseError(f"{name} is not a JSON number; send a number.")


class StrictJSONParser(JSONParser):
    """JSON with no duplicate keys, no NaN or Infinity, valid UTF-8, and bounded nesting.

    Deeply nested input (``[[[[...]]]]``) makes Python's decoder raise RecursionError, which the
    standard parser does not catch; here it is a 400 like any other malformed body.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("The request body is not valid UTF-8.") from None
        if not text.strip():
            raise ParseError("The request body is empty; send a JSON object.")
        try:
            return json.loads(text, object_pairs_hook=_refuse_duplicate_keys,
                              parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError("The JSON is nested too deeply.") from None
        except ValueError as error:
            raise ParseError(f"The request body is not valid JSON: {error}") from None
