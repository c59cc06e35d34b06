"""Audit one patient's 97124 Claims exactly as the claim-prepare hook evaluates a claim.

The Claim is the subject, its `patient` the patient, the Encounter of its 97124 line the visit,
and the patient's resources (with the shared ones they reference) the record. This module runs
in worker processes (local or on Dask workers): plain data in, plain rows out.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from audit.store import PatientGroup, massage_item
from plugin import (
    MASSAGE,
    Policy,
    Record,
    Severity,
    Subject,
    evaluate,
    id_part,
    item_quantity,
    nearest_allocation,
    payer_profile,
    ref_key,
    visit_billed_units,
    visit_day,
    visit_massage_lines,
    visit_units,
)

WORST_FIRST = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)


def visit_of(claim: dict) -> str | None:
    """The Encounter id of the claim's first 97124 line that names one."""
    items = claim.get("item")
    for item in items if isinstance(items, list) else []:
        encounters = item.get("encounter") if massage_item(item) else None
        for encounter in encounters if isinstance(encounters, list) else []:
            key = ref_key(encounter.get("reference")) if isinstance(encounter, dict) else None
            if key and key.startswith("Encounter/"):
                return id_part(key)
    return None


def _net(line: Any) -> tuple[Decimal, str | None]:
    net = line.net
    if net is None or net.value is None:
        return Decimal(0), None
    return Decimal(str(net.value)), net.currency


def audit_claim(claim: dict, patient: str, resources: list[dict], policy: Policy,
                places: list[str] | None = None) -> dict:
    """{"claim": audited row or None, "findings": rows, "problems": [(where, reason)]}; `places`
    (file:line of each resource) name a skipped resource that has no id."""
    claim_id = claim.get("id")
    record = Record.from_resources(Subject.CLAIM, patient, visit_of(claim), claim=claim, resources=resources)
    problems = [(_place(s.where, places), f"{s.why.removeprefix('is ')}: {s.reason}") for s in record.skipped]
    if record.claim is None:   # the hook answers 400 for such a claim: nothing to audit
        return {"claim": None, "findings": [], "problems": problems}
    findings = evaluate(record, policy).findings
    day = visit_day(record)
    service_date = day.isoformat() if day else ""
    payer = payer_profile(record, policy).id
    lines = visit_massage_lines(record)
    billed = _count(sum(item_quantity(line) for line in lines))
    computed = visit_units(record, policy)   # the units rule's own reading of the minutes
    supported = None
    if computed is not None:   # the permitted allocation nearest what was billed, as the card says
        supported = nearest_allocation(computed[2], visit_billed_units(record, policy), MASSAGE).get(MASSAGE, 0)
    nets = [_net(line) for line in lines]
    currency = next((c for _, c in nets if c), None)
    severities = {f.severity for f in findings}
    worst = next((s.value for s in WORST_FIRST if s in severities), "")
    keys = (claim_id, patient, service_date, payer)
    return {
        "claim": (*keys, len(findings), worst, billed, supported, float(sum(n for n, _ in nets)), currency),
        "findings": [(*keys, f.code, f.severity.value, f.summary, i) for i, f in enumerate(findings)],
        "problems": problems,
    }


def _count(units: int | Decimal) -> int | float:
    """Units billed as SQLite stores them: whole counts as integers, a fractional one (a units error the
    units card reports) as a real number, never rounded."""
    return int(units) if units == int(units) else float(units)


def _place(where: str, places: list[str] | None) -> str:
    """A resource's `Type/id`, else (`resources[i]`) its file and line in the export."""
    index = where.removeprefix("resources[").removesuffix("]")
    return places[int(index)] if places and where.startswith("resources[") and index.isdigit() else where


def audit_group(group: PatientGroup, policy: Policy) -> list[dict]:
    """Every listed 97124 Claim of one patient. Other Claims are not part of a claim's record
    (the hook's prefetch carries none)."""
    claims, rest, places = {}, [], []
    for line, place in zip(group.lines, group.places, strict=True):
        resource = json.loads(line)
        if resource.get("resourceType") == "Claim":
            claims.setdefault(resource.get("id"), resource)   # the first copy of an id wins
        else:
            rest.append(resource)
            places.append(place)
    return [audit_claim(claims[cid], group.patient, rest, policy, places) for cid in group.claims]


def audit_batch(groups: list[PatientGroup], policy: Policy) -> list[dict]:
    return [result for group in groups for result in audit_group(group, policy)]
