"""intent-suggests-97140: when the documented goals are manual-therapy goals, the code is 97140.

Source: Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy, 97124 vs 97140
https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import item_cpt, lines_on, massage_orders, visit_day, visit_massage_lines
from plugin.findings import ClaimLineFix, Finding, Fix, OrderFix, Severity
from plugin.policy import Policy
from plugin.record import Record, Subject
from plugin.rules._clinical import (
    careplan_activity_sources,
    goal_sources,
    massage_service_sources,
    refs,
    subject_refs,
    summarise,
    term_hits,
)
from plugin.rules._rule import BOTH, PAYER_DEFENCE, Rule
from plugin.vocabulary import CODING_AHEAD_97124

RULE = Rule(
    code="intent-suggests-97140",
    title="Documented intent reads like manual therapy (97140)",
    description=("97124 aims to increase circulation and relax tissue. When the documented goals are "
                 "pain-free range of motion, myofascial extensibility or return to function, the "
                 "service is manual therapy (97140). Choose the code by what was done and why."),
    citation=CODING_AHEAD_97124.at("97124 vs 97140"),
    subjects=BOTH,
    severity=Severity.WARNING,
    superseded_by=PAYER_DEFENCE,
    overrides=("clinical-judgement", "documented-elsewhere"),
)


def _dominates(manual: list[Any], massage: list[Any]) -> bool:
    """Manual-therapy intent wins outright, or with at least twice as many distinct terms plus one."""
    manual_terms = {h.what for h in manual}
    massage_terms = {h.what for h in massage}
    return bool(manual_terms) and len(manual_terms) >= 2 * len(massage_terms) + (1 if massage_terms else 0)


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    sources = massage_service_sources(record) + goal_sources(record) + careplan_activity_sources(record)
    manual = term_hits(sources, policy.lexicon("intent_97140"))
    massage = term_hits(sources, policy.lexicon("intent_97124"))
    if not _dominates(manual, massage):
        return
    fixes: list[Fix]
    if record.subject is Subject.ORDER:
        fixes = [OrderFix(label="Order manual therapy (97140) instead", order_id=o.id, product_code="97140")
                 for o in massage_orders(record) if o.id]
    elif any(item_cpt(i) == "97140" for i in lines_on(record, visit_day(record))):
        fixes = []  # 97140 is already billed that day: recoding would double it; the biller decides
    else:
        fixes = [ClaimLineFix(label=f"Bill 97140 on item {line.sequence} instead",
                              sequence=line.sequence, product_code="97140") for line in visit_massage_lines(record)]
    balance = ("Massage intent: " + summarise(massage, places=1) + "."
               if massage else "No circulation or relaxation intent is written.")
    yield RULE.finding(
        summary="The documented goals read like manual therapy: consider 97140 instead of 97124.",
        detail=("Manual-therapy intent: " + summarise(manual) + ". " + balance
                + " Choose the code by what was done and why, not by what pays more."),
        evidence=refs(manual, subject_refs(record)),
        fixes=fixes)
