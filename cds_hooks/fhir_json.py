"""FHIR JSON in and out with decimals kept exact (FHIR R4 §2.24.0.1 decimal, §2.6.2 JSON).

A FHIR decimal's precision is part of its value: `38.00` is not `38.0`. JSON numbers with a
fraction or exponent are read as `Decimal` and written back digit for digit, so a resource the
service hands back (a suggested Claim) keeps every number it did not change. Integers stay int.
simplejson is used because the standard library cannot write a Decimal as a JSON number.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson
from flask.json.provider import JSONProvider

# FHIR's decimal grammar puts no bound on an exponent, but `1E+10000000` (a dozen bytes) costs
# minutes to turn into an int or to quantize; no quantity, price or measure comes near 1E±400.
MAX_EXPONENT = 400


class NumberOutOfRange(ValueError):
    """A JSON number out of range (see loads); `path` is where it stands (`context.claim.item[0]...`)."""

    def __init__(self, path: str):
        super().__init__(f"{path or 'the body'}: a number out of range (numbers are read up to 1E±{MAX_EXPONENT})")
        self.path = path


class _Beyond:
    """Stands in for an out-of-range number while parsing, so that its place can be named after."""


def _in_range(value: Decimal) -> bool:
    exponent = value.as_tuple().exponent  # a letter for NaN and Infinity, which have none
    return abs(value.adjusted()) <= MAX_EXPONENT and (not isinstance(exponent, int) or abs(exponent) <= MAX_EXPONENT)


def _place(value: Any, path: str = "") -> str | None:
    """The path of the first stand-in in a parsed document (keys dotted, array positions in brackets)."""
    if isinstance(value, _Beyond):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _place(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key)
        if found is not None:
            return found
    return None


def loads(data: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become Decimal. Raises ValueError, and
    NumberOutOfRange naming its place for a number out of range: a fraction or exponent whose
    magnitude or precision lies beyond 1E±400, or an integer too long to read (4,300 digits)."""
    beyond, seen = _Beyond(), []

    def decimal(text: str) -> Decimal | _Beyond:
        value = Decimal(text)
        if _in_range(value):
            return value
        seen.append(text)
        return beyond

    def integer(text: str) -> int | _Beyond:
        try:
            return int(text)
        except ValueError:  # longer than int() reads (CPython: 4,300 digits)
            seen.append(text)
            return beyond

    try:
        value = simplejson.loads(data, parse_float=decimal)
    except simplejson.JSONDecodeError:
        raise
    except ValueError:  # an integer too long to read: parse again, slower, to find where it stands
        value = simplejson.loads(data, parse_float=decimal, parse_int=integer)
    if seen:  # found after parsing, where the place is known
        raise NumberOutOfRange(_place(value) or "")
    return value


def dumps(value: Any, **kwargs: Any) -> str:
    """Serialise JSON; a Decimal is written as the number it holds, with its digits."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, **kwargs)


class FhirJSONProvider(JSONProvider):
    """Flask's JSON for this service: request bodies and responses with exact decimals."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
