"""What every rule module declares: its catalog code, title, plain-language description,
citation, the hooks it serves, and a pure check(record, policy) -> findings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from plugin.findings import DOCUMENTATION_OVERRIDES, OVERRIDE_REASONS, Citation, Finding, Fix, Severity
from plugin.policy import PayerProfile, Policy
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
    # Those of needs_complete that hold only what would keep this rule quiet (a progress report, a
    # certification): with only these incomplete the rule still runs, and its finding is withheld
    # (data-unavailable names the key) while a quiet verdict stands, since more data cannot make it fire.
    silenced_by: tuple[str, ...] = ()
    # PayerProfile settings that turn this rule on (any one set); empty: it applies to every payer.
    payer_settings: tuple[str, ...] = ()
    check: Check | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.overrides) - set(OVERRIDE_REASONS)
        if unknown:
            raise ValueError(f"{self.code}: unknown override reasons {sorted(unknown)}")
        if not set(self.silenced_by) <= set(self.needs_complete):
            raise ValueError(f"{self.code}: silenced_by names keys it does not need complete")
        unknown = set(self.payer_settings) - set(PayerProfile.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{self.code}: unknown payer settings {sorted(unknown)}")

    def applies_to(self, profile: PayerProfile) -> bool:
        """Whether the payer's profile turns this rule on (97124-rules.md §12: payer differences are data)."""
        return not self.payer_settings or any(getattr(profile, name) for name in self.payer_settings)

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
