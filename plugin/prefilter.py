"""Which resources of a request enter the validated record, decided on their JSON alone.

Validating a resource with fhir.resources costs ~100-150 µs of CPU; a ten-year chart brings
thousands of vital signs and lab results that no rule reads. This module looks at a few JSON
fields (type, subject, status, category, codes) and holds such resources back: they are never
validated and never listed by `Record.all`. A held-back resource stays reachable by reference:
when a rule resolves a reference to it, `Record.resolve` validates it then, so nothing a rule
reads is lost (plugin/record.py).

Held back, and only these:

- a Condition, Observation, Procedure, Goal or CarePlan whose `subject` (else `patient`) names
  another patient than `context.patientId`: relative (`Patient/x`, versioned or not) or absolute
  on the request's fhirServer or on a base the request's Bundles name in their fullUrls (as far
  as they are known when the resource arrives: `bases`). The rules read these types only for the
  hook's patient (`plugin.facts.for_patient`); any other form of reference counts as the
  patient's, as there;
- an Observation that is `cancelled` or `entered-in-error` (no rule reads those);
- an Observation whose every category is `vital-signs` or `laboratory` (FHIR observation-category)
  and that carries no code the rules read: a pain score (value set pain-scores), an exam-finding
  or qualifying-condition code, the code of a Goal's `target.measure` (here any Goal of the
  request; the rules use the patient's), and no value in degrees.
  Vital signs and lab results are neither the exam (docs/fhir-mapping.md: exam findings are
  Observations of category exam) nor measures of the massage's goals; their free text is not read.

Anything the checks cannot read (odd shapes, missing fields) is admitted and validated as before.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from plugin.policy import load_policy
from plugin.references import normal_base, split
from plugin.vocabulary import OBSERVATION_CATEGORY

UNREAD_CATEGORIES = frozenset({"vital-signs", "laboratory"})
UNREAD_STATUS = frozenset({"cancelled", "entered-in-error"})
FOR_PATIENT_TYPES = frozenset({"Condition", "Observation", "Procedure", "Goal", "CarePlan"})
DEGREES = "deg"
# Value sets whose codes make an Observation readable whatever its category.
READ_VALUESETS = ("pain-scores", "exam-findings")
QUALIFYING_PREFIX = "qualifying-"
# Every field of an Observation that `Prefilter.admits` reads (besides resourceType): a reader
# that holds Observations back before parsing them decodes these and nothing else.
OBSERVATION_FIELDS = ("subject", "patient", "status", "category", "valueQuantity", "code",
                      "valueCodeableConcept", "interpretation", "component")


class HeldEntries(Sequence[tuple[int, "str | None", "str | None", Any]]):
    """One prefetch key's entries that a request's reader held back before parsing them, as
    parallel lists (a chart holds back thousands: no object each): their places among the key's
    resources, `Type/id`s, fullUrls (stripped) and JSON texts. Item j is (place, `Type/id`,
    fullUrl, text) of the j-th."""

    __slots__ = ("places", "type_ids", "urls", "texts")

    def __init__(self, places: list[int], type_ids: list[str | None], urls: list[str | None],
                 texts: list[Any]) -> None:
        self.places, self.type_ids, self.urls, self.texts = places, type_ids, urls, texts

    def __len__(self) -> int:
        return len(self.places)

    def __getitem__(self, j: Any) -> Any:
        if isinstance(j, slice):
            return list(zip(self.places[j], self.type_ids[j], self.urls[j], self.texts[j], strict=True))
        return self.places[j], self.type_ids[j], self.urls[j], self.texts[j]

    def __iter__(self) -> Iterator[tuple[int, str | None, str | None, Any]]:
        return zip(self.places, self.type_ids, self.urls, self.texts, strict=True)


class HeldBack(NamedTuple):
    """Prefetch entries a request's reader held back before parsing them (cds_hooks/hook_body.py):
    per prefetch key, their places, names and texts (HeldEntries), and `read`, which parses such
    a text into the resource when a rule needs it after all. No other resource of the request
    carries the `Type/id` or fullUrl of one of them (the reader parses those instead)."""
    entries: dict[str, HeldEntries]
    read: Callable[[Any], Any]


@lru_cache(maxsize=1)
def _read_valuesets() -> tuple[Any, ...]:
    valuesets = load_policy().valuesets
    return tuple(vs for name, vs in valuesets.items()
                 if name in READ_VALUESETS or name.startswith(QUALIFYING_PREFIX))


@lru_cache(maxsize=4096)   # a chart repeats a few dozen codes thousands of times
def _code_read(system: str | None, code: str) -> bool:
    return any(vs.contains(system, code) for vs in _read_valuesets())


def _codings(concept: Any) -> Iterator[tuple[str | None, str]]:
    """(system, code) of each coding of a CodeableConcept JSON (or list of them); tolerant of shapes."""
    for c in concept if type(concept) is list else (concept,):
        codings = c.get("coding") if type(c) is dict else None
        if type(codings) is list:
            for coding in codings:
                if type(coding) is dict:
                    system, code = coding.get("system"), coding.get("code")
                    if type(code) is str and (system is None or type(system) is str):
                        yield system, code


def goal_measures(resources: Iterable[dict[str, Any]]) -> set[tuple[Any, Any]]:
    """(system, code) of every Goal's target.measure among raw resources (any status: over-admits)."""
    out: set[tuple[Any, Any]] = set()
    for raw in resources:
        if raw.get("resourceType") != "Goal" or not isinstance(raw.get("target"), list):
            continue
        for target in raw["target"]:
            if isinstance(target, dict):
                out.update(_codings(target.get("measure")))
    return out


