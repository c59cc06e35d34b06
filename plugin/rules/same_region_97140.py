"""same-region-97140: 97124 and 97140 (or 97140 and the manipulation) must not share a body region.

Source: Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy, 97124 vs 97140
https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/
"""
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from plugin.facts import (
    cpt_codes,
    item_cpt,
    item_day,
    line_ref,
    lines_on,
    massage_lines,
    visit_procedures,
)
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import MANUAL_THERAPY, region_keys, region_names
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CODING_AHEAD_97124, CPT, MASSAGE

RULE = Rule(
    code="same-region-97140",
    title="97140 on a separate body region",
    description=("Massage (97124) and manual therapy (97140) are not billed for the same body region on the "
                 "same date, and 97140 billed with a chiropractic manipulation must treat a different "
                 "region than the manipulation. Regions come from Procedure.bodySite and Claim item.bodySite."),
    citation=CODING_AHEAD_97124.at("97124 vs 97140"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
)

CMT = "CMT"


def _regions(record: Record, policy: Policy) -> dict[str, dict[str, tuple[str, str]]]:
    """For 97124, 97140 and CMT: region key -> (display name, where it was documented)."""
    cmt = policy.valueset("cmt-codes")
    out: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)

    def group(code: str | None) -> str | None:
        if code in (MASSAGE, MANUAL_THERAPY):
            return code
        return CMT if cmt.contains(CPT, code) else None

    def note(code: str | None, site: Any, where: str) -> None:
        kind = group(code)
        if kind is None or not site:
            return
        name = ", ".join(region_names(site))
        for key in region_keys(site):
            out[kind].setdefault(key, (name, where))

    for proc in visit_procedures(record):
        for code in cpt_codes(proc.code):
            note(code, proc.bodySite, Record.ref_of(proc))
    days = {item_day(line) for line in massage_lines(record)}
    for day in days:
        for line in lines_on(record, day):
            note(item_cpt(line), [line.bodySite] if line.bodySite else None, line_ref(line))
    return out


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    regions = _regions(record, policy)
    manual = regions.get(MANUAL_THERAPY, {})
    for other, why in ((MASSAGE, "97124 and 97140 on the same region the same date"),
                       (CMT, "97140 on the same region as the manipulation")):
        shared = sorted(set(manual) & set(regions.get(other, {})))
        if not shared:
            continue
        name = manual[shared[0]][0]
        evidence = sorted({manual[k][1] for k in shared} | {regions[other][k][1] for k in shared})
        label = "97124" if other == MASSAGE else "the manipulation"
        yield RULE.finding(
            summary=f"97140 and {label} both treat {name}: bill them on different regions or drop one.",
            detail=(f"{why.capitalize()}: region **{name}**. 97140 is for active pain-free motion and tissue "
                    "extensibility; it must be on a different anatomical region than 97124 and than the "
                    "manipulation. Document separate regions, or bill only the code whose intent matches."),
            evidence=evidence)
