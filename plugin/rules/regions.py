"""regions: the note must name the body regions the massage treated."""
from plugin.facts import massage_lines
from plugin.findings import Citation, Severity
from plugin.rules._clinical import lacking, listing
from plugin.rules._rule import CP, Rule

RULE = Rule(
    code="regions",
    title="Regions treated documented",
    description=("The day's 97124 service must name the specific body regions treated "
                 "(Procedure.bodySite, or the claim line's bodySite)."),
    citation=Citation("HNS Policies: Documentation/Billing", "Massage Therapy 97124 (regions treated)",
                      "https://healthnetworksolutions.net/index.php/massage-therapy-97124"),
    hooks=CP,
    severity=Severity.WARNING,
)


@RULE.checks
def check(record, policy):
    if any(line.bodySite is not None for line in massage_lines(record)):
        return
    bare = lacking(record, lambda p: bool(p.bodySite))
    if bare:
        yield RULE.finding(
            summary="Document the body regions the massage treated.",
            detail=("These 97124 services name no body region (Procedure.bodySite) and the claim line "
                    "carries none: " + listing(bare) + "."),
            evidence=bare)
