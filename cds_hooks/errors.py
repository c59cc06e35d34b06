"""Errors a client can act on, answered as FHIR OperationOutcome JSON naming the field at fault."""
from __future__ import annotations

# What a 503 asks the client to wait before trying again: a database restart or fail-over.
RETRY_AFTER_SECONDS = 5


class RequestError(Exception):
    """A request we refuse: HTTP status, the field at fault (FHIRPath-like), a plain message."""

    def __init__(self, message: str, field: str | None = None, status: int = 400, code: str = "invalid"):
        super().__init__(message)
        self.message, self.field, self.status, self.code = message, field, status, code


def operation_outcome(message: str, field: str | None = None, code: str = "invalid",
                      severity: str = "error") -> dict:
    issue = {"severity": severity, "code": code, "diagnostics": message}
    if field:
        issue["expression"] = [field]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def unavailable(what: str) -> RequestError:
    """A 503 for a fault of ours that should pass (the database is down): try again later."""
    return RequestError(f"{what}; try again later", status=503, code="transient")
