"""Clinical facts several medical-necessity and documentation rules read the same way.

A `Source` is one place a purpose or reason is written (an order, a Procedure, a claim
diagnosis, a Goal); rules test its codes against value sets and its text against lexicons and
name the place as evidence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from plugin.facts import (CPT, codings, cpt_codes, for_patient, in_valueset, is_massage, line_ref,
                          lines_on, massage_lines, massage_orders, massage_procedures, notes_text,
                          texts, visit_day, visit_procedures)
from plugin.policy import Lexicon, Policy
from plugin.prefilter import goal_measures, observation_read
from plugin.record import Record

QUALIFYING_PREFIX = "qualifying-"
PRE_EXERCISE = "pre-exercise-codes"
_NOT_CURRENT = {"inactive", "resolved", "remission"}
_NOT_TRUE = {"refuted", "entered-in-error"}
_CURRENT_GOAL = {"active", "accepted", "planned", "proposed"}


@dataclass(frozen=True)
class Source:
    """Codes and text read from one place, named by `ref` for the card's evidence."""

    ref: str
    concepts: tuple[Any, ...] = ()
    notes: str = ""

    @property
    def text(self) -> str:
        return "\n".join([*texts(list(self.concepts)), self.notes]).strip()


@dataclass(frozen=True)
class Hit:
    """A code or a word that decided something, and where it was found."""

    ref: str
    what: str      # the code or the matched term
    group: str = ""

    def __str__(self) -> str:
        label = f"{self.group}: " if self.group else ""
        return f"{label}`{self.what}` ({self.ref})"


def describe(hits: Iterable[Hit]) -> str:
    return "; ".join(str(h) for h in hits)


def listing(references: Iterable[str]) -> str:
    """References as Markdown code, comma-separated, for a card's detail."""
    return ", ".join(f"`{r}`" for r in references)


def refs(hits: Iterable[Hit], *more: Iterable[str]) -> list[str]:
    """Evidence references: where the hits were found, then `more`, without repeats."""
    return list(dict.fromkeys([h.ref for h in hits] + [r for group in more for r in group]))


# -- whose and whether current ----------------------------------------------------------
def _status_codes(concept: Any) -> set[str]:
    return {c.code for c in codings(concept) if c.code}


def is_current_condition(condition: Any) -> bool:
    """Active (or of unstated status) and not refuted: liberal, as the mapping asks."""
    if _status_codes(condition.clinicalStatus) & _NOT_CURRENT:
        return False
    return not _status_codes(condition.verificationStatus) & _NOT_TRUE


def current_conditions(record: Record) -> list[Any]:
    return [c for c in for_patient(record, "Condition") if is_current_condition(c)]


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
def reason_sources(record: Record, resource: Any) -> list[Source]:
    """The resource's reasonCode, and each reasonReference's target code (or its display)."""
    own = Record.ref_of(resource)
    out = [Source(own, tuple(resource.reasonCode or []))] if resource.reasonCode else []
    for reference in resource.reasonReference or []:
        target = record.resolve(reference, resource)
        if target is not None and getattr(target, "code", None) is not None:
            out.append(Source(Record.ref_of(target), (target.code,)))
        elif reference.display:
            out.append(Source(reference.reference or own, (), reference.display))
    return out


def purpose_sources(record: Record, resource: Any) -> list[Source]:
    """Reasons plus the free-text notes of an order or a Procedure."""
    note = notes_text(resource.note)
    own = [Source(Record.ref_of(resource), (), note)] if note else []
    return reason_sources(record, resource) + own


def claim_diagnosis_sources(record: Record) -> list[Source]:
    claim = record.claim
    out = []
    for dx in (claim.diagnosis or []) if claim is not None else []:
        where = f"Claim.diagnosis[{dx.sequence}]"
        if dx.diagnosisCodeableConcept is not None:
            out.append(Source(where, (dx.diagnosisCodeableConcept,)))
        target = record.resolve(dx.diagnosisReference, claim) if dx.diagnosisReference else None
        if target is not None and getattr(target, "code", None) is not None:
            out.append(Source(Record.ref_of(target), (target.code,)))
    return out


