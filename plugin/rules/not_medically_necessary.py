"""not-medically-necessary: massage whose only documented purpose is relaxation, stress relief,
wellness or comfort is not billable to the payer (patient-pay at most).

Source: Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy, Medical necessity
https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import massage_lines, massage_orders, notes_text
from plugin.findings import ClaimLineFix, Finding, Fix, OrderFix, Severity
from plugin.fixes import PATIENT_PAY_NOTE
from plugin.policy import Policy
from plugin.record import Record, Subject
from plugin.rules._clinical import (
    Source,
    claim_diagnosis_sources,
    code_hits,
    goal_sources,
    massage_service_sources,
    patient_qualifying_conditions,
    pre_exercise_hits,
    qualifying_hits,
    refs,
    subject_refs,
    summarise,
    term_hits,
)
from plugin.rules._rule import BOTH, Rule
from plugin.vocabulary import CODING_AHEAD_97124

RULE = Rule(
    code="not-medically-necessary",
    title="Massage for relaxation or wellness only",
    description=("When the only purpose documented for 97124 is relaxation, stress relief, wellness or "
                 "comfort and no qualifying condition (the seven groups of medical necessity) is "
                 "documented, the massage is not medically necessary: do not bill it to the payer."),
    citation=CODING_AHEAD_97124.at("Medical necessity"),
    subjects=BOTH,
    severity=Severity.CRITICAL,
    overrides=("patient-pay-agreed", "documented-elsewhere", "clinical-judgement"),
)


def _sources(record: Record) -> list[Source]:
    sources = massage_service_sources(record) + goal_sources(record)
    return sources + (claim_diagnosis_sources(record) if record.subject is not Subject.ORDER else [])


def _payer_billed_orders(record: Record) -> list[Any]:
    """Massage orders not yet marked patient-pay (the OS fix adds that note)."""
    return [o for o in massage_orders(record) if PATIENT_PAY_NOTE not in notes_text(o.note)]


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    if record.subject is Subject.ORDER and not _payer_billed_orders(record):
        return
    sources = _sources(record)
    wellness = code_hits(sources, policy, "not-medically-necessary", "wellness code") + term_hits(
        sources, policy.lexicon("relaxation"), mask=policy.lexicon("intent_97124"))
    if not wellness:
        return
    if (qualifying_hits(sources, policy) or patient_qualifying_conditions(record, policy)
            or pre_exercise_hits(record, policy)):
        return
    fixes: list[Fix]
    if record.subject is Subject.ORDER:
        fixes = [OrderFix(label="Mark the massage order patient-pay", order_id=o.id, patient_pay=True)
                 for o in _payer_billed_orders(record) if o.id]
    else:
        fixes = [ClaimLineFix(label=f"Remove the 97124 line (item {line.sequence})",
                              sequence=line.sequence, remove=True) for line in massage_lines(record)]
    yield RULE.finding(
        summary="Do not bill the payer for 97124: the only documented purpose is relaxation or wellness.",
        detail=("The only documented purpose is relaxation or wellness: " + summarise(wellness) + ". No "
                "qualifying condition is documented anywhere in the chart. Massage for relaxation is clinically "
                "fine but patient-pay at most."),
        evidence=refs(wellness, subject_refs(record)),
        fixes=fixes)
