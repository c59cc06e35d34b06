"""plan-certification: Medicare pays therapy under a plan of care that a physician/NPP certified (signed
and dated) within 30 days of the first treatment, and recertified at least every 90 days.

Source: CMS Benefit Policy Manual, ch. 15, §220.1.3 (certification and recertification of the plan)
https://www.cms.gov/Regulations-and-Guidance/Guidance/Manuals/Downloads/bp102c15.pdf
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from plugin.dates import first_day
from plugin.facts import codings, for_patient, payer_profile, visit_day
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import (
    PLAN_EVIDENCE,
    active_plan_start,
    agent_types,
    credentials,
    holds,
    therapy_days,
)
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CMS_BENEFIT_POLICY_CH15

RULE = Rule(
    code="plan-certification",
    title="Plan of care certified by a physician/NPP",
    description=("The therapy plan of care is certified — signed and dated by a physician or non-physician "
                 "practitioner (certifying-practitioners value set) — within certification_days (Medicare: 30) of "
                 "the first treatment under it, and the latest certification is no older than recertification_days "
                 "(Medicare: 90) on the date of service. A certification is a Provenance on the CarePlan whose "
                 "signing agent is such a practitioner, dated by its signature or recorded time, or a plan-of-care "
                 "DocumentReference of the patient (plan-of-care-documents value set: LOINC 18776-5) authenticated "
                 "by one. Off for payer profiles that set neither number; quiet without an active plan "
                 "(plan-of-care speaks then)."),
    citation=CMS_BENEFIT_POLICY_CH15.at("§220.1.3 (certification and recertification of the plan)"),
    subjects=CLAIM_ONLY,
    severity=Severity.WARNING,
    needs_complete=PLAN_EVIDENCE,
    silenced_by=("reports",),  # a signed plan document only adds a certification
    payer_settings=("certification_days", "recertification_days"),
)

CERTIFIERS = "certifying-practitioners"
SIGNING_TYPES = {"author", "verifier", "attester", "legal", "AUT", "VRF", "AUTHEN", "LA"}


def certifications(record: Record, policy: Policy, plan: Any) -> tuple[list[tuple[date, str]], bool]:
    """(dated certifications of the plan as (day, evidence), whether an unreadable signer was seen)."""
    key, found, unknown = record.key_of(plan), [], False
    for prov in record.all("Provenance"):
        if not any(record.key(t, prov) == key for t in prov.target or []):
            continue
        for agent in prov.agent or []:
            if agent_types(agent) and not agent_types(agent) & SIGNING_TYPES:
                continue  # an enterer or custodian does not certify
            if credentials(record, agent.who, prov) is None:
                unknown = True
            elif holds(record, policy, agent.who, CERTIFIERS, prov):
                who = record.key(agent.who, prov)
                signed = [s.when for s in prov.signature or [] if record.key(s.who, prov) == who]
                when = first_day(signed[0]) if signed else first_day(prov.recorded)
                if when is not None:
                    found.append((when, Record.ref_of(prov)))
    plan_documents = policy.valueset("plan-of-care-documents")
    for doc in for_patient(record, "DocumentReference"):
        typed = any(plan_documents.contains(c.system, c.code) for c in codings(doc.type))
        if typed and doc.authenticator is not None and first_day(doc.date) is not None:
            if credentials(record, doc.authenticator, doc) is None:
                unknown = True
            elif holds(record, policy, doc.authenticator, CERTIFIERS, doc) and (signed_on := first_day(doc.date)):
                found.append((signed_on, Record.ref_of(doc)))
    return sorted(found), unknown


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    profile = payer_profile(record, policy)
    day = visit_day(record)
    if not (profile.certification_days or profile.recertification_days) or day is None:
        return
    if (episode := active_plan_start(record, day)) is None:
        return
    plan, start = episode
    first = next((d for d in therapy_days(record, policy) if start <= d <= day), day)
    certs, unknown = certifications(record, policy, plan)
    problem = None
    if profile.certification_days and not unknown:
        due = first + timedelta(days=profile.certification_days)
        if not any(d <= due for d, _ in certs):
            late = f" (the earliest is dated {certs[0][0].isoformat()})" if certs else ""
            problem = (f"No physician/NPP certification of the plan of care dated by {due.isoformat()}, "
                       f"{profile.certification_days} days after its first treatment on {first.isoformat()}{late}.")
    signed_by_then = [d for d, _ in certs if d <= day]
    if problem is None and profile.recertification_days and signed_by_then:
        latest = max(signed_by_then)
        if (day - latest).days > profile.recertification_days:
            problem = (f"The latest certification of the plan of care is dated {latest.isoformat()}, "
                       f"{(day - latest).days} days before this visit: recertification is due every "
                       f"{profile.recertification_days} days.")
    if problem is None:
        return
    yield RULE.finding(
        summary="Have the physician/NPP certify (sign and date) the plan of care before billing therapy.",
        detail=(f"{problem} Under {profile.name} therapy is paid only under a certified plan of care: record the "
                "physician's or NPP's dated signature on the plan."),
        evidence=[Record.ref_of(plan), *[ref for _, ref in certs]])
