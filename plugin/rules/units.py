"""units: the 97124 line's quantity must be one the 8-minute rule permits under the payer's method.

Source: CMS Claims Processing Manual, ch. 5, §20.2 (8-minute rule)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf
"""
from collections.abc import Iterator

from plugin.facts import (
    line_ref,
    massage_procedures,
    visit_billed_units,
    visit_massage_lines,
    visit_units,
)
from plugin.findings import BILLING_OVERRIDES, ClaimLineFix, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.units import explain, nearest_allocation
from plugin.vocabulary import CMS_CLAIMS_PROCESSING_CH5, MASSAGE

RULE = Rule(
    code="units",
    title="97124 units match the documented time",
    description=("The 97124 claim line's quantity must be one of the allocations the payer's 8-minute-rule "
                 "method permits for the visit's documented minutes (CMS total time, where tied leftover "
                 "minutes let the clinician choose which code takes a unit, or per code). The fix moves the "
                 "quantity to the permitted allocation nearest to what was billed."),
    citation=CMS_CLAIMS_PROCESSING_CH5.at("§20.2 (8-minute rule)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    superseded_by=("under-8-minutes", "time-in-out", "not-medically-necessary"),
    overrides=BILLING_OVERRIDES,
    # Units are counted over every timed service of the visit: a page of them counts wrong.
    needs_complete=("procedures",),
)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    computed = visit_units(record, policy)
    lines = visit_massage_lines(record)
    if computed is None or not lines:
        return
    profile, minutes, allocations = computed
    permitted = {a.get(MASSAGE, 0) for a in allocations}
    billed = visit_billed_units(record, policy).get(MASSAGE, 0)
    if max(permitted) == 0 or billed in permitted:
        return  # no unit at all is under-8-minutes' card
    target = nearest_allocation(allocations, visit_billed_units(record, policy), MASSAGE)[MASSAGE]
    fixes = []
    if len(lines) == 1:
        fixes.append(ClaimLineFix(label=f"Set 97124 units to {target}", sequence=lines[0].sequence,
                                  quantity=target))
    yield RULE.finding(
        summary=f"Bill 97124 × {target}, not × {billed}: that is what the documented minutes support.",
        detail=(f"Billed {billed} unit(s) of 97124; payer **{profile.name}**. "
                + explain(profile.units_method, minutes, MASSAGE)),
        evidence=[Record.ref_of(p) for p in massage_procedures(record)] + [line_ref(line) for line in lines],
        fixes=fixes)
