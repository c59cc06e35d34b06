"""Gather the FHIR data a hook needs: the EHR's prefetch first, its FHIR server second.

A prefetch key counts as missing when absent, null, or an OperationOutcome. Missing keys are
queried on `fhirServer` (allowlisted) with the EHR's bearer token; the token is never logged.
After that first round, follow-up searches fetch what no prefetch template can reach: the
Provenance of the visit's Procedures and note documents, their performers and signers, the
diagnoses the order, services and claim cite, the payer Organization, and the Binary holding a
note document's text. Each
follow-up round asks only for resources nothing so far has brought.
"""
from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any, Iterable
from urllib.parse import quote

from cds_hooks.config import Config
from cds_hooks.errors import RequestError
from cds_hooks.fhir_client import FhirClient, allowed_server, merge_bundles
from cds_hooks.hook_request import HookRequest
from cds_hooks.services import Service
from plugin.documents import visit_notes
from plugin.facts import massage_orders, visit_procedures
from plugin.record import Record

log = logging.getLogger("cpt97124.fhir")

# Provenance names signers; a PractitionerRole names its Practitioner: one more round each at most.
FOLLOW_UP_ROUNDS = 3
MAX_NOTE_BINARIES = 4   # note documents of one visit whose text is a Binary to read
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class DataUnavailable(RequestError):
    """Required data could not be had: CDS Hooks answers 412 Precondition Failed."""

    def __init__(self, keys: list[str]):
        super().__init__(f"required data unavailable: {', '.join(sorted(keys))}; send it in prefetch "
                         "or give fhirServer and fhirAuthorization", "prefetch", status=412,
                         code="not-found")


class ServerNotAllowed(RequestError):
    def __init__(self):
        super().__init__("fhirServer is not an allowed FHIR server for this service; send the data in "
                         "prefetch or ask the operator to add the server's origin to the allowlist",
                         "fhirServer", status=400, code="security")


def usable(value: object) -> bool:
    return isinstance(value, dict) and value.get("resourceType") not in (None, "OperationOutcome")


def render(template: str, context: dict) -> str | None:
    """Fill {{context.x}} tokens (URL-quoted); None when a token has no value (that query cannot run)."""
    out = template
    for key, value in context.items():
        token = "{{context.%s}}" % key
        if token in out:
            if not isinstance(value, str) or not value:
                return None
            out = out.replace(token, quote(value, safe=""))
    return None if "{{" in out else out


# -- follow-up searches -------------------------------------------------------------------------

def _local_ref(reference: Any, rtype: str, base: str) -> str | None:
    """`Type/id` for a reference to a `rtype` on this server; None for other types or servers."""
    ref = getattr(reference, "reference", None)
    if not isinstance(ref, str):
        return None
    if "://" in ref:
        if not ref.startswith(base.rstrip("/") + "/"):
            return None
        ref = ref[len(base.rstrip("/")) + 1:]
    parts = ref.strip("/").split("/")
    if len(parts) != 2 or parts[0] != rtype or not _FHIR_ID.fullmatch(parts[1]):
        return None
    return ref.strip("/")


def _missing(record: Record, refs: Iterable[str | None], asked: set[str]) -> list[str]:
    return sorted({r for r in refs if r and r not in asked and record.resolve(r) is None})


def _ids(refs: list[str]) -> str:
    return ",".join(r.split("/")[1] for r in refs)


