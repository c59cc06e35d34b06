"""Helpers for the billing/modifier/audit/performer rule tests: evaluate a visit, apply a fix, re-evaluate."""
from __future__ import annotations

from plugin import Finding, evaluate
from plugin.fixes import apply
from tests.builders import Visit

CLAIM_SERVICE = "/cds-services/massage-97124-claim-check"


def run(visit: Visit, policy, hook: str = "claim-prepare") -> dict[str, list[Finding]]:
    """Findings of a full evaluation, grouped by rule code."""
    out: dict[str, list[Finding]] = {}
    for finding in evaluate(visit.record(hook), policy).findings:
        out.setdefault(finding.code, []).append(finding)
    return out


def apply_fix(visit: Visit, finding: Finding) -> None:
    """Accept the finding's first suggestion: the visit's claim becomes the updated Claim."""
    visit.claim = apply(finding.fixes[0], visit.claim)


def line_modifiers(claim: dict, sequence: int) -> list[str]:
    item = next(i for i in claim["item"] if i["sequence"] == sequence)
    return [c["code"] for m in item.get("modifier", []) for c in m["coding"]]


def cards_by_code(client, visit: Visit) -> dict[str, dict]:
    response = client.post(CLAIM_SERVICE, json=visit.request("claim-prepare"))
    assert response.status_code == 200, response.get_json()
    return {c["source"]["topic"]["code"]: c for c in response.get_json()["cards"]}
