"""What a rule says about a record: findings, their citations and the fixes they propose.

Findings are protocol-neutral. Only `cds_hooks.cards` turns them into CDS Hooks cards.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Citation:
    document: str
    section: str
    url: str

    def __str__(self) -> str:
        return f"{self.document}, {self.section}" if self.section else self.document


@dataclass(frozen=True)
class ClaimLineFix:
    """Change one Claim.item, identified by its `sequence`.

    `remove` drops the line; otherwise each field that is not None replaces the line's value.
    `modifiers` is the complete, ordered modifier list the line should carry.
    """

    label: str
    sequence: int
    remove: bool = False
    quantity: int | None = None
    modifiers: tuple[str, ...] | None = None
    product_code: str | None = None


@dataclass(frozen=True)
class OrderFix:
    """Change the draft ServiceRequest being signed."""

    label: str
    order_id: str
    add_reason_references: tuple[str, ...] = ()
    drop_reason_references: tuple[str, ...] = ()   # exactly as written in reasonReference.reference
    product_code: str | None = None
    patient_pay: bool = False


Fix = ClaimLineFix | OrderFix


# Why a clinician or biller may set a card aside. Each rule lists the ones that fit it.
OVERRIDE_REASONS = {
    "documented-elsewhere": "Documented elsewhere in the chart",
    "documentation-attached": "Documentation supporting the service is attached",
    "payer-exception": "Payer-specific exception or prior authorization applies",
    "patient-pay-agreed": "Patient agreed to pay; the payer will not be billed",
    "clinical-judgement": "Clinical judgement: the card does not apply to this patient",
}
DOCUMENTATION_OVERRIDES = ("documented-elsewhere", "documentation-attached")
BILLING_OVERRIDES = ("payer-exception", "documentation-attached")


@dataclass(frozen=True)
class Finding:
    """`detail` is plain-language Markdown with no resource ids or element paths: those go in
    `evidence` (`Type/id` or a claim line), shown once in the card's closing evidence line."""

    code: str
    title: str
    severity: Severity
    summary: str
    detail: str
    citation: Citation
    evidence: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = field(default=())
    override_reasons: tuple[str, ...] = ()   # keys of OVERRIDE_REASONS, in the order offered

    def __post_init__(self) -> None:
        if len(self.summary) >= 140:
            raise ValueError(f"{self.code}: summary must be under 140 characters")


@dataclass(frozen=True)
class Evaluation:
    """What evaluating one record found, and what it could not check.

    `findings` most severe first; `unchecked` maps the code of each rule that stayed quiet because
    data it needs arrived partial or not at all to those prefetch keys; `failed` the codes of rules
    that raised (their findings are lost, the others stand).
    """

    findings: tuple[Finding, ...] = ()
    unchecked: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    failed: tuple[str, ...] = ()
