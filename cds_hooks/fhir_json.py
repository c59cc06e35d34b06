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


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    exponent = value.as_tuple().exponent  # a letter for NaN and Infinity, which have none
    if abs(value.adjusted()) > MAX_EXPONENT or isinstance(exponent, int) and abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"a JSON number beyond 1E±{MAX_EXPONENT}")
    return value


def loads(data: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become Decimal. Raises ValueError, also
    for a number whose magnitude or precision lies beyond 1E±400."""
    return simplejson.loads(data, parse_float=_decimal)


def dumps(value: Any, **kwargs: Any) -> str:
    """Serialise JSON; a Decimal is written as the number it holds, with its digits."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, **kwargs)


class FhirJSONProvider(JSONProvider):
    """Flask's JSON for this service: request bodies and responses with exact decimals."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