def goal_sources(record: Record) -> list[Source]:
    return [Source(Record.ref_of(g), (g.description,)) for g in current_goals(record)
            if g.description is not None]


def careplan_activity_sources(record: Record) -> list[Source]:
    out = []
    for plan in for_patient(record, "CarePlan"):
        if plan.status not in ("active", "draft"):
            continue
        for activity in plan.activity or []:
            detail = activity.detail
            # Only the massage's own activity speaks for its intent (a 97140 activity is its own).
            if detail is not None and names_massage(detail.code, detail.description or ""):
                out.append(Source(Record.ref_of(plan), tuple(c for c in [detail.code] if c),
                                  detail.description or ""))
    return out


def massage_service_sources(record: Record, notes: bool = True) -> list[Source]:
    """Reasons (and notes) of the 97124 orders being signed, or of this visit's 97124 services."""
    services = massage_orders(record) if record.hook == "order-sign" else massage_procedures(record)
    read = purpose_sources if notes else reason_sources
    return [s for service in services for s in read(record, service)]


# -- matching codes and words ------------------------------------------------------------
def term_hits(sources: Iterable[Source], lexicon: Lexicon, mask: Lexicon | None = None) -> list[Hit]:
    """Lexicon terms in each source's text; phrases of `mask` are blanked out first."""
    out = []
    for source in sources:
        text = masked(source.text, mask) if mask is not None else source.text
        out += [Hit(source.ref, term) for term in lexicon.hits(text)]
    return out


def masked(text: str, lexicon: Lexicon) -> str:
    for term in lexicon.hits(text):
        text = re.sub(rf"\b{re.escape(term)}\b", " ", text, flags=re.IGNORECASE)
    return text


def code_hits(sources: Iterable[Source], policy: Policy, valueset: str, group: str = "") -> list[Hit]:
    return [Hit(s.ref, code, group) for s in sources
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
    return hits + [Hit(h.ref, h.what, "condition named in text") for h in words]


def pre_exercise_hits(record: Record, policy: Policy) -> list[Hit]:
    """97110/97112/97530 done this visit, billed on its date, or ordered alongside the massage."""
    wanted = policy.valueset(PRE_EXERCISE)
    out = []
    for proc in visit_procedures(record):
        out += [Hit(Record.ref_of(proc), c, "pre-exercise") for c in cpt_codes(proc.code)
                if wanted.contains(CPT, c)]
    for line in lines_on(record, visit_day(record)):
        out += [Hit(line_ref(line), c, "pre-exercise")
                for c in cpt_codes(line.productOrService) if wanted.contains(CPT, c)]
    for order in record.draft_orders:
        out += [Hit(Record.ref_of(order), c, "pre-exercise") for c in cpt_codes(order.code)
                if wanted.contains(CPT, c)]
    return out


def patient_qualifying_conditions(record: Record, policy: Policy) -> list[Hit]:
    """Current Conditions of the patient in a qualifying group, one hit per Condition."""
    sources = [Source(record.reference_to(c) or Record.ref_of(c), (c.code,))
               for c in current_conditions(record) if c.code]
    return list({h.ref: h for h in qualifying_hits(sources, policy)}.values())


# -- the service documented ---------------------------------------------------------------
def lacking(record: Record, documented: Callable[[Any], bool]) -> list[str]:
    """This visit's 97124 services that fail `documented`. No service at all: nothing to say here
    (time-in-out reports the missing service record)."""
    return [Record.ref_of(p) for p in massage_procedures(record) if not documented(p)]


def subject_refs(record: Record) -> list[str]:
    """What a documentation card points at: the 97124 orders or the 97124 claim lines."""
    if record.hook == "order-sign":
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