def follow_up_queries(record: Record, base: str, asked: set[str]) -> dict[str, str]:
    """Searches for what the visit's Procedures and the Coverage point to and nothing brought yet.

    `asked` holds the `Type/id`s already searched for; it is updated, so no id is asked twice.
    """
    procedures, notes = visit_procedures(record), visit_notes(record)
    visit_refs = {f"Procedure/{p.id}" for p in procedures if p.id and _FHIR_ID.fullmatch(p.id)}
    visit_refs |= {f"DocumentReference/{d.id}" for d in notes if d.id and _FHIR_ID.fullmatch(d.id)}
    provenances = [p for p in record.all("Provenance")
                   if any(_signed_ref(t, base) in visit_refs for t in p.target or [])]
    signed = {_signed_ref(t, base) for p in provenances for t in p.target or []}
    unsigned = sorted(r for r in visit_refs - signed if f"Provenance:{r}" not in asked)
    actors = [perf.actor for p in procedures for perf in p.performer or []]
    people = actors + [r.practitioner for r in record.all("PractitionerRole") if r.practitioner]
    people += [a.who for p in provenances for a in p.agent or []]
    people += [who for d in notes for who in [d.authenticator, *(d.author or [])] if who is not None]
    payors = [payor for c in record.all("Coverage") for payor in c.payor or []]
    # The diagnoses the order, the service and the claim cite: whose and whether current decides.
    claim = record.claim
    reasons = [r for s in [*massage_orders(record), *procedures] for r in s.reasonReference or []]
    reasons += [d.diagnosisReference for d in (claim.diagnosis or [] if claim is not None else [])
                if d.diagnosisReference is not None]
    wanted = {
        "diagnoses": _missing(record, (_local_ref(r, "Condition", base) for r in reasons), asked),
        "performers": _missing(record, (_local_ref(a, "Practitioner", base) for a in people), asked),
        "performerRoles": _missing(record, (_local_ref(a, "PractitionerRole", base) for a in actors), asked),
        "payors": _missing(record, (_local_ref(p, "Organization", base) for p in payors), asked),
    }
    queries = {}
    if unsigned:
        asked.update(f"Provenance:{r}" for r in unsigned)
        queries["provenance"] = "Provenance?target=" + ",".join(unsigned)
    for key, refs in wanted.items():
        if refs:
            asked.update(refs)
            queries[key] = f"{refs[0].split('/')[0]}?_id={_ids(refs)}"
    # A note document's text kept as a Binary on this server: read each one (Binary is seldom searchable).
    binaries = _missing(record, (_local_ref(SimpleNamespace(reference=c.attachment.url), "Binary", base)
                                 for d in notes for c in d.content or []
                                 if c.attachment is not None and c.attachment.data is None and c.attachment.url),
                        asked)
    for n, ref in enumerate(binaries[:MAX_NOTE_BINARIES], start=1):
        asked.add(ref)
        queries["note" if n == 1 else f"note{n}"] = ref
    return queries


def _signed_ref(target: Any, base: str) -> str | None:
    """`Type/id` of a Provenance target that can carry the visit's signatures (a service or its note)."""
    return _local_ref(target, "Procedure", base) or _local_ref(target, "DocumentReference", base)


def _merge(data: dict, fetched: dict) -> None:
    for key, value in fetched.items():
        data[key] = merge_bundles(data[key], value) if key in data else value


# -- gathering ----------------------------------------------------------------------------------

def gather(service: Service, request: HookRequest, config: Config,
           record: Record | None = None) -> tuple[dict, list[str]]:
    """Prefetch data by key, fetched where the EHR did not send it, and the keys still missing.

    Every resource gathered is also added to `record` (built from the context if not given) as
    it arrives, so each is validated once and the follow-up rounds read what is already known.
    Raises DataUnavailable when a required key cannot be had, and ServerNotAllowed when a
    required key is missing and fhirServer is not on the allowlist (it is never contacted).
    """
    record = record if record is not None else Record.build(service.hook, request.context)
    data = {k: v for k, v in request.prefetch.items() if k in service.prefetch and usable(v)}
    record.add_prefetch(data)
    queries = {}
    for key, template in service.prefetch.items():
        if key not in data and (query := render(template, request.context)) is not None:
            queries[key] = query
    server = request.fhir_server
    allowed = bool(server) and allowed_server(server, config)
    if server and not allowed and service.required.intersection(queries):
        raise ServerNotAllowed()  # deciding would mean calling it: refuse, never contact it
    if allowed:
        failed = _fetch(service, request, config, data, queries, record)
    else:
        # Fail open: what is missing is optional; list it (and, given a server, the follow-ups).
        failed = sorted(queries)
        if server:
            log.warning("fhirServer not allowlisted; optional searches skipped")
            failed += sorted(follow_up_queries(record, server, set()))
    missing_required = sorted(service.required.intersection(failed))
    if missing_required:
        raise DataUnavailable(missing_required)
    return data, sorted(set(failed))


def _fetch(service: Service, request: HookRequest, config: Config, data: dict,
           queries: dict[str, str], record: Record) -> list[str]:
    """First the missing prefetch keys, then follow-up rounds; returns the keys that failed."""
    server = request.fhir_server
    failed: list[str] = []
    asked: set[str] = set()
    with FhirClient(server, request.access_token, config) as client:
        if queries:
            fetched, failed = client.search_all(queries)
            _merge(data, fetched)
            record.add_prefetch(fetched)
            if service.required.intersection(failed):
                return failed  # the answer is 412 whatever follows; do not make the EHR wait
        for _ in range(FOLLOW_UP_ROUNDS):
            queries = follow_up_queries(record, server, asked)
            if not queries:
                break
            fetched, round_failed = client.search_all(queries)
            _merge(data, fetched)
            record.add_prefetch(fetched)
            failed += round_failed
    return failed
