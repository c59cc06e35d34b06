"""Facts shared by the billing, modifier, audit and performer rules.

Kept apart from plugin.facts because only these rules read them. Modifier fixes are computed
here in one place (`target_modifiers`) so that accepting any one modifier card leaves a line
that none of the other modifier rules objects to.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from plugin.dates import first_day, period_days
from plugin.documents import visit_notes
from plugin.facts import (
    codings,
    cpt_codes,
    for_patient,
    item_cpt,
    item_day,
    item_modifiers,
    lines_on,
    massage_procedures,
    patient_procedures,
    payer_profile,
    procedure_day,
    ref_key,
    texts,
    visit_day,
)
from plugin.findings import ClaimLineFix
from plugin.policy import Policy
from plugin.record import Record
from plugin.vocabulary import CPT
from plugin.wording import day_label, label

DISTINCT = "59"
X_MODIFIERS = ("XE", "XS", "XP", "XU")  # NCCI's subsets of 59; any one bypasses the edit too
GP = "GP"
MANUAL_THERAPY = "97140"
NOT_COVERED = "GY"  # item or service statutorily excluded or not a Medicare benefit
# Therapy discipline modifiers (Claims Processing Manual ch. 5 §20.1), each with the value set and
# category lexicon that recognise its discipline, and the modifier of that discipline's assistants.
DISCIPLINES = (("GP", "discipline-pt", "discipline_pt"), ("GO", "discipline-ot", "discipline_ot"),
               ("GN", "discipline-slp", "discipline_slp"))
DISCIPLINE_MODIFIERS = tuple(m for m, _, _ in DISCIPLINES)
ASSISTANT_MODIFIERS = {"GP": "CQ", "GO": "CO"}


# -- claim lines ----------------------------------------------------------------------
def same_day_codes(record: Record, line: Any, policy: Policy, valueset: str) -> list[str]:
    """CPT codes of the other claim lines on `line`'s date that are in the value set."""
    members = policy.valueset(valueset)
    return [code for other in lines_on(record, item_day(line))
            if other is not line and (code := item_cpt(other)) is not None and members.contains(CPT, code)]


def needs_distinct(record: Record, policy: Policy, line: Any) -> list[str]:
    """The E/M or CMT codes billed the same date, if the line lacks 59 or an X modifier."""
    mods = item_modifiers(line)
    if DISTINCT in mods or any(x in mods for x in X_MODIFIERS):
        return []
    return same_day_codes(record, line, policy, "em-codes") + same_day_codes(record, line, policy, "cmt-codes")


def zelis_applies(record: Record, policy: Policy, line: Any) -> list[str]:
    """CMT codes the same date, when the payer runs Zelis edits (59 then GP required)."""
    if not payer_profile(record, policy).zelis_59_gp:
        return []
    return same_day_codes(record, line, policy, "cmt-codes")


def zelis_order_ok(record: Record, policy: Policy, mods: list[str]) -> bool:
    return mods[:2] == [DISTINCT, discipline(record, policy).modifier]


def _with_discipline(mods: list[str], right: str) -> list[str]:
    """mods with exactly one discipline modifier, `right`: in place of a wrong one, else after 59."""
    present = [m for m in mods if m in DISCIPLINE_MODIFIERS]
    if present == [right]:
        return mods
    if present:
        at = mods.index(present[0])
        kept = [m for m in mods if m not in DISCIPLINE_MODIFIERS]
        return kept[:at] + [right] + kept[at:]
    at = mods.index(DISTINCT) + 1 if DISTINCT in mods else len(mods)
    return mods[:at] + [right] + mods[at:]


def modifiers_fix(record: Record, policy: Policy, line: Any) -> ClaimLineFix:
    """The fix every modifier rule offers: the line's complete modifier list (target_modifiers)."""
    wanted = target_modifiers(record, policy, line)
    return ClaimLineFix(label=f"Set 97124 modifiers to {', '.join(wanted)}", sequence=line.sequence,
                        modifiers=wanted)


def target_modifiers(record: Record, policy: Policy, line: Any, not_covered: bool = False) -> tuple[str, ...]:
    """The complete modifier list the line should carry under every modifier rule at once.

    `not_covered`: the line is kept for a Medicare denial, so it carries the discipline modifier and GY.
    """
    mods = item_modifiers(line)
    profile = payer_profile(record, policy)
    right = discipline(record, policy).modifier
    if zelis_applies(record, policy, line):
        # 59 itself replaces any X modifier: CMS does not want 59 and an X modifier on one line.
        wanted = [DISTINCT, right, *[m for m in mods if m not in (DISTINCT, *X_MODIFIERS, *DISCIPLINE_MODIFIERS)]]
    else:
        wanted = list(mods)
        if needs_distinct(record, policy, line):
            wanted.append(DISTINCT)
        if profile.gp_required or not_covered:
            wanted = _with_discipline(wanted, right)
    assistant = assistant_modifier(record, policy) if profile.medicare_coverage else None
    if assistant and assistant not in wanted:
        at = wanted.index(right) + 1 if right in wanted else len(wanted)
        wanted.insert(at, assistant)
    if not_covered and NOT_COVERED not in wanted:
        wanted.append(NOT_COVERED)
    return tuple(wanted)


