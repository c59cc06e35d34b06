"""necessity-unsupported: 97124 must cite one of the seven qualifying conditions."""
from plugin.facts import massage_orders, massage_procedures, ref_key
from plugin.findings import Citation, OrderFix, Severity
from plugin.record import Record
from plugin.rules._clinical import (claim_diagnosis_sources, describe, listing, patient_qualifying_conditions,
                                    pre_exercise_hits, qualifying_hits, reason_sources,
                                    refs, subject_refs)
from plugin.rules._rule import BOTH, ORDER_SIGN, Rule

RULE = Rule(
    code="necessity-unsupported",
    title="No qualifying condition cited for 97124",
    description=("97124 is covered only when at least one qualifying condition is documented: paralysis, "
                 "excess fluid, tissue tenderness, tight or spastic muscles, tissue adherence, "
                 "contracture or lost motion, or relaxation before exercise or re-education the same "
                 "visit. The order (order-sign) or the claim's diagnoses and the 97124 service's reasons "
                 "(claim-prepare) must cite one."),
    citation=Citation("HNS Policies: Documentation/Billing", "Massage Therapy 97124 (indications)",
                      "https://healthnetworksolutions.net/index.php/massage-therapy-97124"),
    hooks=BOTH,
    severity=Severity.WARNING,
    superseded_by=("not-medically-necessary",),
)

_GROUPS = ("paralysis, excess fluid, tenderness, tightness/spasticity, adherence, contracture/lost "
           "motion, or relaxation before 97110/97112/97530 the same visit")


def _order_findings(record, policy):
    if pre_exercise_hits(record, policy):
        return
    conditions = patient_qualifying_conditions(record, policy)
    for order in massage_orders(record):
        if qualifying_hits(reason_sources(record, order), policy):
            continue
        cited = {ref_key(r, record, order) for r in order.reasonReference or []}
        uncited = [h for h in conditions if ref_key(h.ref, record) not in cited]
        citable = [h.ref for h in uncited if ref_key(h.ref, record) is not None]  # never a bare "Condition"
        fixes = [OrderFix(label="Cite the qualifying condition" + ("s" if len(citable) > 1 else ""),
                          order_id=order.id, add_reason_references=tuple(citable))
                 ] if citable and order.id else []
        found = (" The patient's active record holds " + describe(uncited) + ", which the order "
                 "could cite.") if uncited else ""
        yield RULE.finding(
            summary="Cite the qualifying condition for 97124 in the order's reason.",
            detail=(f"The order `{Record.ref_of(order)}` gives no reason in its reasonCode or "
                    f"reasonReference from the qualifying groups ({_GROUPS})." + found),
            evidence=refs(uncited, [Record.ref_of(order)]),
            fixes=fixes)


def _claim_findings(record, policy):
    if pre_exercise_hits(record, policy):
        return
    sources = claim_diagnosis_sources(record)
    for proc in massage_procedures(record):
        sources += reason_sources(record, proc)
    if qualifying_hits(sources, policy):
        return
    read = [s.ref for s in sources]
    yield RULE.finding(
        summary="Add a qualifying diagnosis for 97124; none of the claim's diagnoses supports it.",
        detail=("Neither the claim's diagnoses nor the reasons on this visit's 97124 service name a "
                f"qualifying condition ({_GROUPS}). Read: "
                + (listing(dict.fromkeys(read)) or "no diagnosis or reason at all")
                + "."),
        evidence=list(dict.fromkeys(read + subject_refs(record))))


@RULE.checks
def check(record, policy):
    if record.hook == ORDER_SIGN:
        yield from _order_findings(record, policy)
    else:
        yield from _claim_findings(record, policy)
