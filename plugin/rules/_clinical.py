"""Clinical facts several medical-necessity and documentation rules read the same way.

A `Source` is one place a purpose or reason is written (an order, a Procedure, a claim
diagnosis, a Goal); rules test its codes against value sets and its text against lexicons and
name the place as evidence.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from plugin.documents import service_note, unreadable_notes
from plugin.facts import (
    about_patient,
    codings,
    cpt_codes,
    for_patient,
    in_valueset,
    is_massage,
    line_ref,
    lines_on,
    massage_lines,
    massage_orders,
    massage_procedures,
    notes_text,
    ref_key,
    texts,
    visit_day,
    visit_procedures,
)
from plugin.policy import Lexicon, Policy
from plugin.prefilter import goal_measures, observation_read
from plugin.record import Record, Subject
from plugin.vocabulary import CPT
from plugin.wording import label, line_label, quote, sentence

QUALIFYING_PREFIX = "qualifying-"
PRE_EXERCISE = "pre-exercise-codes"
_CURRENT = {"active", "recurrence", "relapse"}
_NOT_TRUE = {"refuted", "entered-in-error"}
_CURRENT_GOAL = {"active", "accepted", "planned", "proposed"}


@dataclass(frozen=True)
class Source:
    """Codes and text read from one place: `ref` names it in the evidence line, `label` in the
    prose (or a function that words it: most sources are never named on a card, and wording
    one costs more than reading it). A source with `excluded` set was read but does not count
    (the words say why)."""

    ref: str
    concepts: tuple[Any, ...] = ()
    notes: str = ""
    label: str | Callable[[], str] = ""
    excluded: str = ""

    @cached_property  # read once per lexicon that searches it; a Source never changes
    def text(self) -> str:
        return "\n".join([*texts(list(self.concepts)), self.notes]).strip()

    @property
    def name(self) -> str:
        return (self.label() if callable(self.label) else self.label) or "the record"


@dataclass(frozen=True)
class Hit:
    """A code or a word that decided something, and where it was found."""

    ref: str
    what: str      # the code or the matched term
    group: str = ""
    label: str = ""      # where, in words


def describe(hits: Iterable[Hit], places: int = 3) -> str:
    """Hits grouped by where they were found: `“a”, “b” in the goal “…”; tightness: the diagnosis …`
    (at most `places` places, then how many more)."""
    by_place: dict[tuple[str, str], list[str]] = {}
    for hit in hits:
        by_place.setdefault((hit.group, hit.label or "the record"), []).append(hit.what)
    parts = []
    for (group, where), found in by_place.items():
        found = list(dict.fromkeys(found))
        said = where if all(w.lower() in where.lower() for w in found) else (
            ", ".join(f"“{w}”" for w in found) + f" in {where}")
        parts.append(f"{group}: {said}" if group else said)
    more = len(parts) - places
    return "; ".join(parts[:places]) + (f"; and {more} more" if more > 0 else "")


def summarise(hits: Iterable[Hit], places: int = 2) -> str:
    """Each code or word found once, then where: `“Z73.3”, “relaxation” (in claim diagnosis 1 and
    the note on the 2 Apr 2026 massage)`."""
    hits = list(hits)
    found = ", ".join(dict.fromkeys(f"“{h.what}”" for h in hits))
    where = list(dict.fromkeys(h.label or "the record" for h in hits))
    more = len(where) - places
    said = ", ".join(where[:places]) + (f" and {more} more place(s)" if more > 0 else "")
    return f"{found} (in {said})" if found else ""


def refs(hits: Iterable[Hit], *more: Iterable[str]) -> list[str]:
    """Evidence references: where the hits were found, then `more`, without repeats."""
    return list(dict.fromkeys([h.ref for h in hits] + [r for group in more for r in group]))


def source_of(record: Record, model: Any, concepts: Iterable[Any] = (), notes: str = "") -> Source:
    return Source(Record.ref_of(model), tuple(c for c in concepts if c is not None), notes,
                  lambda: label(record, model))


# -- whose and whether current ----------------------------------------------------------
def _status_codes(concept: Any) -> set[str]:
    return {c.code for c in codings(concept) if c.code}


def condition_problem(record: Record, condition: Any) -> str:
    """Why a Condition is no evidence for this visit ("" when it counts): another patient's,
    not clinically current (active, recurrence or relapse; an unstated status is taken as
    current), or refuted / entered in error."""
    if not about_patient(record, condition):
        return "is recorded for another patient: the link points to someone else's chart"
    verification = _status_codes(condition.verificationStatus) & _NOT_TRUE
    if verification:
        return f"is marked {next(iter(verification)).replace('-', ' ')}"
    clinical = _status_codes(condition.clinicalStatus)
    if clinical and not clinical & _CURRENT:
        return f"is {next(iter(sorted(clinical)))}, not current"
    return ""


def is_current_condition(condition: Any) -> bool:
    """Clinically current (active, recurrence, relapse, or unstated) and not refuted or in error."""
    clinical = _status_codes(condition.clinicalStatus)
    if clinical and not clinical & _CURRENT:
        return False
    return not _status_codes(condition.verificationStatus) & _NOT_TRUE


def current_conditions(record: Record) -> list[Any]:
    return record.memo("current_conditions",
                       lambda: [c for c in for_patient(record, "Condition") if is_current_condition(c)])


def withdrawn_codes(record: Record) -> dict[str, Any]:
    """Diagnosis codes the patient's record shows only as resolved, inactive, refuted or entered in
    error (no current Condition carries them): code -> that Condition."""
    def compute() -> dict[str, Any]:
        current = {c.code for cond in current_conditions(record) for c in codings(cond.code) if c.code}
        return {c.code: cond for cond in for_patient(record, "Condition") if not is_current_condition(cond)
                for c in codings(cond.code) if c.code and c.code not in current}
    return record.memo("withdrawn_codes", compute)


def current_goals(record: Record) -> list[Any]:
    return [g for g in for_patient(record, "Goal") if g.lifecycleStatus in _CURRENT_GOAL]


def recorded_observations(record: Record) -> list[Any]:
    """The patient's Observations the rules read: not cancelled or in error, and not a vital sign
    or lab result unless it carries a code the rules read (plugin.prefilter.observation_read)."""
    def compute() -> list[Any]:
        measures = goal_measures(record.raw(g) for g in for_patient(record, "Goal"))
        return [o for o in for_patient(record, "Observation") if observation_read(record.raw(o), measures)]
    return record.memo("recorded_observations", compute)


# -- where purposes and reasons are written --------------------------------------------
def coded_sources(record: Record, own: str, concepts: list[Any], name: str) -> list[Source]:
    """Codes written in place `own` (a reason code, a claim diagnosis); a code the patient's
    record shows only as resolved or entered in error is read but does not count."""
    withdrawn = withdrawn_codes(record)
    kept: list[Any] = []
    dropped: list[Any] = []
    for concept in concepts:
        codes = [c.code for c in codings(concept) if c.code]
        (dropped if codes and all(c in withdrawn for c in codes) else kept).append(concept)
    out = [Source(own, tuple(kept), label=name)] if kept else []
    for concept in dropped:
        cond = withdrawn[next(c.code for c in codings(concept) if c.code)]
        out.append(Source(Record.ref_of(cond), (concept,), label=label(record, cond),
                          excluded=condition_problem(record, cond) or "is not current"))
    return out


def linked_source(record: Record, reference: Any, name: str, within: Any = None) -> Source | None:
    """What a reasonReference / diagnosisReference points to. A target not in the record is no
    evidence (its display is a label, not a diagnosis); another patient's or a withdrawn
    Condition is read but does not count. `within` holds the reference (for contained targets)."""
    target = record.resolve(reference, within)
    if target is None:
        shown = f" {quote(reference.display)}" if getattr(reference, "display", None) else ""
        return Source(ref_key(reference, record, within) or "", (), label=f"{name}{shown}",
                      excluded="is not in the record: a label, not a diagnosis")
    if getattr(target, "code", None) is None:
        return None
    problem = condition_problem(record, target) if target.get_resource_type() == "Condition" else (
        "is recorded for another patient: the link points to someone else's chart"
        if not about_patient(record, target) else "")
    return Source(Record.ref_of(target), (target.code,), label=label(record, target), excluded=problem)


def reason_sources(record: Record, resource: Any) -> list[Source]:
    """The resource's reasonCode, and each reasonReference's target code."""
    name = label(record, resource)
    out = coded_sources(record, Record.ref_of(resource), list(resource.reasonCode or []), name)
    for reference in resource.reasonReference or []:
        found = linked_source(record, reference, "the cited diagnosis", resource)
        out += [found] if found else []
    return out


def purpose_sources(record: Record, resource: Any) -> list[Source]:
    """Reasons plus the free-text notes of an order or a Procedure."""
    note = notes_text(resource.note)
    own = [Source(Record.ref_of(resource), (), note, f"the note on {label(record, resource)}")] if note else []
    return reason_sources(record, resource) + own


def claim_diagnosis_sources(record: Record) -> list[Source]:
    claim = record.claim
    out = []
    for dx in (claim.diagnosis or []) if claim is not None else []:
        name = f"claim diagnosis {dx.sequence}"
        if dx.diagnosisCodeableConcept is not None:
            out += coded_sources(record, f"Claim.diagnosis[{dx.sequence}]", [dx.diagnosisCodeableConcept], name)
        if dx.diagnosisReference is not None:
            found = linked_source(record, dx.diagnosisReference, name, claim)
            out += [found] if found else []
    return out


def counted(sources: Iterable[Source]) -> list[Source]:
    return [s for s in sources if not s.excluded]


def set_aside(sources: Iterable[Source]) -> str:
    """Plain words for the sources read but not counted ("" when none)."""
    return " ".join(dict.fromkeys(f"{sentence(s.name)} {s.excluded}." for s in sources if s.excluded))


def goal_sources(record: Record) -> list[Source]:
    return record.memo("goal_sources", lambda: [
        source_of(record, g, (g.description,)) for g in current_goals(record) if g.description is not None])


def careplan_activity_sources(record: Record) -> list[Source]:
    out = []
    for plan in for_patient(record, "CarePlan"):
        if plan.status not in ("active", "draft"):
            continue
        for activity in plan.activity or []:
            detail = activity.detail
            # Only the massage's own activity speaks for its intent (a 97140 activity is its own).
            if detail is not None and names_massage(detail.code, detail.description or ""):
                out.append(source_of(record, plan, [detail.code], detail.description or ""))
    return out


def massage_service_sources(record: Record, notes: bool = True) -> list[Source]:
    """Reasons (and notes) of the 97124 orders being signed, or of this visit's 97124 services
    (once per request: several rules read them)."""
    def compute() -> list[Source]:
        services = massage_orders(record) if record.subject is Subject.ORDER else massage_procedures(record)
        read = purpose_sources if notes else reason_sources
        return [s for service in services for s in read(record, service)]
    return record.memo(("massage_service_sources", notes), compute)


# -- matching codes and words ------------------------------------------------------------
def term_hits(sources: Iterable[Source], lexicon: Lexicon, mask: Lexicon | None = None) -> list[Hit]:
    """Lexicon terms in each source's text; phrases of `mask` are blanked out first."""
    out = []
    for source in counted(sources):
        text = masked(source.text, mask) if mask is not None else source.text
        out += [Hit(source.ref, term, label=source.name) for term in lexicon.hits(text)]
    return out


