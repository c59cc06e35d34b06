"""The one place that knows CDS Hooks card JSON: findings in, cards out."""
from __future__ import annotations

import logging
import uuid
from typing import Any, Iterable

from cds_hooks.config import Config
from plugin.findings import ClaimLineFix, Finding, Fix, OrderFix, Severity
from plugin.fixes import apply
from plugin.record import Record

log = logging.getLogger(__name__)

OVERRIDE_REASONS = (
    ("documentation-attached", "Documentation supporting the service is attached"),
    ("payer-exception", "Payer-specific exception or prior authorization applies"),
    ("patient-pay-agreed", "Patient agreed to pay; the payer will not be billed"),
    ("clinical-judgement", "Clinical judgement: the card does not apply to this patient"),
)


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
        resource = apply(fix, record.raw(target))
    except ValueError as error:  # a fix that would produce invalid FHIR is dropped, not sent
        log.warning("suggestion dropped: %s", type(error).__name__)
        return None
    return {"label": fix.label, "uuid": str(uuid.uuid4()), "isRecommended": recommended,
            "actions": [{"type": "update", "description": fix.label, "resource": resource}]}


def _detail(finding: Finding) -> str:
    parts = [finding.detail.strip()]
    if finding.evidence:
        parts.append("**Evidence:** " + ", ".join(f"`{e}`" for e in finding.evidence))
    cite = finding.citation
    parts.append(f"**Source:** [{cite}]({cite.url}) · rule `{finding.code}`")
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
        out["overrideReasons"] = [{"system": system, "code": c, "display": d} for c, d in OVERRIDE_REASONS]
    return out


def cards(findings: Iterable[Finding], record: Record, config: Config) -> list[dict]:
    return [card(f, record, config) for f in findings]