# -- body regions ---------------------------------------------------------------------
def region_keys(concepts: Any) -> set[str]:
    """Comparable keys of body-site concepts: each code and each text/display, case-folded."""
    keys = {f"code:{c.code.casefold()}" for c in codings(concepts) if c.code}
    return keys | {f"text:{' '.join(t.casefold().split())}" for t in texts(concepts)}


def region_names(concepts: Any) -> list[str]:
    return texts(concepts) or [c.code for c in codings(concepts) if c.code]


# -- therapy and the episode ---------------------------------------------------------------
def therapy_codes(concept: Any, policy: Policy) -> list[str]:
    members = policy.valueset("therapy-codes")
    return [c for c in cpt_codes(concept) if members.contains(CPT, c)]


def active_care_plan(record: Record, day: date | None) -> Any | None:
    """The patient's active plan of care whose period covers the day (partial dates as the whole
    month or year, a missing end open)."""
    for plan in for_patient(record, "CarePlan"):
        if plan.status != "active" or plan.period is None or first_day(plan.period.start) is None:
            continue
        covered = period_days(plan.period)
        if day is None or (covered is not None and day in covered):
            return plan
    return None


def active_plan_start(record: Record, day: date) -> tuple[Any, date] | None:
    """(the active plan of care covering the day, its first day), or None without one."""
    plan = active_care_plan(record, day)
    start = first_day(plan.period.start) if plan is not None else None
    return (plan, start) if start is not None else None


def episode_window(record: Record, day: date) -> tuple[date, date, str]:
    """(first day, last day, how it was chosen): the plan-of-care period, else the past 12 months."""
    plan = active_care_plan(record, day)
    start = first_day(plan.period.start) if plan is not None else None
    if start is not None:   # an active plan always has one
        return start, day, "the plan of care"
    return day - timedelta(days=365), day, "the 12 months before this visit"


def therapy_days(record: Record, policy: Policy) -> dict[date, list[Any]]:
    """The patient's completed therapy Procedures, grouped by date, oldest first (once per request)."""
    def compute() -> dict[date, list[Any]]:
        by_day: dict[date, list[Any]] = {}
        for proc in patient_procedures(record):
            day = procedure_day(proc, record)
            if proc.status == "completed" and day is not None and therapy_codes(proc.code, policy):
                by_day.setdefault(day, []).append(proc)
        return dict(sorted(by_day.items()))
    return record.memo("therapy_days", compute)


# Where signatures come from: the Procedures (and Provenance riding with them), the follow-up
# searches for Provenance and signers, and the visit's note.
SIGNING_DATA = ("procedures", "provenance", "performers", "performerRoles", "documents")
# Where Medicare's plan rules find certifications and reports: the plan (and Provenance riding
# with it), the follow-up searches for Provenance and signers, the episode's reports and Procedures.
PLAN_EVIDENCE = ("carePlans", "procedures", "provenance", "performers", "performerRoles", "reports")


# -- people ---------------------------------------------------------------------------
def person_keys(record: Record, reference: Any, within: Any = None) -> set[str]:
    """The reference itself plus, for a PractitionerRole, the Practitioner it stands for."""
    key = ref_key(reference, record, within)
    if key is None:
        return set()
    out = {key}
    target = record.resolve(reference, within)
    if target is not None and target.get_resource_type() == "PractitionerRole" and target.practitioner:
        out |= {k for k in [ref_key(target.practitioner, record, target)] if k}
    return out


def credentials(record: Record, reference: Any, within: Any = None) -> list[Any] | None:
    """Qualification and role codes of a Practitioner / PractitionerRole; None when unresolvable.
    Once per person and request: the performer, countersignature and modifier rules all ask."""
    target = record.resolve(reference, within)
    if target is None:
        return None
    return record.memo_of("credentials", target, lambda: _credentials(record, target))


def _credentials(record: Record, target: Any) -> list[Any] | None:
    kind = target.get_resource_type()
    if kind == "Practitioner":
        return [q.code for q in target.qualification or []]
    if kind == "PractitionerRole":
        found = list(target.code or []) + list(target.specialty or [])
        person = record.resolve(target.practitioner, target) if target.practitioner else None
        if person is not None and person.get_resource_type() == "Practitioner":
            found += [q.code for q in person.qualification or []]
        return found
    return None


def holds(record: Record, policy: Policy, reference: Any, valueset: str, within: Any = None) -> bool:
    members = policy.valueset(valueset)
    return any(members.contains(c.system, c.code) for c in codings(credentials(record, reference, within) or []))


