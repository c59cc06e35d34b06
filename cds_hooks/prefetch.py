"""Gather the FHIR data a hook needs: the EHR's prefetch first, its FHIR server second.

Each prefetch key's completeness is decided once (plugin.completeness): `null` and empty
searches are complete answers; an absent key or a failed one (an OperationOutcome) is queried on
`fhirServer`; a searchset with a `next` link has the rest of its pages fetched from there. What
cannot be had is UNAVAILABLE (a 412 for a required key) or stays PARTIAL, and the rules that
would report an absence in it stay quiet. The server must be allowlisted; the EHR's bearer token
is never logged and never sent to another origin.

After that first round, follow-up searches fetch what no prefetch template can reach: the
Provenance of the visit's Procedures, note documents and active plan of care, their performers
and signers, the orderers' and plan and report authors' Practitioner / PractitionerRole, the
diagnoses the order, services and claim cite, the payer Organization, and the Binary holding a
note document's text. Each follow-up round asks only for resources nothing so far has brought,
in URLs short enough for any server (MAX_URL).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sized
from typing import Any
from urllib.parse import quote, urljoin

import requests

from cds_hooks.config import Config
from cds_hooks.errors import RequestError
from cds_hooks.fhir_client import FhirClient, allowed_server, merge_bundles, new_session, origin
from cds_hooks.hook_request import HookRequest
from cds_hooks.record_from_hook import record_from_hook
from cds_hooks.services import Service
from plugin import (
    Record,
    Status,
    classify,
    logical_key,
    massage_orders,
    massage_procedures,
    next_link,
    normal_base,
    reference_string,
    visit_notes,
)

log = logging.getLogger("cpt97124.fhir")

# Provenance names signers; a PractitionerRole names its Practitioner: one more round each at most.
FOLLOW_UP_ROUNDS = 3
MAX_NOTE_BINARIES = 4   # note documents of one visit whose text is a Binary to read
# Longest search URL sent, base included: servers commonly refuse a few KB; 2,000 is safe anywhere.
# Room is left for the paging parameters a server adds to its own `next` links.
MAX_URL = 2000
PAGING_ROOM = 200
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_PART = "#"  # key#2, key#3: further parts of a follow-up search split to keep URLs short


class DataUnavailable(RequestError):
    """Required data could not be had: CDS Hooks answers 412 Precondition Failed."""

    def __init__(self, keys: list[str], server_asked: bool = False):
        remedy = ("fhirServer did not return it (unreachable, token refused or a server error: the "
                  "service log's fhir-fetch lines say which); send it in prefetch or check fhirServer "
                  "and fhirAuthorization") if server_asked else \
            "send it in prefetch or give fhirServer and fhirAuthorization"
        super().__init__(f"required data unavailable: {', '.join(sorted(keys))}; {remedy}", "prefetch",
                         status=412, code="not-found")


class ServerNotAllowed(RequestError):
    def __init__(self):
        super().__init__("fhirServer is not an allowed FHIR server for this service; send the data in "
                         "prefetch or ask the operator to add the server's origin to the allowlist",
                         "fhirServer", status=400, code="security")


def render(template: str, context: dict) -> str | None:
    """Fill {{context.x}} tokens (URL-quoted); None when a token has no value (that query cannot run)."""
    out = template
    for key, value in context.items():
        token = "{{context." + key + "}}"
        if token in out:
            if not isinstance(value, str) or not value:
                return None
            out = out.replace(token, quote(value, safe=""))
    return None if "{{" in out else out


# -- follow-up searches -------------------------------------------------------------------------

def _local_ref(reference: Any, rtype: str, base: str) -> str | None:
    """`Type/id` for a reference to a `rtype` on this server; None for other types or servers."""
    ref = reference_string(reference)
    key = logical_key(ref, {normal_base(base)}) if ref else None
    if key is None or key.split("/")[0] != rtype or not _FHIR_ID.fullmatch(key.split("/")[1]):
        return None
    return key


def _missing(record: Record, refs: Iterable[str | None], asked: set[str]) -> list[str]:
    return sorted({r for r in refs if r and r not in asked and record.resolve(r) is None})


def split_search(key: str, prefix: str, values: list[str], base: str) -> dict[str, str]:
    """`prefix` + comma-joined values as one or more searches (key, key#2, ...), each URL at most
    MAX_URL characters with the base, and with PAGING_ROOM to spare for the server's next links."""
    room = MAX_URL - PAGING_ROOM - len(base.rstrip("/")) - 1 - len(prefix)
    parts: list[list[str]] = [[]]
    for value in values:
        quoted = quote(value, safe="/")
        used = sum(len(v) + 1 for v in parts[-1])
        if parts[-1] and used + len(quoted) > room:
            parts.append([])
        parts[-1].append(quoted)
    return {key if i == 0 else f"{key}{_PART}{i + 1}": prefix + ",".join(part)
            for i, part in enumerate(parts) if part}


def follow_up_queries(record: Record, base: str, asked: set[str]) -> dict[str, str]:
    """Searches for what the visit's 97124 Procedures and the Coverage point to and nothing
    brought yet.

    `asked` holds the `Type/id`s already searched for; it is updated, so no id is asked twice.
    A long id list becomes several searches (`provenance`, `provenance#2`, ...).
    """
    # the services whose signatures and performers are checked, and the visit's note documents
    procedures, notes = massage_procedures(record), visit_notes(record)
    visit_refs = {f"Procedure/{p.id}" for p in procedures if p.id and _FHIR_ID.fullmatch(p.id)}
    plans = [c for c in record.all("CarePlan") if c.status == "active"]  # certified by a Provenance
    visit_refs |= {f"CarePlan/{c.id}" for c in plans if c.id and _FHIR_ID.fullmatch(c.id)}
    visit_refs |= {f"DocumentReference/{d.id}" for d in notes if d.id and _FHIR_ID.fullmatch(d.id)}
    provenances = [p for p in record.all("Provenance")
                   if any(record.key(t, p) in visit_refs for t in p.target or [])]
    signed = {record.key(t, p) for p in provenances for t in p.target or []}
    unsigned = sorted(r for r in visit_refs - signed if f"Provenance:{r}" not in asked)
    # Whose licence the rules read: performers, orderers, plan authors, report authors, signers.
    actors = [perf.actor for p in procedures for perf in p.performer or []]
    actors += [o.requester for o in record.all("ServiceRequest") if o.requester]
    actors += [c.author for c in plans if c.author]
    actors += [who for d in record.all("DocumentReference") for who in [*(d.author or []), d.authenticator] if who]
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
        queries.update(split_search("provenance", "Provenance?target=", unsigned, base))
    for key, refs in wanted.items():
        if refs:
            asked.update(refs)
            rtype = refs[0].split("/")[0]
            queries.update(split_search(key, f"{rtype}?_id=", [r.split("/")[1] for r in refs], base))
    # A note document's text kept as a Binary on this server: read each one (Binary is seldom searchable).
    binaries = _missing(record, (_local_ref(c.attachment.url, "Binary", base)
                                 for d in notes for c in d.content or []
                                 if c.attachment is not None and c.attachment.data is None and c.attachment.url),
                        asked)
    for n, ref in enumerate(binaries[:MAX_NOTE_BINARIES], start=1):
        asked.add(ref)
        queries["note" if n == 1 else f"note{n}"] = ref
    return queries


def key_of_part(key: str) -> str:
    """The prefetch or follow-up key a (possibly split) search answers."""
    return key.split(_PART, 1)[0]


def _merge(data: dict, fetched: dict) -> None:
    for part, value in fetched.items():
        key = key_of_part(part)
        data[key] = merge_bundles(data[key], value) if isinstance(data.get(key), dict) else value


# -- gathering ----------------------------------------------------------------------------------

def _sent_status(value: Any, held: Sized | None) -> Status:
    """A key's status as the EHR sent it, its entries held back unparsed counted: a Bundle that
    held some back had data (and no next link: cds_hooks/hook_body.py)."""
    status = classify(value)
    return Status.COMPLETE if held and status is Status.EMPTY else status


def gather(service: Service, request: HookRequest, config: Config, record: Record | None = None,
           session: Callable[[], requests.Session] = new_session) -> tuple[dict, list[str]]:
    """Prefetch data by key, completed from fhirServer where the EHR did not send it all, and the
    keys still missing (unavailable or partial).

    Every resource gathered is also added to `record` (built from the context if not given) as
    it arrives, so each is validated once and the follow-up rounds read what is already known;
    `record.states` ends with each key's completeness. Raises DataUnavailable when a required key
    is absent or failed and cannot be fetched (never for `null`, an empty or a partial search),
    and ServerNotAllowed when such a key needs a fhirServer that is not on the allowlist (it is
    never contacted). `session` makes the HTTP session of the FHIR calls (tests inject theirs).
    """
    record = record if record is not None else record_from_hook(service.hook, request.context,
                                                                fhir_server=request.fhir_server)
    sent = {k: v for k, v in request.prefetch.items() if k in service.prefetch}
    held = request.held.entries if request.held is not None else {}
    states = {k: _sent_status(v, held.get(k)) for k, v in sent.items()}
    data = {k: v for k, v in sent.items() if states[k] is not Status.FAILED}
    record.add_prefetch(data, states=states, held=request.held)
    server = request.fhir_server
    queries, pages = {}, {}
    partial_refetch: set[str] = set()  # partial keys searched again in full
    for key, template in service.prefetch.items():
        # A query is rendered only for a key that needs one (the EHR usually sent them all).
        if states.get(key) is Status.PARTIAL:
            link = urljoin(server + "/", next_link(sent[key])) if server else None
            if server and link and origin(link) == origin(server):
                pages[key] = link  # the rest, from where the EHR's own search left off
            elif (query := render(template, request.context)) is not None:
                queries[key] = query  # a link to elsewhere: the whole search again, on fhirServer
                partial_refetch.add(key)
        elif key not in sent or states[key] is Status.FAILED:
            if (query := render(template, request.context)) is not None:
                queries[key] = query
    allowed = server is not None and allowed_server(server, config)
    if server and not allowed and service.required.intersection(set(queries) - partial_refetch):
        raise ServerNotAllowed()  # deciding would mean calling it: refuse, never contact it
    if allowed:
        failed = _fetch(service, request, config, data, queries, pages, record, session())
    else:
        # Fail open: what is missing is optional; list it (and, given a server, the follow-ups).
        failed = sorted(queries)
        if server:
            log.warning("fhirServer not allowlisted; optional searches skipped")
            failed += sorted({key_of_part(k) for k in follow_up_queries(record, server, set())})
    unfetched = sorted(set(failed) - set(pages) - partial_refetch)
    missing_required = sorted(service.required.intersection(unfetched))
    if missing_required:
        raise DataUnavailable(missing_required, server_asked=allowed)
    record.add_prefetch({}, unavailable=unfetched)
    partial = sorted(k for k, status in record.states.items() if status is Status.PARTIAL)
    return data, sorted(set(unfetched) | set(partial))


def _fetch(service: Service, request: HookRequest, config: Config, data: dict,
           queries: dict[str, str], pages: dict[str, str], record: Record,
           session: requests.Session) -> list[str]:
    """The missing prefetch keys and the rest of partial ones, then follow-up rounds; returns
    the keys that failed (a partial key that failed stays partial)."""
    server = request.fhir_server
    assert server is not None, "called only with an allowlisted fhirServer"
    failed: list[str] = []
    asked: set[str] = set()
    with FhirClient(server, request.access_token, config, session) as client:
        if queries or pages:
            fetched, failed = client.search_all({**queries, **pages})
            for key in pages:
                if key in fetched:  # the EHR's first page plus the rest, now complete
                    fetched[key] = merge_bundles(data[key], fetched[key])
            data.update(fetched)
            record.add_prefetch(fetched)
            if service.required.intersection(set(failed) - set(pages) - set(data)):
                return failed  # the answer is 412 whatever follows; do not make the EHR wait
        for _ in range(FOLLOW_UP_ROUNDS):
            round_queries = follow_up_queries(record, server, asked)
            if not round_queries:
                break
            fetched, round_failed = client.search_all(round_queries)
            _merge(data, fetched)
            parts = {key_of_part(k) for k in fetched}
            record.add_prefetch({k: data[k] for k in parts})
            failed += sorted({key_of_part(k) for k in round_failed})
    return failed
