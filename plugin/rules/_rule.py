"""What every rule module declares: its catalog code, title, plain-language description,
citation, the hooks it serves, and a pure check(record, policy) -> findings."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from plugin.findings import (
    DOCUMENTATION_OVERRIDES,
    OVERRIDE_REASONS,
    Citation,
    Finding,
    Fix,
    Severity,
)
from plugin.policy import Policy
from plugin.record import Record

ORDER_SIGN = "order-sign"
CLAIM_PREPARE = "claim-prepare"
BOTH = frozenset({ORDER_SIGN, CLAIM_PREPARE})
OS = frozenset({ORDER_SIGN})
CP = frozenset({CLAIM_PREPARE})

Check = Callable[[Record, Policy], Iterable[Finding]]


@dataclass
class Rule:
    code: str
    title: str
    description: str
    citation: Citation
    hooks: frozenset[str]
    severity: Severity
    # Codes of rules that, when they fire, already cover what this rule would say.
    superseded_by: tuple[str, ...] = ()
    # Reports on the evaluation itself (what could not be read or run): runs after all others.
    runs_last: bool = False
    # Why its warning or critical cards may be set aside (keys of findings.OVERRIDE_REASONS).
    overrides: tuple[str, ...] = DOCUMENTATION_OVERRIDES
    # Prefetch keys in which this rule may find something absent: it stays quiet unless every one
    # is complete (a partial or unavailable key proves no absence; data-unavailable names it).
    needs_complete: tuple[str, ...] = ()
    check: Check | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.overrides) - set(OVERRIDE_REASONS)
        if unknown:
            raise ValueError(f"{self.code}: unknown override reasons {sorted(unknown)}")

    def checks(self, fn: Check) -> Check:
        """Decorator: register fn as this rule's check."""
        self.check = fn
        return fn

    def finding(self, summary: str, detail: str, evidence: Iterable[str] = (),
                fixes: Iterable[Fix] = (), severity: Severity | None = None) -> Finding:
        return Finding(code=self.code, title=self.title, severity=severity or self.severity,
                       summary=summary, detail=detail, citation=self.citation,
                       evidence=tuple(dict.fromkeys(e for e in evidence if e)), fixes=tuple(fixes),
                       override_reasons=self.overrides)
