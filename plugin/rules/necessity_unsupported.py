"""necessity-unsupported: 97124 must cite one of the seven qualifying conditions.

Source: HNS Policies: Documentation/Billing, Massage Therapy 97124 (indications)
https://healthnetworksolutions.net/index.php/massage-therapy-97124
"""
from collections.abc import Iterator

from plugin.facts import massage_orders, massage_procedures, ref_key
from plugin.findings import Finding, Fix, OrderFix, Severity
from plugin.policy import Policy
from plugin.record import Record, Subject
from plugin.rules._clinical import (
    claim_diagnosis_sources,
    describe,
    patient_qualifying_conditions,
    pre_exercise_hits,
    qualifying_hits,
    reason_sources,
    refs,
    set_aside,
    subject_refs,
)
from plugin.rules._rule import BOTH, PAYER_DEFENCE, Rule
from plugin.vocabulary import HNS_97124
from plugin.wording import label, sentence

RULE = Rule(
    code="necessity-unsupported",
    title="No qualifying condition cited for 97124",
    description=("97124 is covered only when at least one qualifying condition is documented: paralysis, "
                 "excess fluid, tissue tenderness, tight or spastic muscles, tissue adherence, "
                 "contracture or lost motion, or relaxation before exercise or re-education the same "
                 "visit. The order being signed, or the draft claim's diagnoses and the 97124 service's "
                 "reasons, must cite one. A diagnosis counts only when it is this patient's, "
                 "clinically current (active, recurrence, relapse) and not refuted or entered in error; a "
                 "link whose target is not in the record is no evidence, whatever its display says."),
    citation=HNS_97124.at("Massage Therapy 97124 (indications)"),
    subjects=BOTH,
    severity=Severity.WARNING,
    superseded_by=PAYER_DEFENCE,
    overrides=("documented-elsewhere", "payer-exception"),
)

_GROUPS = ("paralysis, excess fluid, tenderness, tightness, adherence, contracture, or relaxation before "
           "exercise the same visit")


def _order_findings(record: Record, policy: Policy) -> Iterator[Finding]:
    if pre_exercise_hits(record, policy):
        return
    conditions = patient_qualifying_conditions(record, policy)
    for order in massage_orders(record):
        sources = reason_sources(record, order)
        if qualifying_hits(sources, policy):
            continue
        cited = {ref_key(r, record, order) for r in order.reasonReference or []}
        uncited = [h for h in conditions if ref_key(h.ref, record) not in cited]
        citable = [h.ref for h in uncited if ref_key(h.ref, record) is not None]  # never a bare "Condition"
        # A link to another patient's chart is taken out, never kept or copied.
        foreign = tuple(r.reference for r in order.reasonReference or [] if r.reference
                        and any(s.ref == ref_key(r, record, order) and "another patient" in s.excluded
                                for s in sources))
        fixes: list[Fix] = [OrderFix(label="Cite this patient's qualifying diagnosis" + ("es" if len(citable) > 1 else ""),
                          order_id=order.id, add_reason_references=tuple(citable),
                          drop_reason_references=foreign)
                 ] if citable and order.id else []
        found = (" The patient's chart holds " + describe(uncited) + ", which the order could cite."
                 ) if uncited else ""
        aside = set_aside(sources)
        yield RULE.finding(
            summary="Cite the qualifying condition for 97124 in the order's reason.",
            detail=(f"{sentence(label(record, order))} cites no qualifying condition." + (" " + aside if aside else "")
                    + found),
            evidence=refs(uncited, [Record.ref_of(order)], [s.ref for s in sources if s.excluded]),
            fixes=fixes)


def _claim_findings(record: Record, policy: Policy) -> Iterator[Finding]:
    if pre_exercise_hits(record, policy):
        return
    sources = claim_diagnosis_sources(record)
    for proc in massage_procedures(record):
        sources += reason_sources(record, proc)
    if qualifying_hits(sources, policy):
        return
    read = list(dict.fromkeys(s.name for s in sources if not s.excluded))
    aside = set_aside(sources)
    yield RULE.finding(
        summary="Add a qualifying diagnosis for 97124; none of the claim's diagnoses supports it.",
        detail=("Neither the claim's diagnoses nor the massage's reasons name a qualifying condition "
                f"({_GROUPS}). " + (f"Read: {'; '.join(read)}. " if read else "")
                + (aside or "")).strip(),
        evidence=list(dict.fromkeys([s.ref for s in sources] + subject_refs(record))))


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    if record.subject is Subject.ORDER:
        yield from _order_findings(record, policy)
    else:
        yield from _claim_findings(record, policy)
