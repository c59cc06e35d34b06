"""Check the shape of a CDS Hooks 2.0 request before anything reads it (a clear 400 otherwise)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fhir.resources.R4B.codeableconcept import CodeableConcept

from cds_hooks.errors import RequestError
from plugin import Record, is_massage, iter_resources

# Context fields each hook requires, and the JSON type each must have.
# order-sign is the CDS Hooks 2.0 hook; claim-prepare is ours (docs/hooks/claim-prepare.md).
CONTEXT: dict[str, dict[str, type]] = {
    "order-sign": {"userId": str, "patientId": str, "draftOrders": dict},
    "claim-prepare": {"userId": str, "patientId": str, "encounterId": str, "claim": dict},
}
OPTIONAL_CONTEXT: dict[str, type] = {"encounterId": str}
CANONICAL_UUID = re.compile(r"(urn:uuid:)?[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
AUTHORIZATION: dict[str, type] = {"access_token": str, "token_type": str, "expires_in": int, "scope": str, "subject": str}


@dataclass(frozen=True)
class HookRequest:
    hook: str
    hook_instance: str
    context: dict
    prefetch: dict
    fhir_server: str | None
    access_token: str | None

    def __repr__(self) -> str:  # never print the token
        return f"HookRequest(hook={self.hook!r}, hookInstance={self.hook_instance!r})"


def _require(obj: dict, key: str, kind: type, path: str) -> Any:
    if key not in obj or obj[key] is None:
        raise RequestError(f"{path} is required", path)
    value = obj[key]
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise RequestError(f"{path} must be a {_name(kind)}", path)
    if isinstance(value, str) and not value.strip():
        raise RequestError(f"{path} must not be empty", path)
    return value


def _name(kind: type) -> str:
    return {str: "string", dict: "JSON object", int: "integer", list: "JSON array"}[kind]


def _check_resource(value: dict, rtype: str, path: str) -> None:
    if value.get("resourceType") != rtype:
        raise RequestError(f"{path} must be a FHIR {rtype}", f"{path}.resourceType")


def parse(body: Any, hook: str, wire_name: str | None = None) -> HookRequest:
    """Validate a decoded JSON body for the service's hook; raise RequestError naming the field.

    `wire_name` is the name the hook is registered under, when a deployment renamed it.
    """
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    got_hook = _require(body, "hook", str, "hook")
    wire_name = wire_name or hook
    if got_hook != wire_name:
        raise RequestError(f"this service answers the {wire_name!r} hook, not {got_hook!r}", "hook")
    instance = _require(body, "hookInstance", str, "hookInstance")
    if not CANONICAL_UUID.fullmatch(instance):  # uuid.UUID() would also take braces, hyphens anywhere
        raise RequestError("hookInstance must be a UUID (8-4-4-4-12 hex digits, optionally urn:uuid:)",
                           "hookInstance")

    context = _require(body, "context", dict, "context")
    for key, kind in CONTEXT[hook].items():
        _require(context, key, kind, f"context.{key}")
    for key, kind in OPTIONAL_CONTEXT.items():
        if context.get(key) is not None and not isinstance(context[key], kind):
            raise RequestError(f"context.{key} must be a {_name(kind)}", f"context.{key}")
    if hook == "order-sign":
        _check_resource(context["draftOrders"], "Bundle", "context.draftOrders")
        entries = context["draftOrders"].get("entry", [])
        if not isinstance(entries, list):
            raise RequestError("context.draftOrders.entry must be a JSON array", "context.draftOrders.entry")
    if hook == "claim-prepare":
        _check_resource(context["claim"], "Claim", "context.claim")
        if not isinstance(context["claim"].get("item", []), list):
            raise RequestError("context.claim.item must be a JSON array", "context.claim.item")

    prefetch = body.get("prefetch")
    prefetch = {} if prefetch is None else prefetch
    if not isinstance(prefetch, dict):
        raise RequestError("prefetch must be a JSON object", "prefetch")
    for key, value in prefetch.items():  # a Bundle whose entry is no array cannot be read at all
        if isinstance(value, dict) and value.get("resourceType") == "Bundle" \
                and value.get("entry") is not None and not isinstance(value["entry"], list):
            path = f"prefetch.{key[:64]}.entry"
            raise RequestError(f"{path} must be a JSON array", path)

    server = body.get("fhirServer")
    if server is not None:
        if not isinstance(server, str):
            raise RequestError("fhirServer must be a URL string", "fhirServer")
        try:
            parts = urlsplit(server)
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # raises for a port that is not a number
        except ValueError:
            valid = False
        if not valid:
            raise RequestError("fhirServer must be an absolute http(s) URL", "fhirServer")

    token = None
    auth = body.get("fhirAuthorization")
    if auth is not None:
        if not isinstance(auth, dict):
            raise RequestError("fhirAuthorization must be a JSON object", "fhirAuthorization")
        if server is None:
            raise RequestError("fhirAuthorization needs fhirServer", "fhirServer")
        for key, kind in AUTHORIZATION.items():
            _require(auth, key, kind, f"fhirAuthorization.{key}")
        if auth["token_type"].lower() != "bearer":
            raise RequestError("fhirAuthorization.token_type must be Bearer", "fhirAuthorization.token_type")
        token = auth["access_token"]
    return HookRequest(hook=hook, hook_instance=instance, context=context, prefetch=prefetch,
                       fhir_server=server.rstrip("/") if server else None, access_token=token)


def _is_massage_order(raw: Any) -> bool:
    """Whether an order that failed validation still reads as a 97124 order by its code."""
    if not isinstance(raw, dict) or raw.get("resourceType") != "ServiceRequest":
        return False
    try:
        return is_massage(CodeableConcept.model_validate(raw.get("code")))
    except (ValueError, TypeError, RecursionError):  # pydantic's ValidationError is a ValueError
        return False


def subject_error(record: Record, context: dict) -> RequestError | None:
    """A 400 when what the hook asks about cannot be read: the Claim, or a 97124 draft order, is
    not valid FHIR R4 or carries a modifierExtension the service does not understand. Any other
    such resource (an unrelated order signed with it, a prefetch resource) is only skipped and
    named on the data-unavailable card."""
    orders = list(iter_resources(context.get("draftOrders")))
    for bad in record.skipped:
        subject = bad.path == "context.claim"
        if bad.path.startswith("context.draftOrders["):
            index = int(bad.path[len("context.draftOrders["):-1])
            subject = index < len(orders) and _is_massage_order(orders[index])
        if subject:
            return RequestError(f"{bad.path} {bad.why}: {bad.reason}", bad.path)
    return None