def masked(text: str, lexicon: Lexicon) -> str:
    for term in lexicon.hits(text):
        text = re.sub(rf"\b{re.escape(term)}\b", " ", text, flags=re.IGNORECASE)
    return text


def code_hits(sources: Iterable[Source], policy: Policy, valueset: str, group: str = "") -> list[Hit]:
    return [Hit(s.ref, code, group, s.name) for s in counted(sources)
            for code in in_valueset(list(s.concepts), policy, valueset)]


def qualifying_groups(policy: Policy) -> list[str]:
    """The qualifying-condition value sets shipped (qualifying-*.json), by group name."""
    return sorted(name[len(QUALIFYING_PREFIX):] for name in policy.valuesets
                  if name.startswith(QUALIFYING_PREFIX))


def qualifying_hits(sources: Iterable[Source], policy: Policy) -> list[Hit]:
    """Codes of the qualifying value sets, else qualifying-condition words, in the sources."""
    sources = list(sources)
    hits = [h for group in qualifying_groups(policy)
            for h in code_hits(sources, policy, QUALIFYING_PREFIX + group, group)]
    coded = {h.ref for h in hits}
    words = term_hits([s for s in sources if s.ref not in coded], policy.lexicon("qualifying_conditions"))
    return hits + [Hit(h.ref, h.what, "condition named in text", h.label) for h in words]


