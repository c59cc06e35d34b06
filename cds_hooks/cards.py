"""The one place that knows CDS Hooks card JSON: findings in, cards out."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import Any

from cds_hooks.config import Config
from plugin import (
    OVERRIDE_REASONS,
    ClaimLineFix,
    Finding,
    Fix,
    OrderFix,
    Record,
    Severity,
    apply_fix,
)

log = logging.getLogger(__name__)

MAX_EVIDENCE = 6  # references on the evidence line; more are counted, not listed


def _target(fix: Fix, record: Record) -> Any | None:
    if isinstance(fix, ClaimLineFix):
        return record.claim
    if isinstance(fix, OrderFix):
        return next((o for o in record.draft_orders if o.id == fix.order_id), None)
    return None


def _suggestion(fix: Fix, record: Record, recommended: bool) -> dict | None:
    target = _target(fix, record)
    if target is None:
        return None
    try:
        resource = apply_fix(fix, record.raw(target))
    except ValueError as error:  # a fix that would produce invalid FHIR is dropped, not sent
        log.warning("suggestion dropped: %s", type(error).__name__)
        return None
    return {"label": fix.label, "uuid": str(uuid.uuid4()), "isRecommended": recommended,
            "actions": [{"type": "update", "description": fix.label, "resource": resource}]}


def _detail(finding: Finding) -> str:
    """The rule's words, the policy as a citation line (the EHR already shows `source.label` as
    "Source:" and links `source.url`), then one closing line of resource references."""
    parts = [finding.detail.strip(), f"Policy: {finding.citation}."]
    evidence = list(dict.fromkeys(finding.evidence))
    if evidence:
        more = len(evidence) - MAX_EVIDENCE
        listed = ", ".join(f"`{e}`" for e in evidence[:MAX_EVIDENCE]) + (f" and {more} more" if more > 0 else "")
        parts.append("Evidence: " + listed)
    return "\n\n".join(p for p in parts if p)


def card(finding: Finding, record: Record, config: Config) -> dict:
    out: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": finding.summary,
        "indicator": finding.severity.value,
        "detail": _detail(finding),
        "source": {
            "label": config.product_label,
            "url": finding.citation.url,
            "topic": {"system": config.rule_system, "code": finding.code, "display": finding.title},
        },
    }
    # The rule lists its fixes best first: only the first is recommended.
    suggestions = [s for s in (_suggestion(f, record, i == 0) for i, f in enumerate(finding.fixes))
                   if s is not None]
    if suggestions:
        out["suggestions"] = suggestions
        out["selectionBehavior"] = "at-most-one"
    if finding.severity is not Severity.INFO:
        system = config.rule_system.rsplit("/", 1)[0] + "/override-reason"
        out["overrideReasons"] = [{"system": system, "code": c, "display": OVERRIDE_REASONS[c]}
                                  for c in finding.override_reasons]
    return out


def cards(findings: Iterable[Finding], record: Record, config: Config) -> list[dict]:
    return [card(f, record, config) for f in findings]
