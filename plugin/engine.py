"""Run the rules that check a record's subject and collect their findings."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from types import MappingProxyType

from plugin.facts import has_subject, payer_profile, payer_unknown
from plugin.findings import Evaluation, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules import all_rules
from plugin.rules._rule import Rule

log = logging.getLogger(__name__)
_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def evaluate(record: Record, policy: Policy, rules: Iterable[Rule] | None = None) -> Evaluation:
    """The record's findings (most severe first), the rules kept quiet by partial data and the rules
    that failed. A record with no 97124 order or line gets an empty evaluation. `rules` defaults to
    the catalog (plugin/rules)."""
    if not has_subject(record):
        return Evaluation()
    applicable = [r for r in (rules if rules is not None else all_rules()) if record.subject in r.subjects]
    # Rules that report on the evaluation itself (data-unavailable) run after the others.
    applicable.sort(key=lambda r: r.runs_last)
    found: dict[str, list[Finding]] = {}
    unchecked: dict[str, tuple[str, ...]] = {}
    failed: list[str] = []
    for rule in applicable:
        found[rule.code] = []
        try:
            missing = _missing(rule, record, policy)
            if missing is None:
                continue  # not a rule of this payer
            if not set(missing) <= set(rule.silenced_by):
                # an absence in partial data is no absence: say so instead (data-unavailable)
                unchecked[rule.code] = missing
                continue
            findings: list[Finding] = []
            if rule.report is not None:  # what the others could not check, without their findings
                so_far = Evaluation(unchecked=MappingProxyType(dict(unchecked)), failed=tuple(failed))
                findings = list(rule.report(record, policy, so_far))
            elif rule.check is not None:
                findings = list(rule.check(record, policy))
        except Exception as error:  # one broken rule must not take the others down; a card says so
            # The type only: an exception message may quote patient data.
            log.error("rule %s failed: %s", rule.code, type(error).__name__)
            failed.append(rule.code)
            continue
        if findings and missing:  # what is missing might have kept it quiet
            unchecked[rule.code] = missing
        else:
            found[rule.code] = findings
    fired = {code for code, findings in found.items() if findings}
    kept = [f for rule in applicable if not fired.intersection(rule.superseded_by)
            for f in found[rule.code]]
    return Evaluation(findings=tuple(sorted(kept, key=lambda f: _ORDER[f.severity])),
                      unchecked=MappingProxyType(unchecked), failed=tuple(failed))


def _missing(rule: Rule, record: Record, policy: Policy) -> tuple[str, ...] | None:
    """The keys the rule needs that arrived incomplete, or None when the payer turns the rule off.
    A payer that cannot be told is not taken for one that turns it off: its keys are missing."""
    missing = tuple(record.incomplete(*rule.needs_complete))
    if not rule.payer_settings or rule.applies_to(payer_profile(record, policy)):
        return missing
    unknown = tuple(payer_unknown(record, policy))
    return (*unknown, *missing) if unknown else None
