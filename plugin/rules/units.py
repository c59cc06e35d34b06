"""units: the 97124 line's quantity must equal the 8-minute-rule units under the payer's method."""
from plugin.facts import MASSAGE, item_quantity, line_ref, massage_procedures, visit_massage_lines, visit_units
from plugin.findings import Citation, ClaimLineFix, Severity
from plugin.record import Record
from plugin.rules._rule import CP, Rule
from plugin.units import explain

RULE = Rule(
    code="units",
    title="97124 units match the documented time",
    description=("The 97124 claim line's quantity must equal the units its documented minutes earn "
                 "under the payer's 8-minute-rule method (CMS total time, or per code)."),
    citation=Citation("CMS Claims Processing Manual, ch. 5", "§20.2 (8-minute rule)",
                      "https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf"),
    hooks=CP,
    severity=Severity.WARNING,
    superseded_by=("under-8-minutes", "time-in-out", "not-medically-necessary"),
    # Units are counted over every timed service of the visit: a page of them counts wrong.
    needs_complete=("procedures",),
)


@RULE.checks
def check(record, policy):
    computed = visit_units(record, policy)
    lines = visit_massage_lines(record)
    if computed is None or not lines:
        return
    profile, minutes, units = computed
    expected = units.get(MASSAGE, 0)
    procedures = massage_procedures(record)
    billed = sum(item_quantity(line) for line in lines)
    if expected == 0 or billed == expected:
        return
    fixes = []
    if len(lines) == 1:
        fixes.append(ClaimLineFix(label=f"Set 97124 units to {expected}",
                                  sequence=lines[0].sequence, quantity=expected))
    yield RULE.finding(
        summary=f"Bill 97124 × {expected}, not × {billed}: that is what the documented minutes support.",
        detail=(f"Billed: {billed} unit(s) of 97124. Payer profile **{profile.name}** "
                f"({profile.units_method} method).\n\n" + explain(profile.units_method, minutes)),
        evidence=[Record.ref_of(p) for p in procedures] + [line_ref(line) for line in lines],
        fixes=fixes)
