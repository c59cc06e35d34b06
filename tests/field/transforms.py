"""Equivalent re-expressions of a CDS Hooks request: the same record in another valid FHIR form.

Each transform takes a request (as a fixture's request.json holds it) and returns a new one
that a correct reader must answer with the same cards. See shared/domain/fhir-field-data.md.
`effects()` reduces an answer to what must not change: card codes and indicators, and what each
suggestion does to the resource, with references read back to `Type/id` form.
"""
from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

BASE = "https://ehr.example.org/fhir"
_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")
# Elements whose value is a FHIR decimal (Quantity, Money and their profiles; Claim.item.factor).
_DECIMAL_PARENTS = ("quantity", "unitPrice", "net", "total", "valueQuantity", "low", "high", "dueDuration")


def _walk(value: Any, fn: Callable[[Any, Any, Any], None]) -> None:
    """Call fn(container, key, item) for every item of every dict and list, depth first."""
    if isinstance(value, dict):
        for key in list(value):
            _walk(value[key], fn)
            fn(value, key, value[key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, fn)
            fn(value, i, item)


def bundles(request: dict) -> Iterator[dict]:
    """Every Bundle of the request: the prefetch values and context.draftOrders."""
    for value in list(request.get("prefetch", {}).values()) + [request["context"].get("draftOrders")]:
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            yield value


def _map_references(request: dict, change: Callable[[str], str | None]) -> dict:
    out = copy.deepcopy(request)

    def fn(container, key, item):
        if key == "reference" and isinstance(item, str) and isinstance(container, dict):
            new = change(item)
            if new is not None:
                container[key] = new
    _walk(out["context"], fn)
    _walk(out.get("prefetch", {}), fn)
    return out


# -- references ---------------------------------------------------------------------------------
def absolute_references(request: dict) -> dict:
    """Every relative reference written as an absolute URL on the EHR's server, whose base the
    Bundles' fullUrls name."""
    out = _map_references(request, lambda r: f"{BASE}/{r}" if _RELATIVE.match(r) else None)
    for bundle in bundles(out):
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") or {}
            if res.get("id"):
                entry["fullUrl"] = f"{BASE}/{res['resourceType']}/{res['id']}"
    return out


def urn(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}"


def urn_uuid_references(request: dict) -> dict:
    """Bundle entries carry `urn:uuid:` fullUrls, and every reference to them uses the urn."""
    out = copy.deepcopy(request)
    known = set()
    for bundle in bundles(out):
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") or {}
            if res.get("id"):
                key = f"{res['resourceType']}/{res['id']}"
                entry["fullUrl"] = urn(key)
                known.add(key)
    return _map_references(out, lambda r: urn(r) if r in known else None)


def versioned_references(request: dict) -> dict:
    """Every relative reference pinned to a version: `Type/id/_history/1`."""
    return _map_references(request, lambda r: f"{r}/_history/1" if _RELATIVE.match(r) else None)


def contained_coverage(request: dict) -> dict:
    """The claim (or each draft order) carries its payer's Coverage and Organization contained
    (`#cov1`, `#org1-1`), and the prefetch no longer holds them."""
    out = copy.deepcopy(request)
    coverage_bundle = out.get("prefetch", {}).get("coverage")
    if not isinstance(coverage_bundle, dict):
        return out
    claim = out["context"].get("claim")
    if claim is not None:
        holders = [(claim, [ins["coverage"] for ins in claim.get("insurance") or []])]
    else:
        orders = [e["resource"] for e in out["context"]["draftOrders"].get("entry") or []]
        holders = [(order, order.get("insurance") or []) for order in orders]
    by_key = {f"{e['resource']['resourceType']}/{e['resource'].get('id')}": e
              for e in coverage_bundle.get("entry") or []}
    moved = []
    for holder, references in holders:
        for n, reference in enumerate(references, start=1):
            entry = by_key.get(reference.get("reference", ""))
            if entry is None:
                continue
            coverage = copy.deepcopy(entry["resource"])
            coverage["id"] = f"cov{n}"
            holder.setdefault("contained", [])
            for m, payor in enumerate(coverage.get("payor") or [], start=1):
                org_entry = by_key.get(payor.get("reference", ""))
                if org_entry is not None:
                    org = {**copy.deepcopy(org_entry["resource"]), "id": f"org{n}-{m}"}
                    holder["contained"].append(org)
                    payor["reference"] = f"#{org['id']}"
                    moved.append(org_entry)
            holder["contained"].append(coverage)
            reference["reference"] = f"#cov{n}"
            moved.append(entry)
    coverage_bundle["entry"] = [e for e in coverage_bundle.get("entry") or [] if e not in moved]
    return out


# -- times ---------------------------------------------------------------------------------------
def _shift_instants(request: dict, zone: timezone) -> dict:
    out = copy.deepcopy(request)

    def fn(container, key, item):
        if isinstance(item, str) and _INSTANT.match(item):
            moment = datetime.fromisoformat(item.replace("Z", "+00:00")).astimezone(zone)
            text = moment.isoformat()
            container[key] = text.replace("+00:00", "Z") if zone is UTC else text
    _walk(out, fn)
    return out


def instants_in_utc(request: dict) -> dict:
    """Every dateTime/instant with a time written in UTC (`Z`): the same instants."""
    return _shift_instants(request, UTC)


def instants_in_tokyo(request: dict) -> dict:
    """Every dateTime/instant with a time written at +09:00: the same instants."""
    return _shift_instants(request, timezone(timedelta(hours=9)))


def instants_with_fractions(request: dict) -> dict:
    """Every dateTime/instant with a time written with milliseconds: the same instants."""
    out = copy.deepcopy(request)

    def fn(container, key, item):
        if isinstance(item, str) and _INSTANT.match(item) and "." not in item:
            moment = datetime.fromisoformat(item.replace("Z", "+00:00"))
            text = moment.isoformat(timespec="milliseconds")
            container[key] = text.replace("+00:00", "Z") if item.endswith("Z") else text
    _walk(out, fn)
    return out


# -- numbers and searches --------------------------------------------------------------------------
def decimals_with_trailing_zeros(request: dict) -> dict:
    """Every Quantity/Money value and Claim.item.factor written with two more decimal places."""
    out = copy.deepcopy(request)

    def widen(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return value
        exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        return exact.quantize(Decimal(1).scaleb(min(exact.as_tuple().exponent, 0) - 2))

    def fn(container, key, item):
        if isinstance(item, dict):
            if key in _DECIMAL_PARENTS and "value" in item:
                item["value"] = widen(item["value"])
            if "factor" in item:
                item["factor"] = widen(item["factor"])
    _walk(out, fn)
    return out


def empty_searches_as_null(request: dict) -> dict:
    """Each prefetch search that found nothing sent as `null` (the EHR has no data for the key)."""
    out = copy.deepcopy(request)
    for key, value in out.get("prefetch", {}).items():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle" and not value.get("entry"):
            out["prefetch"][key] = None
    return out


def outcome_warnings(request: dict) -> dict:
    """Each prefetch search also carries a warning OperationOutcome (search.mode `outcome`), as
    servers add for a parameter they ignored: a warning, not a failure."""
    out = copy.deepcopy(request)
    for value in out.get("prefetch", {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            value.setdefault("entry", []).append({"resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "not-supported", "diagnostics": "_sort ignored"}]},
                "search": {"mode": "outcome"}})
    return out


TRANSFORMS: dict[str, Callable[[dict], dict]] = {
    "absolute-references": absolute_references,
    "urn-uuid-references": urn_uuid_references,
    "versioned-references": versioned_references,
    "contained-coverage": contained_coverage,
    "instants-in-utc": instants_in_utc,
    "instants-at-plus-9": instants_in_tokyo,
    "instants-with-fractions": instants_with_fractions,
    "decimals-with-trailing-zeros": decimals_with_trailing_zeros,
    "empty-searches-as-null": empty_searches_as_null,
    "outcome-warnings": outcome_warnings,
}


# -- what must not change -----------------------------------------------------------------------------
def plain_reference(ref: str, request: dict) -> str:
    """A reference written by any transform, back in `Type/id` form."""
    urns = {urn(f"{e['resource']['resourceType']}/{e['resource'].get('id')}"):
            f"{e['resource']['resourceType']}/{e['resource'].get('id')}"
            for b in bundles(request) for e in b.get("entry") or [] if isinstance(e.get("resource"), dict)}
    ref = urns.get(ref, ref)
    ref = ref[len(BASE) + 1:] if ref.startswith(BASE + "/") else ref
    return ref.split("/_history/")[0]


def _effect(resource: dict, request: dict) -> tuple:
    """What a suggested resource says, independent of how the input was written."""
    if resource.get("resourceType") == "Claim":
        lines = tuple(sorted(
            (tuple(c.get("code") for c in line["productOrService"].get("coding") or []),
             Decimal(str((line.get("quantity") or {}).get("value", 0))).normalize(),
             tuple(c["code"] for m in line.get("modifier") or [] for c in (m.get("coding") or [])[:1]))
            for line in resource.get("item") or []))
        total = (resource.get("total") or {}).get("value")
        return "Claim", lines, None if total is None else Decimal(str(total)).normalize()
    cited = tuple(sorted(plain_reference(r["reference"], request)
                         for r in resource.get("reasonReference") or [] if "reference" in r))
    codes = tuple(c.get("code") for c in (resource.get("code") or {}).get("coding") or [])
    return resource.get("resourceType"), cited, codes, "insurance" in resource


def effects(status: int, answer: dict, request: dict) -> tuple:
    """(status, sorted (card code, indicator, suggestion effects)) of one answer."""
    if status != 200:
        return status, ()
    cards = []
    for card in answer["cards"]:
        done = tuple(_effect(a["resource"], request) for s in card.get("suggestions") or []
                     for a in s["actions"] if "resource" in a)
        cards.append((card["source"]["topic"]["code"], card["indicator"], done))
    return status, tuple(sorted(cards))