def pre_exercise_hits(record: Record, policy: Policy) -> list[Hit]:
    """97110/97112/97530 done this visit, billed on its date, or ordered alongside the massage."""
    wanted = policy.valueset(PRE_EXERCISE)
    out = []
    for proc in visit_procedures(record):
        out += [Hit(Record.ref_of(proc), c, "pre-exercise", label(record, proc)) for c in cpt_codes(proc.code)
                if wanted.contains(CPT, c)]
    for line in lines_on(record, visit_day(record)):
        out += [Hit(line_ref(line), c, "pre-exercise", line_label(line))
                for c in cpt_codes(line.productOrService) if wanted.contains(CPT, c)]
    for order in record.draft_orders:
        out += [Hit(Record.ref_of(order), c, "pre-exercise", label(record, order)) for c in cpt_codes(order.code)
                if wanted.contains(CPT, c)]
    return out


def patient_qualifying_conditions(record: Record, policy: Policy) -> list[Hit]:
    """Current Conditions of the patient in a qualifying group, one hit per Condition."""
    sources = [Source(record.reference_to(c) or Record.ref_of(c), (c.code,), label=label(record, c))
               for c in current_conditions(record) if c.code]
    return list({h.ref: h for h in qualifying_hits(sources, policy)}.values())


# -- the service documented ---------------------------------------------------------------
def lacking(record: Record, documented: Callable[[Any], bool]) -> list[Any]:
    """This visit's 97124 services that fail `documented`. No service at all: nothing to say here
    (time-in-out reports the missing service record)."""
    return [p for p in massage_procedures(record) if not documented(p)]


