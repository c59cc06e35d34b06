"""FHIR JSON in and out with decimals kept exact (FHIR R4 §2.24.0.1 decimal, §2.6.2 JSON).

A FHIR decimal's precision is part of its value: `38.00` is not `38.0`. JSON numbers with a
fraction or exponent are read as `Decimal` and written back digit for digit, so a resource the
service hands back (a suggested Claim) keeps every number it did not change. Integers stay int.
simplejson is used because the standard library cannot write a Decimal as a JSON number.
"""
from __future__ import annotations

from typing import Any

import simplejson
from flask.json.provider import JSONProvider


def loads(data: str | bytes) -> Any:
    """Parse JSON; numbers with a fraction or exponent become Decimal. Raises ValueError."""
    return simplejson.loads(data, use_decimal=True)


def dumps(value: Any, **kwargs: Any) -> str:
    """Serialise JSON; a Decimal is written as the number it holds, with its digits."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, **kwargs)


class FhirJSONProvider(JSONProvider):
    """Flask's JSON for this service: request bodies and responses with exact decimals."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)
