"""under-8-minutes: 97124 time that cannot earn a unit must not be billed."""
from plugin.facts import MASSAGE, massage_procedures, visit_massage_lines, visit_units
from plugin.findings import Citation, ClaimLineFix, Severity
from plugin.record import Record
from plugin.rules._rule import CP, Rule
from plugin.units import explain

RULE = Rule(
    code="under-8-minutes",
    title="97124 time earns no unit",
    description=("Under the 8-minute rule, 97124 minutes that earn no unit (fewer than 8, with nothing "
                 "to combine under the payer's method) are not billable: remove the line."),
    citation=Citation("CMS Claims Processing Manual, ch. 5", "§20.2 (8-minute rule)",
                      "https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf"),
    hooks=CP,
    severity=Severity.CRITICAL,
    superseded_by=("time-in-out",),
    # Units are counted over every timed service of the visit: a page of them counts wrong.
    needs_complete=("procedures",),
)


@RULE.checks
def check(record, policy):
    computed = visit_units(record, policy)
    if computed is None:
        return  # time-in-out speaks for missing clock times
    profile, minutes, units = computed
    if units.get(MASSAGE, 0) > 0:
        return
    procedures = massage_procedures(record)
    lines = visit_massage_lines(record)
    yield RULE.finding(
        summary=f"Remove 97124: {minutes.get(MASSAGE, 0)} minutes earn no unit under the 8-minute rule.",
        detail=(f"Payer profile **{profile.name}** ({profile.units_method} method).\n\n"
                + explain(profile.units_method, minutes)),
        evidence=[Record.ref_of(p) for p in procedures],
        fixes=[ClaimLineFix(label="Remove the 97124 line", sequence=line.sequence, remove=True)
               for line in lines[:1]])
