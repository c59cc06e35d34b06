"""plan-of-care: massage belongs to an active treatment plan with deficits, goals and the massage.

Source: CMS Benefit Policy Manual, ch. 15, §220.1.2 (plan of care)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import for_patient
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._clinical import names_massage, subject_refs
from plugin.rules._rule import BOTH, PAYER_DEFENCE, Rule
from plugin.vocabulary import CMS_BENEFIT_POLICY_CH15
from plugin.wording import label, sentence

RULE = Rule(
    code="plan-of-care",
    title="Active plan of care includes the massage",
    description=("Massage must be part of an active plan of care (CarePlan, status active, intent plan "
                 "or order) that addresses the patient's deficits (conditions), holds goals, and names "
                 "the massage (97124) among its activities."),
    citation=CMS_BENEFIT_POLICY_CH15.at("§220.1.2 (plan of care)"),
    subjects=BOTH,
    severity=Severity.WARNING,
    superseded_by=PAYER_DEFENCE,
    needs_complete=("carePlans",),
)


def _plans_massage(record: Record, plan: Any) -> bool:
    for activity in plan.activity or []:
        detail = activity.detail
        if detail is not None and names_massage(detail.code, detail.description or ""):
            return True
        target = record.resolve(activity.reference, plan) if activity.reference else None
        if target is not None and names_massage(getattr(target, "code", None)):
            return True
        if activity.reference is not None and names_massage(None, activity.reference.display or ""):
            return True
    return False


def missing_parts(record: Record, plan: Any) -> list[str]:
    """What an active plan lacks, in plain words (empty when complete)."""
    missing = []
    if not plan.addresses:
        missing.append("the conditions (deficits) it addresses")
    if not plan.goal:
        missing.append("goals")
    if not _plans_massage(record, plan):
        missing.append("an activity naming the massage (97124)")
    return missing


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    plans = [p for p in for_patient(record, "CarePlan")
             if p.status == "active" and p.intent in ("plan", "order")]
    if not plans:
        yield RULE.finding(
            summary="Document an active plan of care (CarePlan) that includes the massage.",
            detail=("The patient has no active plan of care. Massage must belong to an active treatment plan "
                    "with specific deficits, goals, expected outcomes and objective measures."),
            evidence=subject_refs(record))
        return
    best = min(plans, key=lambda p: len(missing_parts(record, p)))
    missing = missing_parts(record, best)
    if not missing:
        return
    yield RULE.finding(
        summary="Complete the plan of care: " + ", ".join(missing)[:100] + ".",
        detail=(f"{sentence(label(record, best))} lacks " + "; ".join(missing) + "."),
        evidence=[Record.ref_of(best)] + subject_refs(record))
