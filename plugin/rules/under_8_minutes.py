"""under-8-minutes: 97124 time that no permitted allocation gives a unit must not be billed.

Source: CMS Claims Processing Manual, ch. 5, §20.2 (8-minute rule)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf
"""
from collections.abc import Iterator
from typing import Any

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
    code="under-8-minutes",
    title="97124 time earns no unit",
    description=("Under the 8-minute rule, 97124 minutes that no permitted allocation gives a unit (fewer "
                 "than 8 with nothing to combine, or other codes win every leftover unit outright) are not "
                 "billable. The fix removes the line, unless it is the only line billing the visit's "
                 "earned units: then it is recoded to the code the unit belongs to."),
    citation=CMS_CLAIMS_PROCESSING_CH5.at("§20.2 (8-minute rule)"),
    subjects=CLAIM_ONLY,
    severity=Severity.CRITICAL,
    superseded_by=("time-in-out",),
    overrides=BILLING_OVERRIDES,
    # Units are counted over every timed service of the visit: a page of them counts wrong.
    needs_complete=("procedures",),
)


def _fix(lines: Any, allocation: Any, billed: Any) -> ClaimLineFix | None:
    """Remove the 97124 line, or, when the units it would leave unbilled belong to a code with no
    line of its own, bill them on this line under that code (never delete the visit's only bill)."""
    if not lines:
        return None
    line = lines[0]
    unbilled = sorted((c for c, n in allocation.items() if n > 0 and billed.get(c, 0) == 0),
                      key=lambda c: (-allocation[c], c))
    if unbilled and len(lines) == 1:
        code = unbilled[0]
        return ClaimLineFix(label=f"Bill the unit as {code} × {allocation[code]} instead", sequence=line.sequence,
                            product_code=code, quantity=allocation[code])
    return ClaimLineFix(label="Remove the 97124 line", sequence=line.sequence, remove=True)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    computed = visit_units(record, policy)
    if computed is None:
        return  # time-in-out speaks for missing clock times
    profile, minutes, allocations = computed
    if any(a.get(MASSAGE, 0) > 0 for a in allocations):
        return
    lines = visit_massage_lines(record)
    billed = visit_billed_units(record, policy)
    fix = _fix(lines, nearest_allocation(allocations, billed, MASSAGE), billed)
    what = "Remove 97124" if fix is None or fix.remove else f"Bill {fix.product_code}, not 97124"
    yield RULE.finding(
        summary=f"{what}: its {minutes.get(MASSAGE, 0)} minutes earn no unit under the 8-minute rule.",
        detail=f"Payer **{profile.name}**. " + explain(profile.units_method, minutes, MASSAGE),
        evidence=[Record.ref_of(p) for p in massage_procedures(record)] + [line_ref(line) for line in lines],
        fixes=[fix] if fix else [])
