"""Errors a client can act on, answered as FHIR OperationOutcome JSON naming the field at fault;
the app's error handlers (every error, ours or Flask's, answers an OperationOutcome)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger("cpt97124")

# What a 503 asks the client to wait before trying again: a database restart or fail-over.
RETRY_AFTER_SECONDS = 5


class RequestError(Exception):
    """A request we refuse: HTTP status, the field at fault (FHIRPath-like), a plain message."""

    def __init__(self, message: str, field: str | None = None, status: int = 400, code: str = "invalid"):
        super().__init__(message)
        self.message, self.field, self.status, self.code = message, field, status, code


def operation_outcome(message: str, field: str | None = None, code: str = "invalid",
                      severity: str = "error") -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": message}
    if field:
        issue["expression"] = [field]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def unavailable(what: str) -> RequestError:
    """A 503 for a fault of ours that should pass (the database is down): try again later."""
    return RequestError(f"{what}; try again later", status=503, code="transient")


def _answer(status: int, message: str, field: str | None = None, code: str = "invalid") -> Response:
    response = jsonify(operation_outcome(message, field, code))
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    """Answer every error as an OperationOutcome: ours with their status and field, Flask's with
    theirs, anything unexpected as a 500 that names nothing (the log gets the type only)."""
    @app.errorhandler(RequestError)
    def request_error(error: RequestError) -> Response:
        response = _answer(error.status, error.message, error.field, error.code)
        if error.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        response = _answer(error.code or 500, error.description or error.name,
                           code="not-supported" if error.code == 405 else "invalid")
        valid_methods = getattr(error, "valid_methods", None)
        if error.code == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        log.error("unhandled %s", type(error).__name__)
        return _answer(500, "internal error; the request was not evaluated", code="exception")
