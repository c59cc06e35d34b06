"""performer: 97124 needs one-on-one contact by a physician or a licensed therapist.

Source: Coding Ahead, CPT Code 97124 — Therapeutic Massage Therapy, Who may bill 97124
https://www.codingahead.com/cpt-code-97124-description-guidelines-reimbursement-modifiers-examples/
"""
from collections.abc import Iterator
from typing import Any

from plugin.facts import codings, cpt_codes, massage_procedures, texts
from plugin.findings import Finding, Severity
from plugin.policy import Policy
from plugin.record import Record
from plugin.rules._billing import credentials, holds, performer_refs
from plugin.rules._rule import CLAIM_ONLY, Rule
from plugin.vocabulary import CODING_AHEAD_97124
from plugin.wording import label, person, sentence

RULE = Rule(
    code="performer",
    title="Qualified performer, one-on-one",
    description=("97124 requires direct one-on-one contact by a physician or a licensed therapist "
                 "(qualified-performers value set: physicians, chiropractors, physical and occupational "
                 "therapists and their assistants, massage therapists). Aides, unlicensed staff, an "
                 "undocumented performer, or group treatment (97150) do not qualify. Under a payer with "
                 "Medicare's coverage rules, medicare-performer speaks for the performer instead."),
    citation=CODING_AHEAD_97124.at("Who may bill 97124"),
    subjects=CLAIM_ONLY,
    severity=Severity.CRITICAL,
    overrides=("documentation-attached", "payer-exception"),
    needs_complete=("procedures", "performers", "performerRoles"),
    # That card names the performer problem too, with the suggestions a Medicare claim needs.
    superseded_by=("medicare-performer",),
)

GROUP_CODE = "97150"
GROUP_WORDS = ("group",)


def _is_group(proc: Any) -> bool:
    """Group therapy: CPT 97150, or a category, code text or extension saying so."""
    if GROUP_CODE in cpt_codes(proc.code) or GROUP_CODE in cpt_codes(proc.category):
        return True
    words = texts(proc.category) + [c.code for c in codings(proc.category) if c.code]
    for ext in proc.extension or []:
        words += [ext.url or ""] if ext.valueBoolean else []
        words += [ext.valueString or ""] + texts(ext.valueCodeableConcept)
    return any(w in text.casefold() for text in words for w in GROUP_WORDS)


def _problem(record: Record, policy: Policy, proc: Any) -> tuple[str, str] | None:
    """(short, full) description of what is wrong with who performed this service, or None."""
    if _is_group(proc):
        return "a group service", "documented as a group service, not one-on-one"
    actors = performer_refs(proc)
    if not actors:
        return "no performer documented", "no performer documented on the service"
    known = [a for a in actors if credentials(record, a, proc) is not None]
    if not known:
        return "performer not documented", "the record does not say who the performer is or what licence they hold"
    if not any(holds(record, policy, a, "qualified-performers", proc) for a in known):
        return "performer not qualified", "the performer's licence is not one that may give 97124"
    return None


@RULE.checks
def check(record: Record, policy: Policy) -> Iterator[Finding]:
    for proc in massage_procedures(record):
        problem = _problem(record, policy, proc)
        if problem is None:
            continue
        (short, full), ref = problem, Record.ref_of(proc)
        who = ", ".join(person(record, a) for a in performer_refs(proc)) or "nobody named"
        yield RULE.finding(
            summary=f"Do not bill 97124 ({short}): it needs one-on-one care by a physician or licensed therapist.",
            detail=(f"{sentence(label(record, proc))}, given by {who}: {full}. 97124 needs a physician "
                    "(MD/DO), chiropractor, a physical or occupational therapist or their assistant, or a massage "
                    "therapist, one-on-one; "
                    "group work is 97150."),
            evidence=[ref] + [a.reference for a in performer_refs(proc) if a.reference])
