"""The JSON body of a request to the service (hooks and feedback alike)."""
from __future__ import annotations

from flask import current_app, request

from cds_hooks import fhir_json
from cds_hooks.errors import RequestError


def read_json() -> object:
    """The request body as JSON, or a RequestError (never a 500 for broken or absurd JSON).

    A chunked body declares no length for MAX_CONTENT_LENGTH to refuse up front (and Werkzeug's
    stream would quietly cut it at the limit): it is read from the server's own input up to one
    byte past the limit, and a body that has that byte is refused whole (413).
    """
    if request.content_length is None and request.environ.get("wsgi.input_terminated"):
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        raw = request.environ["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            raise RequestError(f"the request body is larger than {limit} bytes", status=413, code="too-long")
    else:
        raw = request.get_data(cache=True)
    try:
        return fhir_json.loads(raw)
    except fhir_json.NumberOutOfRange as error:
        raise RequestError(str(error), error.path or None) from None
    except (ValueError, RecursionError):
        raise RequestError("the request body is not valid JSON") from None
