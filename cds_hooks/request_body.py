"""The JSON body of a request to the service (hooks and feedback alike)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request
from werkzeug.exceptions import ClientDisconnected

from cds_hooks import fhir_json, hook_body
from cds_hooks.errors import RequestError


def read_json() -> object:
    """The request body as JSON, or a RequestError (never a 500 for broken or absurd JSON)."""
    return read_body(fhir_json.loads)


def read_hook_body() -> hook_body.Body:
    """A hook request's body, Observations no rule reads held back unparsed (cds_hooks/hook_body.py)."""
    return read_body(hook_body.read)  # type: ignore[no-any-return]


def read_body(parse: Callable[[bytes], Any]) -> Any:
    """The request body parsed by `parse`, or a RequestError for broken or absurd JSON.

    A chunked body declares no length for MAX_CONTENT_LENGTH to refuse up front (and Werkzeug's
    stream would quietly cut it at the limit): it is read from the server's own input up to one
    byte past the limit, and a body that has that byte is refused whole (413). A body within the
    limit that declares its length is read from there in one call (Werkzeug's stream reads 64 KB
    at a time: ~4 ms for a 5 MB chart); anything else is Werkzeug's to read or refuse.
    """
    length, limit = request.content_length, current_app.config["MAX_CONTENT_LENGTH"]
    if length is None and request.environ.get("wsgi.input_terminated"):
        raw = request.environ["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            raise RequestError(f"the request body is larger than {limit} bytes", status=413, code="too-long")
    elif length is not None and limit is not None and length <= limit:
        raw = request.environ["wsgi.input"].read(length)
        if len(raw) != length:
            raise ClientDisconnected()   # as Werkzeug's stream says it
    else:
        raw = request.get_data(cache=True)
    try:
        return parse(raw)
    except fhir_json.NumberOutOfRange as error:
        raise RequestError(str(error), error.path or None) from None
    except (ValueError, RecursionError):
        raise RequestError("the request body is not valid JSON") from None