@dataclass
class Prefilter:
    """The admission test for one request: `admits(raw)` is False only for what no rule reads."""

    patient_id: str | None
    fhir_server: str | None = None
    measures: set[tuple[Any, Any]] = field(default_factory=set)   # goals' target measures seen so far
    # Normalised bases of the request's own server (plugin.references.normal_base), fhirServer's
    # included; they only grow (the record's `_bases`), so a base once local stays local.
    bases: set[str] = field(default_factory=set)
    _whose: dict[tuple[str, int], bool] = field(default_factory=dict)   # (reference, len(bases)) -> another patient

    def admits(self, raw: dict[str, Any]) -> bool:
        rtype = raw.get("resourceType")
        if rtype not in FOR_PATIENT_TYPES:
            return True
        if self._other_patient(raw):
            return False
        return rtype != "Observation" or observation_read(raw, self.measures)

    def _other_patient(self, raw: dict[str, Any]) -> bool:
        if not isinstance(self.patient_id, str):
            return False
        who = raw.get("subject") or raw.get("patient")
        ref = who.get("reference") if type(who) is dict else None
        if type(ref) is not str:
            return False
        known = (ref, len(self.bases))
        other = self._whose.get(known)
        if other is None:
            other = self._whose[known] = self._names_other(ref)
        return other

    def _server(self) -> set[str]:
        return {normal_base(self.fhir_server)} if self.fhir_server else set()

    def _names_other(self, ref: str) -> bool:
        parts = split(ref.strip())
        if parts is None:
            return False   # contained, urn, identifier- or display-only: counted as the patient's
        base, key = parts
        if base and normal_base(base) not in self.bases | self._server():
            return False   # another server: its key is unknown, so the rules count it as the patient's
        return key.startswith("Patient/") and key != f"Patient/{self.patient_id}"


def observation_read(raw: dict[str, Any], measures: set[tuple[Any, Any]]) -> bool:
    """Whether the rules read this Observation (JSON), given the goals' target measures: not
    cancelled or entered in error, and of a category other than vital-signs/laboratory or
    carrying a code the rules read (module docstring). plugin.rules._clinical applies the same
    test to the patient's Observations, so holding the others back changes no verdict."""
    status = raw.get("status")
    if type(status) is str and status in UNREAD_STATUS:
        return False
    categories = raw.get("category")
    if type(categories) is not list or not categories or not all(map(_unread_category, categories)):
        return True
    value = raw.get("valueQuantity")
    if type(value) is dict and DEGREES in (value.get("code"), value.get("unit")):
        return True
    concepts = [raw.get("code"), raw.get("valueCodeableConcept"), raw.get("interpretation")]
    components = raw.get("component")
    if type(components) is list:
        concepts += [part.get(k) for part in components if type(part) is dict
                     for k in ("code", "valueCodeableConcept")]
    for concept in concepts:
        for system, code in _codings(concept):
            if (system, code) in measures or _code_read(system, code):
                return True
    return False


def _unread_category(concept: Any) -> bool:
    """A category concept that says vital-signs or laboratory (other codings beside it may be local)."""
    codings = concept.get("coding") if type(concept) is dict else None
    for coding in codings if type(codings) is list else ():
        if type(coding) is dict:
            code = coding.get("code")
            if type(code) is str and code in UNREAD_CATEGORIES and coding.get("system") == OBSERVATION_CATEGORY:
                return True
    return False