def lacking_in_notes(record: Record, coded: Callable[[Any], object], lexicon: Lexicon) -> list[Any]:
    """This visit's 97124 services with neither the coded element (`coded(procedure)`) nor a term
    of the lexicon in their note (service_note). Empty while a note document of the visit cannot
    be read: it may hold the words, so no absence is concluded."""
    bare = lacking(record, lambda p: bool(coded(p) or lexicon.hits(service_note(record, p))))
    return bare if bare and not unreadable_notes(record) else []


def subject_refs(record: Record) -> list[str]:
    """What a documentation card points at: the 97124 orders or the 97124 claim lines."""
    if record.subject is Subject.ORDER:
        return [Record.ref_of(o) for o in massage_orders(record)]
    return [line_ref(line) for line in massage_lines(record)]


def names_massage(concept: Any, text: str = "") -> bool:
    return is_massage(concept) or "massage" in " ".join([*texts(concept), text]).lower()


_VALUE_FIELDS = ("valueQuantity", "valueInteger", "valueString", "valueCodeableConcept", "valueBoolean",
                 "valueRange", "valueRatio", "valueSampledData", "valueTime", "valueDateTime",
                 "valuePeriod")


def has_value(observation: Any) -> bool:
    """An Observation that carries a value of its own or in a component."""
    holders = [observation, *(observation.component or [])]
    return any(getattr(h, f, None) is not None for h in holders for f in _VALUE_FIELDS)


def measured(record: Record) -> list[Any]:
    """The patient's Observations with a value: the objective measures."""
    return [o for o in recorded_observations(record) if has_value(o)]
