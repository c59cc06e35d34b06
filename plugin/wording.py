"""How cards name things: as a clinician or a biller does, never by resource id or element path.

"the diagnosis M62.830 Muscle spasm of back", "the 3 Feb massage note by Rosa Alvarez",
"claim line 2 (97124)". Resource ids belong only in a card's closing evidence line
(cds_hooks.cards); these labels are for the prose (shared/domain/rule-catalog.md, "Card text").
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from plugin.dates import first_day
from plugin.facts import codings, cpt_codes, item_cpt, observation_day, procedure_day, texts
from plugin.record import Record

MAX_QUOTE = 48
CPT_WORDS = {"97124": "massage", "97140": "manual therapy", "97110": "therapeutic exercise",
             "97112": "neuromuscular re-education", "97530": "therapeutic activities", "97035": "ultrasound"}


def day_label(value: date | datetime | None) -> str:
    """`3 Feb 2026`; empty when there is no date."""
    day = first_day(value)
    return _day_words(day) if day else ""


@lru_cache(maxsize=4096)
def _day_words(day: date) -> str:
    # A pure function of the day (strftime is slow, and a card names the same few days many times).
    return f"{day.day} {day:%b %Y}"


def quote(text: str | None, limit: int = MAX_QUOTE) -> str:
    text = " ".join((text or "").split())
    return f"“{text}”" if len(text) <= limit else f"“{text[:limit - 1].rstrip()}…”"


def concept_label(concept: Any) -> str:
    """`M62.830 Muscle spasm of back`: the first code with its words (text, else display)."""
    coded = [c for c in codings(concept) if c.code]
    words = (getattr(concept, "text", None) if concept is not None and not isinstance(concept, list) else None) \
        or next((c.display for c in coded if c.display), None)
    code = coded[0].code if coded else ""
    return " ".join(p for p in (code, words) if p) or "an uncoded entry"


def service_name(concept: Any) -> str:
    """`massage (97124)` for a CPT-coded service, else its words."""
    codes = cpt_codes(concept)
    if codes:
        return f"{CPT_WORDS[codes[0]]} ({codes[0]})" if codes[0] in CPT_WORDS else codes[0]
    found = texts(concept)
    return found[0] if found else "service"


def person(record: Record, reference: Any) -> str:
    """`Rosa Alvarez (Physical Therapist)`, or the reference's display, or "someone unidentified"."""
    target = record.resolve(reference) if reference is not None else None
    if target is not None and target.get_resource_type() == "PractitionerRole" and target.practitioner:
        role = next(iter(texts(target.code)), "")
        name = person(record, target.practitioner)
        return f"{name} ({role})" if role and "(" not in name else name
    if target is not None and getattr(target, "name", None):
        name = target.name[0] if isinstance(target.name, list) else target.name
        full = getattr(name, "text", None) or " ".join([*(getattr(name, "given", None) or []),
                                                        getattr(name, "family", None) or ""]).strip()
        quals = [t for q in getattr(target, "qualification", None) or [] for t in texts(q.code)[:1]]
        return f"{full} ({quals[0]})" if full and quals else (full or "someone unidentified")
    display = getattr(reference, "display", None)
    return display or "someone unidentified"


def line_label(item: Any) -> str:
    return f"claim line {item.sequence} ({item_cpt(item) or 'uncoded'})"


def label(record: Record, model: Any) -> str:
    """A short human name for any resource the rules cite (once per resource and request: several
    rules name the same resources)."""
    return record.memo_of("label", model, lambda: _label(record, model))


def _label(record: Record, model: Any) -> str:
    kind = model.get_resource_type()
    if kind == "Condition":
        return f"the diagnosis {concept_label(model.code)}"
    if kind == "Procedure":
        return f"the {day_label(procedure_day(model))} {service_name(model.code)}".replace("the  ", "the ")
    if kind == "ServiceRequest":
        when = day_label(model.authoredOn)
        codes = cpt_codes(model.code)
        words = CPT_WORDS.get(codes[0]) if codes else None
        return f"the {words or service_name(model.code)} order" + (f" of {when}" if when else "")
    if kind == "Goal":
        descriptions = texts(model.description)
        return f"the goal {quote(descriptions[0])}" if descriptions else "the goal"
    if kind == "CarePlan":
        start = day_label(model.period.start) if model.period else ""
        return "the plan of care" + (f" from {start}" if start else "")
    if kind == "Observation":
        when = day_label(observation_day(model))
        what = next(iter(texts(model.code)), "measure")
        return f"{what} ({when})" if when else what
    if kind == "DocumentReference":
        when = day_label(model.date or (model.context.period.start if model.context and model.context.period
                                        else None))
        by = [person(record, a) for a in model.author or []]
        return " ".join(p for p in ("the", when, "note", f"by {by[0]}" if by else "") if p)
    if kind == "Claim":
        return "the claim"
    return f"a {kind}"


def sentence(text: str) -> str:
    """The text with its first letter upper-cased (str.capitalize would lower the rest)."""
    return text[:1].upper() + text[1:]


def labels(record: Record, models: Iterable[Any]) -> str:
    """Labels joined with commas and a final "and"; each once."""
    names = list(dict.fromkeys(label(record, m) for m in models))
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""