def credential_names(record: Record, reference: Any, within: Any = None) -> list[str]:
    """How a person's licence reads on a card ("Massage Therapist"), without repeats."""
    found = credentials(record, reference, within) or []
    return list(dict.fromkeys(texts(found) or [c.code for c in codings(found) if c.code]))


# -- the therapy discipline -----------------------------------------------------------------
@dataclass(frozen=True)
class Discipline:
    modifier: str           # GP, GO or GN
    reason: str             # why, in a biller's words ("the plan of care is occupational therapy")
    evidence: str | None = None  # the resource it was read from


DISCIPLINE_NAMES = {"GP": "physical therapy", "GO": "occupational therapy", "GN": "speech-language pathology"}


def _discipline_of(concepts: Any, policy: Policy, lexicons: bool = False) -> str | None:
    for modifier, valueset, lexicon in DISCIPLINES:
        members = policy.valueset(valueset)
        if any(members.contains(c.system, c.code) for c in codings(concepts)):
            return modifier
        if lexicons and any(policy.lexicon(lexicon).hits(t) for t in texts(concepts)):
            return modifier
    return None


def person_discipline(record: Record, policy: Policy, reference: Any, within: Any = None) -> str | None:
    """GP/GO/GN for a therapist or assistant of that discipline; None for anyone else."""
    return _discipline_of(credentials(record, reference, within) or [], policy)


def discipline(record: Record, policy: Policy) -> Discipline:
    """The discipline of the visit's therapy (97124-rules.md §10): the plan of care's category, else its
    author's discipline, else the massage performer's; GP when nothing says (massage is usually PT)."""
    def compute() -> Discipline:
        plan = active_care_plan(record, visit_day(record))
        if plan is not None:
            found = _discipline_of(plan.category, policy, lexicons=True)
            if found:
                return Discipline(found, f"the plan of care is {DISCIPLINE_NAMES[found]}", Record.ref_of(plan))
            found = person_discipline(record, policy, plan.author, plan) if plan.author else None
            if found:
                return Discipline(found, f"the plan of care was written in {DISCIPLINE_NAMES[found]}",
                                  record.key(plan.author, plan))
        for proc in massage_procedures(record):
            for actor in performer_refs(proc):
                found = person_discipline(record, policy, actor, proc)
                if found:
                    return Discipline(found, f"the massage was given in {DISCIPLINE_NAMES[found]}",
                                      record.key(actor, proc))
        return Discipline(GP, "nothing documents another discipline, so physical therapy is assumed")
    return record.memo("discipline", compute)


def assistant_modifier(record: Record, policy: Policy) -> str | None:
    """CQ when a PT assistant, CO when an OT assistant performed the visit's 97124 in whole or in part."""
    for proc in massage_procedures(record):
        for actor in performer_refs(proc):
            if holds(record, policy, actor, "therapy-assistants", proc):
                found = ASSISTANT_MODIFIERS.get(person_discipline(record, policy, actor, proc) or "")
                if found:
                    return found
    return None


def performer_refs(procedure: Any) -> list[Any]:
    return [p.actor for p in procedure.performer or [] if p.actor is not None]


def performer_keys(record: Record, procedure: Any) -> set[str]:
    keys: set[str] = set()
    for actor in performer_refs(procedure):
        keys |= person_keys(record, actor, procedure)
    return keys


def note_name(record: Record, procedure: Any) -> str:
    """The day's note as a clinician names it: its note document ("the 3 Feb 2026 massage note"),
    else the service's own note."""
    notes = visit_notes(record)
    when = day_label(notes[0].date) if notes else ""
    return f"the {when} massage note".replace("  ", " ") if notes else f"the note for {label(record, procedure)}"


def note_targets(record: Record, procedure: Any) -> list[str]:
    """What a signature on this service may point at: the Procedure or the visit's note documents."""
    return [Record.ref_of(procedure), *(Record.ref_of(d) for d in visit_notes(record))]


def signing_keys(record: Record, procedure: Any) -> set[str]:
    """note_targets as record identities, to compare with any form of Provenance.target."""
    return {record.key_of(procedure), *(record.key_of(d) for d in visit_notes(record))}


def signing_evidence(record: Record, procedure: Any, agent_ok: Callable[[Any, Any], bool],
                     note_ok: Callable[[Any], bool]) -> list[str]:
    """Provenances on the procedure or its visit note with an agent `agent_ok(provenance, agent)`
    accepts, and visit notes `note_ok` accepts: the signatures found, as references."""
    wanted = signing_keys(record, procedure)
    found = [Record.ref_of(p) for p in record.all("Provenance")
             if any(record.key(t, p) in wanted for t in p.target or []) and any(agent_ok(p, a) for a in p.agent or [])]
    return found + [Record.ref_of(d) for d in visit_notes(record) if note_ok(d)]


def agent_types(agent: Any) -> set[str]:
    return {c.code for c in codings(agent.type) if c.code}
