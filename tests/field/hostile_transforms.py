"""More equivalent re-expressions of a request, each combining several valid forms at once the way
real EHRs and FHIR servers send them (beyond the single forms of tests/field/transforms.py).

Each takes a request and returns a new one that a correct reader answers with the same cards.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from tests.field.transforms import (
    _INSTANT,
    BASE,
    _map_references,
    _shift_instants,
    _walk,
    absolute_references,
    bundles,
)

_REFERENCED = ("Procedure", "Claim", "ServiceRequest", "Goal", "CarePlan", "Observation", "Encounter")
_VERSIONED = ("Goal", "CarePlan", "Procedure", "Observation", "Condition", "Coverage", "Encounter")


def _resources(request: dict):
    """Every resource of the request (context and prefetch), contained ones included."""
    found = []

    def fn(container, key, item):
        if isinstance(item, dict) and isinstance(item.get("resourceType"), str):
            found.append(item)
    _walk(request["context"], fn)
    _walk(request.get("prefetch", {}), fn)
    # Bundle and Binary are no DomainResource: they carry neither extensions nor narrative.
    return [r for r in found if r.get("resourceType") not in ("Bundle", "Binary")]


def references_every_way(request: dict) -> dict:
    """Absolute references pinned to a version with a trailing slash (`…/Goal/g1/_history/3/`),
    each also carrying an identifier and a type; resources carry a contained resource that points
    back at its container (`#`) and an unknown extension pointing at it (`#b1`); unknown
    extensions, primitive extensions (`_status`) and narrative everywhere."""
    out = absolute_references(request)
    out = _map_references(out, lambda r: f"{r}/_history/3/" if r.startswith(BASE + "/") else None)

    def fn(container, key, item):
        if isinstance(item, dict) and isinstance(item.get("reference"), str):
            item["identifier"] = {"system": "urn:oid:2.16.840.1.113883.19.5", "value": f"X{len(item['reference'])}"}
            item["type"] = item["reference"][len(BASE) + 1:].split("/")[0] if item["reference"].startswith(BASE) \
                else item.get("type", "Resource")
    _walk(out, fn)
    for resource in _resources(out):
        resource.setdefault("extension", []).append({"url": "http://ehr.example.org/fhir/ext/x", "valueString": "y"})
        if isinstance(resource.get("status"), str):
            resource["_status"] = {"extension": [{"url": "http://ehr.example.org/fhir/ext/s", "valueBoolean": True}]}
        resource["text"] = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
        if resource.get("resourceType") in _REFERENCED and resource.get("id"):
            resource.setdefault("contained", []).append(
                {"resourceType": "Basic", "id": "b1", "code": {"text": "note"}, "subject": {"reference": "#"}})
            resource["extension"].append({"url": "http://ehr.example.org/fhir/ext/note",
                                          "valueReference": {"reference": "#b1"}})
    return out


def server_spelled_otherwise(request: dict) -> dict:
    """Absolute references whose server base is spelled otherwise than the Bundles' fullUrls:
    host in capitals and the default port written out (`HTTPS://EHR.Example.org:443/fhir/…`)."""
    out = absolute_references(request)
    host = BASE.split("/")[2]
    return _map_references(out, lambda r: r.replace(f"https://{host}/", f"HTTPS://{host.upper()}:443/")
                           if r.startswith(BASE + "/") else None)


def versions_and_far_offsets(request: dict) -> dict:
    """Every instant written at +14:00; claim lines with `servicedPeriod` instead of
    `servicedDate`; each resource with `meta.versionId` 2 and a `meta.lastUpdated`, preceded in
    its Bundle by an older version of itself (bdl-7) that says otherwise — older as an instant,
    though its lastUpdated text sorts later; numbers in exponent form (`3.8E+1`)."""
    out = _shift_instants(request, timezone(timedelta(hours=14)))
    for item in (out["context"].get("claim") or {}).get("item") or []:
        if "servicedDate" in item:
            day = item.pop("servicedDate")
            item["servicedPeriod"] = {"start": day, "end": day}
    for bundle in out.get("prefetch", {}).values():
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            continue
        entries = []
        for entry in bundle.get("entry") or []:
            resource = entry.get("resource") or {}
            if resource.get("resourceType") in _VERSIONED and resource.get("id"):
                resource["meta"] = {"versionId": "2", "lastUpdated": "2025-12-31T20:00:00.5-10:00"}
                older = copy.deepcopy(entry)
                older["resource"]["meta"] = {"versionId": "1", "lastUpdated": "2026-01-01T05:00:00Z"}
                older["resource"]["status"] = "entered-in-error"
                if resource["resourceType"] == "Goal":
                    del older["resource"]["status"]
                    older["resource"]["lifecycleStatus"] = "cancelled"
                elif resource["resourceType"] == "Condition":
                    del older["resource"]["status"]
                    older["resource"]["verificationStatus"] = {"coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                        "code": "entered-in-error"}]}
                entries.append(older)
            entries.append(entry)
        bundle["entry"] = entries

    def exponent(container, key, item):
        if key == "value" and isinstance(item, (int, Decimal)) and not isinstance(item, bool) and item:
            container[key] = Decimal(f"{Decimal(item).normalize():E}")
    _walk(out, exponent)
    return out


def searchsets_as_servers_send_them(request: dict) -> dict:
    """Instants at `-00:00` with microseconds; each search with a `self` link, its first entry
    `search.mode` match and the rest `include`, an information-only OperationOutcome first; an
    empty search with neither `entry` nor `total`."""
    out = copy.deepcopy(request)

    def fn(container, key, item):
        if isinstance(item, str) and _INSTANT.match(item):
            moment = datetime.fromisoformat(item.replace("Z", "+00:00")).astimezone(UTC)
            container[key] = moment.isoformat(timespec="microseconds").replace("+00:00", "-00:00")
    _walk(out, fn)
    for key, bundle in out.get("prefetch", {}).items():
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            continue
        bundle["link"] = [{"relation": "self", "url": f"{BASE}/{key}?_count=50"}]
        entries = bundle.get("entry") or []
        if not entries:
            bundle.pop("entry", None)
            bundle.pop("total", None)
            continue
        for n, entry in enumerate(entries):
            entry["search"] = {"mode": "match" if n == 0 else "include"}
        entries.insert(0, {"resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "information", "code": "informational", "diagnostics": "served from cache"}]},
            "search": {"mode": "outcome"}})
    return out


def collections_with_currency(request: dict) -> dict:
    """Each prefetch search sent as a Bundle of type `collection` (no total, no search modes);
    every Money (totals, nets, prices) with its currency."""
    out = copy.deepcopy(request)
    for bundle in out.get("prefetch", {}).values():
        if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle":
            bundle["type"] = "collection"
            bundle.pop("total", None)
            for entry in bundle.get("entry") or []:
                entry.pop("search", None)

    def fn(container, key, item):
        if key in ("total", "net", "unitPrice") and isinstance(item, dict) and "value" in item:
            item["currency"] = "USD"
    _walk(out, fn)
    return out


def batch_responses(request: dict) -> dict:
    """Each prefetch search sent as a `batch-response` Bundle of reads, each entry with its
    `response.status`."""
    out = copy.deepcopy(request)
    for bundle in out.get("prefetch", {}).values():
        if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle":
            bundle["type"] = "batch-response"
            bundle.pop("total", None)
            for entry in bundle.get("entry") or []:
                entry.pop("search", None)
                entry["response"] = {"status": "200 OK"}
    return out


def provenance_in_its_target(request: dict) -> dict:
    """Each Provenance of a Procedure moved into that Procedure's `contained`, its target written
    `#` (the container, R4 dom-3)."""
    out = copy.deepcopy(request)
    for bundle in bundles(out):
        entries = bundle.get("entry") or []
        targets = {f"{e['resource']['resourceType']}/{e['resource'].get('id')}": e["resource"]
                   for e in entries if isinstance(e.get("resource"), dict)}
        for entry in list(entries):
            resource = entry.get("resource") or {}
            if resource.get("resourceType") != "Provenance" or len(resource.get("target") or []) != 1:
                continue
            target = targets.get(resource["target"][0].get("reference", ""))
            if target is not None and target["resourceType"] == "Procedure":
                contained = {**copy.deepcopy(resource), "target": [{"reference": "#"}]}
                contained["id"] = f"prov{len(target.get('contained') or []) + 1}"
                target.setdefault("contained", []).append(contained)
                entries.remove(entry)
    return out


HOSTILE: dict[str, Callable[[dict], dict]] = {
    "references-every-way": references_every_way,
    "versions-and-far-offsets": versions_and_far_offsets,
    "searchsets-as-servers-send-them": searchsets_as_servers_send_them,
    "collections-with-currency": collections_with_currency,
    "batch-responses": batch_responses,
}
