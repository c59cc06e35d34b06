"""Facts the rules share, read from a Record the same way everywhere (see docs/fhir-mapping.md).

Each function is pure over the record; expensive ones are memoised per request.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from plugin.dates import first_day, has_time, instant
from plugin.policy import PayerFacts, PayerProfile, Policy
from plugin.record import Record, Subject
from plugin.references import logical_key, reference_string
from plugin.units import permitted_allocations
from plugin.vocabulary import CPT, MASSAGE

MASSAGE_TEXT = ("massage therapy", "therapeutic massage")


# -- codes and text ----------------------------------------------------------------
def codings(concepts: Any) -> list[Any]:
    """All Codings of a CodeableConcept, or of a list of them (None-safe)."""
    if concepts is None:
        return []
    if not isinstance(concepts, (list, tuple)):
        concepts = [concepts]
    return [c for concept in concepts if concept is not None for c in (concept.coding or [])]


def codes(concepts: Any, system: str) -> list[str]:
    return [c.code for c in codings(concepts) if c.system == system and c.code]


def cpt_codes(concepts: Any) -> list[str]:
    return codes(concepts, CPT)


def texts(concepts: Any) -> list[str]:
    """Human text of concepts: `.text` and each coding's `display`."""
    if concepts is None:
        return []
    if not isinstance(concepts, (list, tuple)):
        concepts = [concepts]
    out = [c.text for c in concepts if c is not None and c.text]
    out += [c.display for c in codings(concepts) if c.display]
    return out


def in_valueset(concepts: Any, policy: Policy, name: str) -> list[str]:
    """`system|code` of each coding in the named value set."""
    vs = policy.valueset(name)
    return [f"{c.code}" for c in codings(concepts) if vs.contains(c.system, c.code)]


def is_massage(concept: Any) -> bool:
    """CPT 97124, or (orders only, as the mapping allows) the text "massage therapy"."""
    if MASSAGE in cpt_codes(concept):
        return True
    return any(t.lower().strip() in MASSAGE_TEXT for t in texts(concept))


def notes_text(annotations: Any) -> str:
    return "\n".join(a.text for a in (annotations or []) if getattr(a, "text", None))


# -- time ------------------------------------------------------------------------------
def encounter_day(record: Record, reference: Any, within: Any = None) -> date | None:
    """The day of the Encounter a reference names: the date of service for the hook's own
    encounter, else the day its start was recorded on, in the offset it was recorded in."""
    if reference is not None and record.is_ref(reference, "Encounter", record.encounter_id, within):
        return visit_day(record)
    return _recorded_encounter_day(record, reference, within)


def _recorded_encounter_day(record: Record, reference: Any, within: Any = None) -> date | None:
    enc = record.resolve(reference, within) if reference is not None else None
    if enc is None or enc.get_resource_type() != "Encounter" or enc.period is None:
        return None
    return first_day(enc.period.start) or first_day(enc.period.end)


def procedure_day(proc: Any, record: Record | None = None) -> date | None:
    """A Procedure's date of service: its encounter's day when the record holds the encounter
    (times of one visit may fall either side of midnight in another offset), else when it was
    performed, in the offset that was recorded. Once per Procedure and request: several rules
    walk the whole history."""
    if record is None:
        return _procedure_day(proc, None)
    return record.memo_of("procedure_day", proc, lambda: _procedure_day(proc, record))


def _procedure_day(proc: Any, record: Record | None) -> date | None:
    if record is not None and (day := encounter_day(record, proc.encounter, proc)) is not None:
        return day
    if proc.performedDateTime is not None:
        return first_day(proc.performedDateTime)
    if proc.performedPeriod is not None:
        return first_day(proc.performedPeriod.start) or first_day(proc.performedPeriod.end)
    return first_day(proc.performedString) if getattr(proc, "performedString", None) else None


