"""modifier-gp: payers that require GP on therapy lines (Medicare) need it on 97124."""
from plugin.facts import item_modifiers, massage_lines, payer_profile
from plugin.findings import BILLING_OVERRIDES, Citation, ClaimLineFix, Severity
from plugin.rules._billing import GP, line_ref, target_modifiers
from plugin.rules._rule import CP, Rule

RULE = Rule(
    code="modifier-gp",
    title="Modifier GP on 97124",
    description=("Therapy delivered under a physical-therapy plan of care is reported with modifier GP. "
                 "Medicare requires it on every therapy line; other payers do when their profile says "
                 "gp_required."),
    citation=Citation("CMS Claims Processing Manual, ch. 5", "§20.1 (therapy discipline modifiers GN, GO, GP)",
                      "https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/clm104c05.pdf"),
    hooks=CP,
    severity=Severity.WARNING,
    overrides=BILLING_OVERRIDES,
    # That rule's fix already puts GP right after 59.
    superseded_by=("modifier-59-gp-order",),
)


@RULE.checks
def check(record, policy):
    profile = payer_profile(record, policy)
    if not profile.gp_required:
        return
    for line in massage_lines(record):
        if GP in item_modifiers(line):
            continue
        wanted = target_modifiers(record, policy, line)
        yield RULE.finding(
            summary=f"Add modifier GP to the 97124 line: {profile.name} requires it on therapy services.",
            detail=(f"Payer profile **{profile.name}** requires GP on every therapy line; claim line "
                    f"{line.sequence} (97124) does not carry it."),
            evidence=[line_ref(line)],
            fixes=[ClaimLineFix(label=f"Set 97124 modifiers to {', '.join(wanted)}",
                                sequence=line.sequence, modifiers=wanted)])
