"""medicare-performer: Medicare pays outpatient therapy only from the providers its benefit names.

Massage by a massage therapist, athletic trainer, aide, student or an unknown person is not a
Medicare benefit; massage performed or ordered by a chiropractor is statutorily excluded. Either
way the line is not billed to Medicare, or is billed with GY (and the discipline modifier) so that
Medicare denies it to the beneficiary's liability.

Source: 42 CFR 410.60, 410.21(b); CMS Benefit Policy Manual ch. 15, §220, §230.5 (who furnishes outpatient therapy)
https://www.ecfr.gov/current/title-42/chapter-IV/subchapter-B/part-410/subpart-B/section-410.60
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from plugin.dates import first_day
from plugin.facts import (
    for_patient,
    is_massage,
    item_modifiers,
    line_ref,
    massage_procedures,
    payer_profile,
    visit_day,
    visit_massage_lines,
)
from plugin.findings import ClaimLineFix, Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import (
    NOT_COVERED,
    credential_names,
    credentials,
    holds,
    performer_refs,
    target_modifiers,
)
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import ECFR_42_410_60

RULE = Rule(
    code="medicare-performer",
    title="Medicare pays this performer for therapy",
    description=("Medicare Part B pays outpatient therapy only when a physical or occupational therapist, a PT/OT "
                 "assistant under the therapist's supervision, or a physician/NPP furnishes it (the payer profile's "
                 "paid_performers value set). Massage by a massage therapist, athletic trainer, aide, student or an "
                 "undocumented person is not a Medicare benefit; massage furnished or ordered by a chiropractor is "
                 "statutorily excluded (Medicare pays a chiropractor only for spinal manipulation). Applies to "
                 "profiles with medicare_coverage. Two suggestions: remove the line (recommended), or keep it with "
                 "GY and the discipline modifier so that Medicare denies it to the beneficiary's liability; a line "
                 "already carrying GY is left alone."),
    citation=ECFR_42_410_60.at("§220, §230.5 (who furnishes outpatient therapy)"),
    subjects=CLAIM_ONLY,
    overrides=("patient-pay-agreed", "documentation-attached"),
    severity=Severity.CRITICAL,
    needs_complete=("procedures", "performers", "performerRoles"),
    payer_settings=("medicare_coverage",),
)

CHIROPRACTORS = "chiropractors"
_ORDER_STATUSES = {"active", "completed", "on-hold"}


def massage_orders(record: Record, proc: Any) -> list[Any]:
    """The orders of this 97124: those it is based on, else the claim's referral, else the patient's latest
    97124 order authored on or before the date of service."""
    referral = [record.claim.referral] if record.claim is not None and record.claim.referral else []
    named = [record.resolve(r, proc) for r in proc.basedOn or []] or [record.resolve(r, record.claim) for r in referral]
    orders = [o for o in named if o is not None and o.get_resource_type() == "ServiceRequest"]
    if not orders:
        day = visit_day(record)
        authored = [(first_day(o.authoredOn), o) for o in for_patient(record, "ServiceRequest")
                    if o.status in _ORDER_STATUSES and is_massage(o.code)]
        dated = [(d, o) for d, o in authored if d is not None and (day is None or d <= day)]
        orders = [max(dated, key=lambda pair: pair[0])[1]] if dated else []
    return orders


def _who(record: Record, reference: Any, within: Any) -> str:
    names = credential_names(record, reference, within)
    return f"someone licensed as {' / '.join(names)}" if names else "someone with no licence on record"


def _verdict(record: Record, policy: Policy, proc: Any) -> tuple[str, str, list[str | None]] | None:
    """(case, why, the people it rests on) when Medicare does not pay for this massage; None when it does
    or when it cannot be told."""
    actors = performer_refs(proc)
    chiro_performers = [a for a in actors if holds(record, policy, a, CHIROPRACTORS, proc)]
    if chiro_performers:
        return ("statutorily excluded", "a chiropractor gave it; Medicare pays a chiropractor only for spinal "
                "manipulation", [record.key(chiro_performers[0], proc)])
    chiro_orderers = [record.key(o.requester, o) for o in massage_orders(record, proc)
                      if o.requester and holds(record, policy, o.requester, CHIROPRACTORS, o)]
    if chiro_orderers:
        return ("statutorily excluded", "a chiropractor ordered it; therapy a chiropractor orders is not covered",
                chiro_orderers[:1])
    if not actors:
        return ("not a Medicare benefit", "no one is documented as giving it, so it cannot be shown that a "
                "therapist, assistant or physician/NPP did", [])
    known = [a for a in actors if credentials(record, a, proc) is not None]
    if not known:
        return None  # unresolvable performers: the performer rule says so; no conclusion from missing data
    paid = payer_profile(record, policy).paid_performers
    unpaid = [a for a in known if not holds(record, policy, a, paid, proc)]
    if not unpaid:
        return None
    return ("not a Medicare benefit", f"it was given by {_who(record, unpaid[0], proc)}; Medicare pays therapy only "
            "from therapists, their assistants and physicians/NPPs", [record.key(unpaid[0], proc)])


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    profile = payer_profile(record, policy)
    if not profile.medicare_coverage:
        return
    verdicts = [(proc, v) for proc in massage_procedures(record) if (v := _verdict(record, policy, proc))]
    if not verdicts:
        return
    proc, (case, why, people) = verdicts[0]
    for line in visit_massage_lines(record):
        if NOT_COVERED in item_modifiers(line):
            continue  # billed for a denial on purpose
        kept = target_modifiers(record, policy, line, not_covered=True)
        yield RULE.finding(
            summary=f"Do not bill this 97124 to {profile.name}: the massage is {case}. Remove the line, or bill it with GY.",
            detail=(f"**{case[0].upper()}{case[1:]}** under {profile.name}: {why}. Remove the line (patient-pay if "
                    "clinic policy allows), or, if the beneficiary wants a claim for a secondary insurer, keep it "
                    f"with {', '.join(kept)} so Medicare denies it to the beneficiary."),
            evidence=[line_ref(line), Record.ref_of(proc), *people],
            fixes=[ClaimLineFix(label="Remove the 97124 line: do not bill Medicare", sequence=line.sequence,
                                remove=True),
                   ClaimLineFix(label=f"Keep the 97124 line for a denial: modifiers {', '.join(kept)}",
                                sequence=line.sequence, modifiers=kept)])
