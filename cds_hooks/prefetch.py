"""Gather the FHIR data a hook needs: the EHR's prefetch first, its FHIR server second.

A prefetch key counts as missing when absent, null, or an OperationOutcome. Missing keys are
queried on `fhirServer` (allowlisted) with the EHR's bearer token; the token is never logged.
"""
from __future__ import annotations

from cds_hooks.config import Config
from cds_hooks.errors import RequestError
from cds_hooks.fhir_client import FhirClient
from cds_hooks.hook_request import HookRequest
from cds_hooks.services import Service


class DataUnavailable(RequestError):
    """Required data could not be had: CDS Hooks answers 412 Precondition Failed."""

    def __init__(self, keys: list[str]):
        super().__init__(f"required data unavailable: {', '.join(sorted(keys))}; send it in prefetch "
                         "or give fhirServer and fhirAuthorization", "prefetch", status=412,
                         code="not-found")


def usable(value: object) -> bool:
    return isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome")


def render(template: str, context: dict) -> str | None:
    """Fill {{context.x}} tokens; None when a token has no value (that query cannot run)."""
    out = template
    for key, value in context.items():
        token = "{{context.%s}}" % key
        if token in out:
            if not isinstance(value, str) or not value:
                return None
            out = out.replace(token, value)
    return None if "{{" in out else out


def gather(service: Service, request: HookRequest, config: Config) -> tuple[dict, list[str]]:
    """Prefetch data by key, fetched where the EHR did not send it, and the keys still missing.

    Raises DataUnavailable when a required key cannot be had.
    """
    data = {k: v for k, v in request.prefetch.items() if k in service.prefetch and usable(v)}
    queries = {}
    for key, template in service.prefetch.items():
        if key in data:
            continue
        query = render(template, request.context)
        if query is not None:
            queries[key] = query
    failed: list[str] = []
    if queries and request.fhir_server:
        client = FhirClient(request.fhir_server, request.access_token, config)
        fetched, failed = client.search_all(queries)
        data.update(fetched)
        follow_ups = client.follow_up_queries(request.context, data)
        if follow_ups:
            more, more_failed = client.search_all(follow_ups)
            data.update(more)
            failed += more_failed
    elif queries:
        failed = list(queries)
    missing_required = sorted(service.required.intersection(failed))
    if missing_required:
        raise DataUnavailable(missing_required)
    return data, sorted(failed)
