"""What every rule module declares: its catalog code, title, plain-language description,
citation, the subjects it checks, and a pure check(record, policy) -> findings."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from plugin.findings import (
    DOCUMENTATION_OVERRIDES,
    OVERRIDE_REASONS,
    Citation,
    Evaluation,
    Finding,
    Fix,
    Severity,
)
from plugin.policy import PayerProfile, Policy
from plugin.record import Record, Subject

# The subjects a rule checks: a draft Claim, draft orders, or both.
CLAIM_ONLY = frozenset({Subject.CLAIM})
ORDER_ONLY = frozenset({Subject.ORDER})
BOTH = frozenset(Subject)

# `superseded_by` of the payer-defence rules (documentation that justifies billing the payer):
# relaxation-only massage is not billed to the payer, so asking for that defence would invite upcoding.
PAYER_DEFENCE = ("not-medically-necessary",)

Check = Callable[[Record, Policy], Iterable[Finding]]
# A check that reports on the evaluation itself, given what the other rules could not check
# (Evaluation.unchecked and .failed; its findings are left empty).
Report = Callable[[Record, Policy, Evaluation], Iterable[Finding]]


@dataclass
class Rule:
    code: str
    title: str
    description: str
    citation: Citation
    subjects: frozenset[Subject]
    severity: Severity
    # Codes of rules that, when they fire, already cover what this rule would say.
    superseded_by: tuple[str, ...] = ()
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
    # Set instead of `check` by a rule that reports on the evaluation itself (what could not be
    # read or run): it runs after all others and is given what they could not check.
    report: Report | None = field(default=None, repr=False)

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

    @property
    def runs_last(self) -> bool:
        return self.report is not None

    def checks(self, fn: Check) -> Check:
        """Decorator: register fn as this rule's check."""
        self.check = fn
        return fn

    def reports(self, fn: Report) -> Report:
        """Decorator: register fn as this rule's report on the evaluation (runs last)."""
        self.report = fn
        return fn

    def finding(self, summary: str, detail: str, evidence: Iterable[str | None] = (),
                fixes: Iterable[Fix] = (), severity: Severity | None = None) -> Finding:
        return Finding(code=self.code, title=self.title, severity=severity or self.severity,
                       summary=summary, detail=detail, citation=self.citation,
                       evidence=tuple(dict.fromkeys(e for e in evidence if e)), fixes=tuple(fixes),
                       override_reasons=self.overrides)