def clock_minutes(proc: Any) -> int | None:
    """Whole minutes between the documented time in and time out (instants, so offsets may
    differ; a started minute is not a minute); None unless both carry a time of day."""
    period = proc.performedPeriod
    if period is None or not has_time(period.start) or not has_time(period.end):
        return None
    start, end = instant(period.start), instant(period.end)
    if start is None or end is None:
        return None
    seconds = (end - start).total_seconds()
    return int(seconds // 60) if seconds >= 0 else None


# -- the claim ------------------------------------------------------------------------
def item_cpt(item: Any) -> str | None:
    found = cpt_codes(item.productOrService)
    return found[0] if found else None


def item_quantity(item: Any) -> int | Decimal:
    """Units billed on a claim line, exactly as written (0 when the quantity is not stated). Never
    rounded: 2.5 units of a timed code is no whole number of 15-minute units, which the units rule
    reports; a count no claim can carry never gets this far (plugin.record refuses the Claim)."""
    value = item.quantity.value if item.quantity is not None else None
    return value if value is not None else 0


def line_ref(item: Any) -> str:
    """How a card names a claim line in its evidence."""
    return f"Claim.item[{item.sequence}]"


def item_modifiers(item: Any) -> list[str]:
    return [c.code for c in codings(item.modifier) if c.code]


def item_day(item: Any) -> date | None:
    """A claim line's date of service: servicedDate, else the start of servicedPeriod."""
    if item.servicedDate is not None:
        return first_day(item.servicedDate)
    if item.servicedPeriod is not None:
        return first_day(item.servicedPeriod.start) or first_day(item.servicedPeriod.end)
    return None


def massage_lines(record: Record) -> list[Any]:
    """The claim's 97124 lines (once per request: most rules start from them)."""
    def compute() -> list[Any]:
        claim = record.claim
        return [i for i in (claim.item or []) if item_cpt(i) == MASSAGE] if claim is not None else []
    return record.memo("massage_lines", compute)


def visit_massage_lines(record: Record) -> list[Any]:
    """The 97124 lines dated on the visit's day (or undated): a claim may span several dates."""
    day = visit_day(record)
    return [i for i in massage_lines(record) if day is None or item_day(i) in (day, None)]


def massage_orders(record: Record) -> list[Any]:
    return record.memo("massage_orders", lambda: [o for o in record.draft_orders if is_massage(o.code)])


def has_subject(record: Record) -> bool:
    """Whether the hook carries something for us: a 97124 order or a 97124 claim line."""
    if record.subject is Subject.ORDER:
        return bool(massage_orders(record))
    if record.subject is Subject.CLAIM:
        return bool(massage_lines(record))
    return False


def lines_on(record: Record, day: date | None) -> list[Any]:
    """Claim lines with the given date of service (all lines when the date is unknown)."""
    claim = record.claim
    if claim is None:
        return []
    return [i for i in claim.item or [] if day is None or item_day(i) in (day, None)]


# -- the visit ------------------------------------------------------------------------
def visit_day(record: Record) -> date | None:
    """The date of service, the one function every rule asks.

    A claim line's servicedDate/servicedPeriod is a local calendar date, so the 97124 line's date
    comes first; when the claim spans several dates the encounter picks the line nearest its own
    day (an encounter recorded in UTC may be a day ahead of the clinic's date). Without a line:
    the encounter's day in the offset its start was recorded in, then the claim's billable
    period, then the order's occurrence or authoring date.
    """
    def compute() -> date | None:
        enc_day = _recorded_encounter_day(record, f"Encounter/{record.encounter_id}") if record.encounter_id else None
        line_days = [d for d in (item_day(line) for line in massage_lines(record)) if d is not None]
        if line_days:
            if enc_day is None:
                return line_days[0]
            nearest = min(line_days, key=lambda d: abs((d - enc_day).days))
            return nearest if abs((nearest - enc_day).days) <= 1 else enc_day
        if enc_day is not None:
            return enc_day
        claim = record.claim
        if claim is not None and claim.billablePeriod is not None and first_day(claim.billablePeriod.start):
            return first_day(claim.billablePeriod.start)
        for order in massage_orders(record):
            if order.occurrencePeriod is not None and first_day(order.occurrencePeriod.start):
                return first_day(order.occurrencePeriod.start)
            if first_day(order.occurrenceDateTime) or first_day(order.authoredOn):
                return first_day(order.occurrenceDateTime) or first_day(order.authoredOn)
        return None
    return record.memo("visit_day", compute)


def ref_key(reference: Any, record: Record | None = None, within: Any = None) -> str | None:
    """What a Reference names, to compare references: `Type/id` (relative, absolute or versioned,
    model or string). Given the record, urn:uuid fullUrls and contained `#id`s resolve too
    (Record.key); without it, every absolute URL counts as the request's own server."""
    if record is not None:
        return record.key(reference, within)
    ref = reference_string(reference)
    return logical_key(ref) if ref else None


def about_patient(record: Record, resource: Any) -> bool:
    """Whether a resource is about the hook's patient: its subject/patient names them, or names
    nobody we can tell apart (no reference, identifier or display only, an unknown urn)."""
    pid = record.patient_id
    who = getattr(resource, "subject", None) or getattr(resource, "patient", None)
    if pid is None or who is None:
        return True
    key = record.key(who, resource)
    return key is None or key == f"Patient/{pid}"


def for_patient(record: Record, rtype: str) -> list[Any]:
    """Resources of a type about the hook's patient (those naming no patient count too)."""
    return record.memo(("for_patient", rtype),
                       lambda: [res for res in record.all(rtype) if about_patient(record, res)])


def observation_day(obs: Any, record: Record | None = None) -> date | None:
    """When an Observation was made: its encounter's day when known, else effective[x], else
    when it was issued."""
    if record is not None and (day := encounter_day(record, obs.encounter, obs)) is not None:
        return day
    if obs.effectiveDateTime is not None:
        return first_day(obs.effectiveDateTime)
    if obs.effectivePeriod is not None:
        return first_day(obs.effectivePeriod.start) or first_day(obs.effectivePeriod.end)
    return first_day(obs.effectiveInstant) or first_day(obs.issued)


def patient_procedures(record: Record) -> list[Any]:
    """Procedures about the hook's patient (all of them when the patient is unknown)."""
    return record.memo("patient_procedures", lambda: for_patient(record, "Procedure"))


def visit_procedures(record: Record) -> list[Any]:
    """This visit's completed Procedures: same encounter, else same patient and date."""
    def compute() -> list[Any]:
        day, enc = visit_day(record), record.encounter_id
        out = []
        for p in patient_procedures(record):
            if p.status != "completed":
                continue
            p_enc = record.key(p.encounter, p) if p.encounter is not None else None
            same_encounter = bool(enc) and p_enc == f"Encounter/{enc}"
            same_day = (p_enc is None or not enc) and day is not None and (
                procedure_day(p, record) == day or _during_visit(record, p))
            if same_encounter or same_day:
                out.append(p)
        return out
    return record.memo("visit_procedures", compute)


def _during_visit(record: Record, proc: Any) -> bool:
    """Whether a Procedure's start falls within the hook encounter's period, compared as instants
    (its calendar day may differ when the two were written in different offsets)."""
    span = _visit_span(record)
    start = proc.performedPeriod.start if proc.performedPeriod is not None else proc.performedDateTime
    at = instant(start) if span is not None and has_time(start) else None
    return at is not None and span is not None and span[0] <= at <= span[1]


def _visit_span(record: Record) -> tuple[datetime, datetime] | None:
    """The hook encounter's period as instants, when both ends carry a time of day (once per request)."""
    def compute() -> tuple[datetime, datetime] | None:
        enc = record.resolve(f"Encounter/{record.encounter_id}") if record.encounter_id else None
        period = enc.period if enc is not None and enc.get_resource_type() == "Encounter" else None
        if period is None or not has_time(period.start) or not has_time(period.end):
            return None
        begins, ends = instant(period.start), instant(period.end)
        return (begins, ends) if begins is not None and ends is not None else None
    return record.memo("visit_span", compute)


def massage_procedures(record: Record) -> list[Any]:
    """This visit's completed 97124 Procedures (once per request: most rules start from them)."""
    return record.memo("massage_procedures",
                       lambda: [p for p in visit_procedures(record) if MASSAGE in cpt_codes(p.code)])


def timed_minutes(record: Record, policy: Policy) -> dict[str, int]:
    """Clock minutes per timed CPT code for this visit (codes without a full clock time: 0)."""
    def compute() -> dict[str, int]:
        timed = policy.valueset("timed-codes")
        out: dict[str, int] = {}
        for p in visit_procedures(record):
            for code in cpt_codes(p.code):
                if timed.contains(CPT, code):
                    out[code] = out.get(code, 0) + (clock_minutes(p) or 0)
        return out
    return record.memo("timed_minutes", compute)


def untimed_services(record: Record, policy: Policy) -> list[Any]:
    """Other timed services of the visit without clock times, when the payer's method (CMS total
    time) makes 97124's units depend on their minutes."""
    if payer_profile(record, policy).units_method != "cms":
        return []
    timed = policy.valueset("timed-codes")
    return [p for p in visit_procedures(record) if MASSAGE not in cpt_codes(p.code)
            and any(timed.contains(CPT, c) for c in cpt_codes(p.code)) and clock_minutes(p) is None]


def visit_units(record: Record, policy: Policy) -> tuple[PayerProfile, dict[str, int], list[dict[str, int]]] | None:
    """(payer profile, minutes per timed code, the allocations of units the payer's 8-minute-rule
    method permits) for this visit; None unless every 97124 service of the visit has its clock times."""
    procedures = massage_procedures(record)
    if not procedures or any(clock_minutes(p) is None for p in procedures):
        return None
    profile = payer_profile(record, policy)
    if untimed_services(record, policy):
        return None  # a guess at their minutes would be a guess at 97124's units
    minutes = timed_minutes(record, policy)
    return profile, minutes, permitted_allocations(profile.units_method, minutes)


def visit_billed_units(record: Record, policy: Policy) -> dict[str, int | Decimal]:
    """Units billed per timed CPT code on the visit's date of service, as written (item_quantity)."""
    timed = policy.valueset("timed-codes")
    out: dict[str, int | Decimal] = {}
    for line in lines_on(record, visit_day(record)):
        code = item_cpt(line)
        if code and timed.contains(CPT, code):
            out[code] = out.get(code, 0) + item_quantity(line)
    return out


# -- the payer ------------------------------------------------------------------------
def payer_profile(record: Record, policy: Policy) -> PayerProfile:
    """Profile of the payer behind the claim's (or the 97124 order's) insurance, else the
    patient's active Coverages, chosen in the order of 97124-rules.md §12 (see Policy.recognise)."""
    def compute() -> PayerProfile:
        coverages = []
        claim = record.claim
        if claim is not None:
            named = [(ins.coverage, claim) for ins in claim.insurance or []]
        else:  # draft orders: the 97124 order's own insurance
            named = [(ref, order) for order in massage_orders(record) for ref in order.insurance or []]
        for reference, holder in named:
            cov = record.resolve(reference, holder)
            if cov is not None and cov.get_resource_type() == "Coverage":
                coverages.append(cov)
        if not coverages:
            coverages = [c for c in record.all("Coverage") if c.status in (None, "active")]
        identifiers, types, org_names, plans, displays = [], [], [], [], []
        for cov in coverages:
            types += [(c.system, c.code) for c in codings(cov.type) if c.code]
            plans += [c.name for c in cov.class_fhir or [] if c.name]
            for payor in cov.payor or []:
                displays += [payor.display] if payor.display else []
                if payor.identifier is not None and payor.identifier.value:
                    identifiers.append(payor.identifier.value)
                org = record.resolve(payor, cov)
                if org is not None:
                    org_names += [n for n in [org.name, *(org.alias or [])] if n]
                    identifiers += [i.value for i in org.identifier or [] if i.value]
        return policy.recognise(PayerFacts(tuple(identifiers), tuple(types), tuple(org_names),
                                           tuple(plans), tuple(displays)))
    return record.memo("payer_profile", compute)


# The prefetch keys the payer is told from: the patient's Coverage and the payer Organization.
PAYER_KEYS = ("coverage", "payors")


def payer_unknown(record: Record, policy: Policy) -> list[str]:
    """The payer keys that arrived incomplete when what did arrive named no payer profile: the payer
    may be one whose own rules apply (an absent Coverage is no commercial payer). Empty otherwise."""
    if payer_profile(record, policy) is not policy.default_profile:
        return []
    return record.incomplete(*PAYER_KEYS)


def references(models: Iterable[Any]) -> tuple[str, ...]:
    return tuple(Record.ref_of(m) for m in models)
