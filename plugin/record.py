"""A validated, indexed view of the FHIR resources one evaluation reads: its subject (a draft
Claim or draft orders), the patient and visit, and what the rules may read about them.

Every resource is validated on its own with the fhir.resources R4B model of its type (through
plugin/fhir_validation.py, which decides as the library does at compiled speed). One bad
resource is skipped and reported; it never sinks the request.

Validation is still the costliest step of reading a record, so validated elements are also
remembered by content: an element (a whole resource, a CodeableConcept, a Period, ...) whose
exact JSON passed validation before is not checked again, its model is reused. Everything a
rule reads was validated, only not twice. Reused models are shared across requests, so they
must never be mutated: updates are built from `Record.raw` (plugin/fixes.py), never by
assigning to a model.
"""
from __future__ import annotations

import marshal
import pickle
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import count, repeat
from typing import Any, TypeVar

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from plugin import fhir_validation
from plugin.completeness import Status, classify
from plugin.prefilter import HeldBack, HeldEntries, Prefilter, goal_measures
from plugin.references import (
    against,
    base_of,
    bases_of,
    canonical,
    logical_key,
    normal_base,
    reference_string,
    resource_key,
)
from plugin.vocabulary import KNOWN_TYPES

_MODELS = {name: get_fhir_model_class(name) for name in KNOWN_TYPES}
T = TypeVar("T")
_UNSET = object()   # Record.memo: no fact computed yet (None is a fact)
# Validated elements kept per process, ~2.3 KB each: with 6,000 a process grew 116 -> 141 MB over
# 3,000 distinct visits, 153 MB with 10,000 (measured). A new visit adds ~110, a 1,000-Procedure
# history ~2,100.
CACHE_ENTRIES = 6_000


# -- validation, remembered by content ----------------------------------------------------------
def _element_fields(model_cls: type[Any]) -> dict[str, tuple[str, type, bool]]:
    """JSON key -> (attribute, element model class, is a list) for the complex-typed fields.

    Polymorphic fields (contained resources) are left out: their declared class is abstract,
    so a remembered concrete model could not stand in for the JSON.
    """
    out = {}
    for name, info in model_cls.model_fields.items():
        for arg in typing.get_args(info.annotation) or (info.annotation,):
            is_list = typing.get_origin(arg) is list
            inner = typing.get_args(arg)[0] if is_list else arg
            klass = inner.get_model_klass() if hasattr(inner, "get_model_klass") else None
            if klass is not None and klass.__name__ not in ("Resource", "DomainResource"):
                out[info.alias or name] = (name, klass, is_list)
                break
    return out


class ValidatedElements:
    """A bounded, least-recently-used memory of validated models, keyed by class and exact JSON.

    Each model is kept with its height in element levels (1: no complex element inside). A
    remembered model stands in for its JSON only where the whole stays within
    `fhir_validation.MAX_NESTING` levels: deeper, the substitute would hide from validation a
    depth that plain validation refuses or runs out of stack on.
    """

    def __init__(self, max_entries: int = CACHE_ENTRIES):
        self.max_entries = max_entries
        self._models: OrderedDict[tuple[type, bytes], tuple[Any, int]] = OrderedDict()
        self._fields: dict[type, dict[str, tuple[str, type, bool]]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(model_cls: type[Any], value: dict[str, Any]) -> tuple[type, bytes]:
        # marshal format 2 has no back-references, so equal JSON values in the same key order give
        # equal bytes, and equal bytes decode to equal values: a hit is always the same content.
        # Another key order is only a miss. Several times faster than json.dumps. JSON decimals
        # arrive as Decimal, which marshal cannot write: those values are pickled (also exact).
        try:
            return model_cls, marshal.dumps(value, 2)
        except ValueError:
            return model_cls, b"p" + pickle.dumps(value, 5)

    def _lookup(self, key: tuple[type, bytes]) -> tuple[Any, int] | None:
        with self._lock:
            found = self._models.get(key)
            if found is not None:
                self._models.move_to_end(key)
            return found

    def _store(self, key: tuple[type, bytes], model: Any, height: int) -> None:
        with self._lock:
            self._models[key] = (model, height)
            if len(self._models) > self.max_entries:
                self._models.popitem(last=False)

    def fields(self, model_cls: type[Any]) -> dict[str, tuple[str, type, bool]]:
        if model_cls not in self._fields:
            self._fields[model_cls] = _element_fields(model_cls)
        return self._fields[model_cls]

    def validate(self, model_cls: type[Any], raw: dict[str, Any]) -> Any:
        """model_cls.model_validate(raw) (compiled), reusing any element validated before; raises the same errors."""
        key = self.key(model_cls, raw)
        found = self._lookup(key)
        if found is not None:
            return found[0]
        prepared, fresh, height = self._substitute(model_cls, raw, (), 0)
        model = fhir_validation.validate(model_cls, prepared)
        self._store(key, model, height)
        for path, sub_key, sub_height in fresh:
            sub = _follow(model, path)
            if type(sub) is sub_key[0]:
                self._store(sub_key, sub, sub_height)
        return model

    def _substitute(self, model_cls: type[Any], raw: dict[str, Any], path: tuple[Any, ...],
                    level: int) -> tuple[dict[str, Any], list[Any], int]:
        """A copy of raw (an element `level` levels inside its resource; the resource is 0) with
        remembered elements replaced by their models; the new elements' paths, keys and heights;
        and raw's own height."""
        prepared, fields = dict(raw), self.fields(model_cls)
        fresh: list[Any] = []
        below = 0
        for json_key, value in raw.items():  # the few keys present, not the model's many fields
            spec = fields.get(json_key)
            if spec is None:
                continue
            attr, klass, is_list = spec
            if is_list and isinstance(value, list):
                items = list(value)
                for i, item in enumerate(items):
                    items[i], height = self._element(klass, item, path + ((attr, i),), level + 1, fresh)
                    below = max(below, height)
                prepared[json_key] = items
            elif not is_list and isinstance(value, dict):
                prepared[json_key], height = self._element(klass, value, path + ((attr, None),), level + 1, fresh)
                below = max(below, height)
        return prepared, fresh, below + 1

    def _element(self, klass: type, value: Any, path: tuple[Any, ...], level: int, fresh: list[Any]) -> tuple[Any, int]:
        if not isinstance(value, dict):
            return value, 0  # left for validation to refuse
        key = self.key(klass, value)
        found = self._lookup(key)
        if found is not None and level - 1 + found[1] <= fhir_validation.MAX_NESTING:
            return found
        prepared, deeper, height = self._substitute(klass, value, path, level)
        fresh.append((path, key, height))
        fresh.extend(deeper)
        return prepared, height


def _follow(model: Any, path: tuple[Any, ...]) -> Any:
    for attr, index in path:
        model = getattr(model, attr, None)
        if index is not None:
            model = model[index] if isinstance(model, list) and index < len(model) else None
        if model is None:
            return None
    return model


VALIDATED = ValidatedElements()


@dataclass(frozen=True)
class Skipped:
    """A resource the rules cannot read. `reason` names fields, never their values (no PHI)."""

    where: str   # the resource's `Type/id`, else its place in the request
    reason: str
    path: str = ""  # its place in the request, e.g. "context.claim" or "prefetch.goals[2]"
    why: str = "is not valid FHIR R4"
    kind: str = ""  # its resource type when `where` does not begin with it (a contained resource)


def _modifier_extension(raw: dict[str, Any], rtype: str) -> str | None:
    """Where a resource carries a modifierExtension, else None. A modifier extension may negate or
    qualify what it sits on (FHIR R4 §2.4 Extensibility: a reader that does not know it must not
    process the element as if it were absent); this service knows none. Its contained resources
    are left out: one that carries a modifierExtension changes itself, not its container."""
    # The serialised form is C-fast and nearly always free of the name: walk only when it is not.
    if b"modifierExtension" not in ValidatedElements.key(dict, raw)[1]:
        return None
    return _find_modifier({k: v for k, v in raw.items() if k != "contained"}, rtype)


def _find_modifier(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        if value.get("modifierExtension"):
            return f"{path}.modifierExtension"
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = ((None, item) for item in value)
    else:
        return None
    for key, item in items:
        found = _find_modifier(item, f"{path}.{key}" if key else path)
        if found:
            return found
    return None


# An X12 837 service unit count (837P SV104, 837I SV205) is a number of at most 15 digits.
MAX_UNIT_DIGITS = 15


def _unbillable_units(raw: dict[str, Any]) -> str | None:
    """The first claim line whose quantity no claim can carry (more digits than a unit count holds,
    1E+400 written out included), else None. Such a Claim cannot be read as a bill at all."""
    items = raw.get("item")
    for i, item in enumerate(items if isinstance(items, list) else []):
        quantity = item.get("quantity") if isinstance(item, dict) else None
        value = quantity.get("value") if isinstance(quantity, dict) else None
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and Decimal(value).is_finite():
            sign, digits, exponent = Decimal(value).as_tuple()
            assert isinstance(exponent, int)  # a finite number's exponent
            whole = max(len(digits) + exponent, 0)   # digits before the point
            places = max(-exponent, 0)               # digits after it
            if whole + places > MAX_UNIT_DIGITS:
                return f"item[{i}].quantity.value: out of range for a unit count (at most {MAX_UNIT_DIGITS} digits)"
    return None


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors(include_input=False, include_url=False)[:3]:
        loc = ".".join(str(p) for p in err["loc"]) or "resource"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def iter_entries(value: Any) -> Iterator[tuple[dict[str, Any], str | None]]:
    """(resource, fullUrl) inside a prefetch value: a single resource or a Bundle's entries."""
    if not isinstance(value, dict):
        return
    if value.get("resourceType") == "Bundle":
        entries = value.get("entry")
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                url = entry.get("fullUrl")
                yield entry["resource"], url.strip() if isinstance(url, str) and url.strip() else None
    else:
        yield value, None


def iter_resources(value: Any) -> Iterator[dict[str, Any]]:
    """Resources inside a prefetch value: a single resource or a Bundle's entries."""
    return (resource for resource, _ in iter_entries(value))


def _version(raw: dict[str, Any]) -> tuple[datetime | None, int | None]:
    """(meta.lastUpdated as an instant, meta.versionId when it is a number) of a raw resource."""
    meta = raw["meta"] if isinstance(raw.get("meta"), dict) else {}
    updated, vid = meta.get("lastUpdated"), meta.get("versionId")
    try:
        updated = datetime.fromisoformat(updated) if isinstance(updated, str) else None
    except ValueError:
        updated = None
    if updated is not None and updated.tzinfo is None:
        updated = None  # an instant has a zone (R4 §2.24); without one it cannot be ordered
    return updated, int(vid) if isinstance(vid, str) and vid.isdigit() else None


def _newer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether raw resource `a` is a later version than `b`: by lastUpdated, else by versionId."""
    (ua, va), (ub, vb) = _version(a), _version(b)
    if ua is not None and ub is not None and ua != ub:
        return ua > ub
    return va is not None and vb is not None and va > vb


def _entry_identity(raw: dict[str, Any], full_url: str | None) -> str | None:
    """`Type/id`, prefixed by the server base of an absolute fullUrl (one Type/id on two servers is two resources)."""
    ident = resource_key(raw)
    base = base_of(full_url) if ident and full_url else None
    return f"{normal_base(base)}/{ident}" if base else ident


def _latest_versions(entries: Iterable[tuple[dict[str, Any], str | None]]) -> dict[str, int]:
    """For each resource (_entry_identity), the position of its latest version among `entries` (a
    Bundle may hold one resource in several versions, FHIR R4 bdl-7); the first copy when none is later."""
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    for n, (raw, url) in enumerate(entries):
        ident = _entry_identity(raw, url) if isinstance(raw, dict) else None
        if ident and (ident not in latest or _newer(raw, latest[ident][1])):
            latest[ident] = (n, raw)
    return {ident: n for ident, (n, _) in latest.items()}


class Subject(StrEnum):
    """What an evaluation is asked about; each rule declares the subjects it checks."""

    CLAIM = "claim"   # a draft Claim with a 97124 line (its charges about to be billed)
    ORDER = "order"   # draft ServiceRequests, one for 97124 (about to be signed)


@dataclass
class Record:
    subject: Subject
    skipped: list[Skipped] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)   # data that could not be fetched
    fhir_server: str | None = None      # the request's fhirServer: its absolute references are ours
    states: dict[str, Status] = field(default_factory=dict)  # completeness of each prefetch key
    _by_type: dict[str, list[Any]] = field(default_factory=dict)
    _by_ref: dict[str, Any] = field(default_factory=dict)
    _by_url: dict[str, Any] = field(default_factory=dict)        # Bundle entry fullUrl -> resource
    _by_abs: dict[str, Any] = field(default_factory=dict)        # canonical absolute fullUrl -> resource
    _entry_base: dict[int, str] = field(default_factory=dict)    # model -> the server base of its entry's fullUrl
    _contained: dict[tuple[int, str], Any] = field(default_factory=dict)  # (container, #id)
    _container: dict[int, Any] = field(default_factory=dict)     # contained model -> its container
    _keys: dict[int, str] = field(default_factory=dict)          # model -> its identity in this record
    _bases: set[str] = field(default_factory=set)
    _raw: dict[int, dict[str, Any]] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)  # derived facts, cleared as data arrives
    prefilter: Prefilter | None = None  # what no rule reads is held back unvalidated (plugin/prefilter.py)
    # Type/id or fullUrl -> held back: (its JSON, or its text when held back unparsed; place; fullUrl)
    _held: dict[str, tuple[Any, str, str | None]] = field(default_factory=dict)
    _held_places: dict[str, set[int]] = field(default_factory=dict)  # prefetch key -> places held back unparsed
    _unparsed: dict[str, HeldEntries] = field(default_factory=dict)   # prefetch key -> held back unparsed
    # name -> (prefetch key, j) of what is held back unparsed: built on the first lookup that needs it
    _unparsed_names: dict[str | None, tuple[str, int]] | None = None
    _read_held: Callable[[Any], Any] | None = None  # parses what was held back unparsed (HeldBack.read)
    claim: Any | None = None            # the draft Claim (subject CLAIM), once validated
    draft_orders: list[Any] = field(default_factory=list)  # the draft ServiceRequests (subject ORDER)
    patient_id: str | None = None       # the patient's id (Patient/<id>)
    encounter_id: str | None = None     # the visit's Encounter id

    @classmethod
    def from_resources(cls, subject: Subject, patient: str | None, visit: str | None = None, *,
                       claim: dict[str, Any] | None = None, orders: dict[str, Any] | None = None,
                       resources: Iterable[dict[str, Any]] = (), label: str = "subject",
                       fhir_server: str | None = None) -> Record:
        """The record of one evaluation, from domain inputs.

        `subject` says what is checked: Subject.CLAIM, the draft Claim `claim` (JSON), or
        Subject.ORDER, the draft ServiceRequests in `orders` (a Bundle, or one resource);
        `patient` and `visit` are Patient and Encounter ids; `resources` is what the rules may
        read about them; `fhir_server` the base URL they came from, if any (its absolute
        references are ours). The subject is indexed first (first copy of a `Type/id` wins); a resource that
        fails validation is in `skipped`, its path under `label` (e.g. "subject.claim").
        """
        record = cls(subject=Subject(subject), patient_id=patient, encounter_id=visit, fhir_server=fhir_server)
        prefilter = record.prefilter = Prefilter(patient, fhir_server, bases=record._bases)
        if fhir_server:
            record._bases.add(normal_base(fhir_server))
        record.claim = record._add(claim, f"{label}.claim")
        unbillable = _unbillable_units(claim) if claim is not None and record.claim is not None else None
        if unbillable:
            record.skipped.append(Skipped(where=record.key_of(record.claim), path=f"{label}.claim",
                                          reason=unbillable, why="bills a unit count no claim can carry"))
            record.claim = None
        for i, (resource, url) in enumerate(iter_entries(orders)):
            order = record._add(resource, f"{label}.draftOrders[{i}]", url)
            if order is not None and order.get_resource_type() == "ServiceRequest":
                record.draft_orders.append(order)
        resources = list(resources)
        prefilter.measures |= goal_measures(resources)  # Goals' measures are read: admit them
        for i, resource in enumerate(resources):
            record._add(resource, f"resources[{i}]")
        return record

    def add_prefetch(self, prefetch: dict[str, Any], unavailable: Iterable[str] = (),
                     states: dict[str, Status] | None = None, held: HeldBack | None = None) -> None:
        """Index the resources gathered for the prefetch keys (after the subject's own), and note
        how complete each key is (as given in `states`, else as its value shows). `held` are
        entries of these keys that the reader of the request held back before parsing them: they
        are held back here too, and keep their places among the key's resources."""
        if self.prefilter is not None:
            self._learn_measures(self.prefilter, prefetch)
        unparsed = {key: held.entries[key] for key in prefetch if key in held.entries} if held is not None else {}
        if held is not None:
            self._read_held = held.read
        for key, entries in unparsed.items():   # their places and servers before any resource is admitted
            self._held_places.setdefault(key, set()).update(entries.places)
            for base in bases_of(filter(None, entries.urls)):
                self._add_base(base)
        found = [(f"prefetch.{key}[{i}]", resource, url) for key, value in prefetch.items()
                 for i, (resource, url) in zip(self._places(key), iter_entries(value), strict=False)]
        # The servers these Bundles name are known before any of their resources is admitted.
        for base in bases_of(url for _, resource, url in found if url and resource.get("resourceType") in _MODELS):
            self._add_base(base)
        latest = _latest_versions((resource, url) for _, resource, url in found)
        for n, (where, resource, url) in enumerate(found):
            ident = _entry_identity(resource, url)
            if ident is None or latest.get(ident, n) == n:
                self._add(resource, where, url)
        self._hold_unparsed(unparsed)   # after: no resource of their request shares their names (HeldBack)
        for key, value in prefetch.items():
            self.states[key] = (states or {}).get(key) or classify(value)
        for key in unavailable:
            if key not in self.unavailable:
                self.unavailable.append(key)
            self.states[key] = Status.UNAVAILABLE
        self._memo.clear()

    def _learn_measures(self, prefilter: Prefilter, prefetch: dict[str, Any]) -> None:
        """Goals' target measures make their Observations read: learn them before admitting any,
        and admit those held back before a Goal naming their measure arrived."""
        new = goal_measures(r for value in prefetch.values() for r in iter_resources(value)) - prefilter.measures
        if not new:
            return
        prefilter.measures |= new
        self._take_unparsed()
        for held, where, url in list({id(value): value for value in self._held.values()}.values()):
            raw = self._parsed(held, where)   # each held resource once, whatever its names
            if raw is not None and prefilter.admits(raw):
                self._unhold(held, raw, url)
                self._add(raw, where, url)

    def _hold_unparsed(self, entries: dict[str, HeldEntries]) -> None:
        self._unparsed.update(entries)
        if self._unparsed_names is not None:
            self._index_unparsed(entries)

    def _index_unparsed(self, entries: dict[str, HeldEntries]) -> None:
        names: dict[str | None, tuple[str, int]] = self._unparsed_names if self._unparsed_names is not None else {}
        for key, held in entries.items():
            places = list(zip(repeat(key), range(len(held)), strict=False))
            names.update(zip(held.urls, places, strict=True))
            names.update(zip(held.type_ids, places, strict=True))
        names.pop(None, None)
        self._unparsed_names = names

    def _take_unparsed(self, name: str | None = None) -> tuple[Any, str, str | None] | None:
        """What is held back unparsed under `name` (`Type/id` or fullUrl), moved to `_held` (or,
        without a name, all of it); the names are indexed on the first call (most requests make none)."""
        if not self._unparsed:
            return None
        if self._unparsed_names is None:
            self._index_unparsed(self._unparsed)
        names = typing.cast(dict[str | None, tuple[str, int]], self._unparsed_names)
        if name is not None and name not in names:
            return None
        value = None
        for key, j in [names[name]] if name is not None else set(names.values()):
            position, type_id, url, text = self._unparsed[key][j]
            value = (text, f"prefetch.{key}[{position}]", url)
            for each in (type_id, url):
                if each:
                    names.pop(each, None)
                    self._held.setdefault(each, value)
        return value

    def _places(self, key: str) -> Iterator[int]:
        """The places of a key's parsed resources among all its resources (0, 1, 2, ... less those
        held back unparsed), so that a resource is named by the same place either way."""
        held = self._held_places.get(key) or ()
        return (i for i in count() if i not in held)

    def _parsed(self, held: Any, where: str) -> dict[str, Any] | None:
        """A held-back resource's JSON, parsed now if it was held back unparsed."""
        if isinstance(held, dict) or self._read_held is None:
            return held if isinstance(held, dict) else None
        try:
            parsed = self._read_held(held)
        except RecursionError:   # the reader's scan went deeper than the parse can from here
            self.skipped.append(Skipped(where=where, path=where, reason="resource: nested too deeply to read"))
            return None
        return parsed if isinstance(parsed, dict) else None

    def _unhold(self, held: Any, raw: dict[str, Any], url: str | None) -> None:
        for name in (resource_key(raw), url):
            if name and self._held.get(name, (None,))[0] is held:
                del self._held[name]

    def incomplete(self, *keys: str) -> list[str]:
        """Those of the prefetch keys whose data is partial or could not be had, or holds a resource
        that was skipped (the one that is missing may be the one a rule looks for)."""
        if not self.unavailable and not self.skipped:  # the usual request: only the states can say
            return [k for k in keys if k in self.states and not self.states[k].usable]
        return [k for k in keys if k in self.unavailable or not self.states.get(k, Status.COMPLETE).usable
                or self.has_skipped(k)]

    def has_skipped(self, key: str) -> bool:
        """Whether a resource of prefetch key `key` was skipped."""
        return any(s.path.startswith(f"prefetch.{key}[") for s in self.skipped)

    def _add(self, raw: Any, where: str, full_url: str | None = None, listed: bool = True) -> Any | None:
        """Validate and index one resource; return its model, or None if skipped or ignored."""
        if not isinstance(raw, dict):
            return None
        rtype = raw.get("resourceType")
        if not isinstance(rtype, str) or rtype not in _MODELS:
            return None
        model_cls = _MODELS[rtype]
        ref = resource_key(raw)
        if ref and ref in self._by_ref and not self._other_server(self._by_ref[ref], full_url):
            model = self._by_ref[ref]
            self._index_url(full_url, model)
            return model
        if ref and (ref in self._held or self._take_unparsed(ref)):
            return None   # a later copy of a held-back resource: the first copy wins, as above
        if self.prefilter is not None and not self.prefilter.admits(raw):
            for name in (ref, full_url):
                if name and name not in self._held:
                    self._held[name] = (raw, where, full_url)
            self._index_base(full_url)
            return None
        try:
            model = VALIDATED.validate(model_cls, raw)
            modifier = _modifier_extension(raw, rtype)
        except ValidationError as error:
            self.skipped.append(Skipped(where=ref or where, path=where, reason=_describe(error)))
            return None
        except (TypeError, ValueError) as error:  # fhir.resources raises these for some shapes
            self.skipped.append(Skipped(where=ref or where, path=where, reason=type(error).__name__))
            return None
        except RecursionError:  # fhir.resources recurses per level: ~150 nested extensions exhaust the stack,
            # and so may the walk for modifierExtension where validation reused remembered elements
            self.skipped.append(Skipped(where=ref or where, path=where, reason="resource: nested too deeply to validate"))
            return None
        if modifier:
            self.skipped.append(Skipped(where=ref or where, path=where, reason=modifier,
                                        why="carries a modifierExtension this service does not understand"))
            return None
        if listed:
            self._by_type.setdefault(rtype, []).append(model)
        self._raw[id(model)] = raw
        if ref and ref in self._by_ref:
            ref = None  # the same Type/id on another server: known by its fullUrl
        self._keys[id(model)] = ref or full_url or f"{where}"
        if ref:
            self._by_ref[ref] = model
        self._index_url(full_url, model)
        self._index_contained(raw, model, where)
        return model

    def _index_url(self, full_url: str | None, model: Any) -> None:
        if full_url and full_url not in self._by_url:
            self._by_url[full_url] = model
            absolute, base = canonical(full_url), base_of(full_url)
            if absolute and base:
                self._by_abs.setdefault(absolute, model)
                self._entry_base.setdefault(id(model), base)
            self._index_base(full_url)

    def _other_server(self, model: Any, full_url: str | None) -> bool:
        """Whether `full_url` puts a resource on another server than `model`'s entry did (the same
        `Type/id` on two servers is two resources); False when either names no server."""
        here, there = base_of(full_url) if full_url else None, self._entry_base.get(id(model))
        return here is not None and there is not None and normal_base(here) != normal_base(there)

    def _index_base(self, full_url: str | None) -> None:
        base = base_of(full_url) if full_url else None
        if base:
            self._add_base(base)

    def _add_base(self, base: str) -> None:
        if normal_base(base) not in self._bases:
            self._bases.add(normal_base(base))
            self._memo.clear()

    def _index_contained(self, raw: dict[str, Any], model: Any, where: str) -> None:
        """Contained resources are referenced only as `#id` from inside their container, but are
        the record's resources like any other (a Procedure may contain its own Provenance). One
        carrying a modifierExtension is skipped alone (a `#id` to it names nothing readable);
        of a type no rule reads, it is not even reported."""
        contained = raw.get("contained")
        # getattr: a Binary is a Resource, not a DomainResource, and has no `contained`.
        for i, (craw, cmodel) in enumerate(zip(contained if isinstance(contained, list) else [],
                                               getattr(model, "contained", None) or [], strict=False)):
            cid = craw.get("id") if isinstance(craw, dict) else None
            ctype = cmodel.get_resource_type()
            modifier = _modifier_extension(craw, ctype) if ctype in KNOWN_TYPES else None
            if modifier:
                self.skipped.append(Skipped(where=f"{self.key_of(model)}#{cid or ''}", path=f"{where}.contained[{i}]",
                                            reason=modifier, kind=ctype,
                                            why="carries a modifierExtension this service does not understand"))
            elif isinstance(cid, str) and cid:
                self._contained[(id(model), cid)] = cmodel
                self._container[id(cmodel)] = model
                self._raw[id(cmodel)] = craw
                self._keys[id(cmodel)] = f"{self.key_of(model)}#{cid}"
                self._by_type.setdefault(cmodel.get_resource_type(), []).append(cmodel)

    # -- lookups -----------------------------------------------------------------
    def all(self, rtype: str) -> list[Any]:
        return self._by_type.get(rtype, [])

    def resolve(self, reference: Any, within: Any = None) -> Any | None:
        """The resource a Reference (model or string) names, in any form plugin.references accepts.

        `within` is the resource holding the reference: a contained `#id` is looked up in it (or in
        the resource that contains it), and a bare `#` is that container itself (R4 §2.3.0.1).
        Identifier- or display-only references resolve to None.
        """
        ref = reference_string(reference)
        if ref is None:
            return None
        container = self._container.get(id(within), within)
        if ref.startswith("#"):
            if ref == "#":
                return container if id(within) in self._container else None
            return self._contained.get((id(container), ref[1:])) if container is not None else None
        # A relative reference inside a Bundle entry names a resource on that entry's server.
        base = self._entry_base.get(id(container)) if container is not None else None
        return self.memo(("resolve", ref, base), lambda: self._lookup(against(ref, base) or ref))

    def _lookup(self, ref: str) -> Any | None:
        found = self._by_url.get(ref)
        if found is None and "://" in ref:
            found = self._by_abs.get(canonical(ref) or "")
        if found is not None:
            return found
        key = logical_key(ref, self._bases or None)
        found = self._by_ref.get(key) if key else None
        held = self._held.get(ref) or (self._held.get(key) if key else None)
        if found is None and held is None:
            held = self._take_unparsed(ref) or (self._take_unparsed(key) if key else None)
        return found if found is not None or held is None else self._admit_held(*held)

    def _admit_held(self, held: Any, where: str, full_url: str | None) -> Any | None:
        """A held-back resource a rule reached by reference: validated now, resolvable, not listed."""
        raw = self._parsed(held, where)
        if raw is None:   # unreadable: reported once, and no longer held
            for name in [n for n, (h, _, _) in self._held.items() if h is held]:
                del self._held[name]
            return None
        self._unhold(held, raw, full_url)
        prefilter, self.prefilter = self.prefilter, None
        try:
            model = self._add(raw, where, full_url, listed=False)
        finally:
            self.prefilter = prefilter
        return model

    def key(self, reference: Any, within: Any = None) -> str | None:
        """What a reference names, comparable across every form of reference: the resolved
        resource's identity, else the `Type/id` it names on the request's server; None when it
        names nothing we could read (identifier/display only, another server, an unknown urn)."""
        target = self.resolve(reference, within)
        if target is not None:
            return self.key_of(target)
        ref = reference_string(reference)
        # Once per reference and request: every resource names the same patient and encounter.
        return self.memo(("logical_key", ref), lambda: logical_key(ref, self._bases or None)) if ref else None

    def key_of(self, model: Any) -> str:
        """A resource's identity in this record: `Type/id`, else its fullUrl, else its place."""
        return self._keys.get(id(model)) or self.ref_of(model)

    def reference_to(self, model: Any) -> str | None:
        """A reference string the EHR can resolve for a resource it sent: `Type/id`, else the
        Bundle fullUrl it came with (e.g. a urn:uuid); None for a contained or unnamed resource."""
        if getattr(model, "id", None) and id(model) not in self._container:
            return self.ref_of(model)
        return next((url for url, m in self._by_url.items() if m is model), None)

    def is_ref(self, reference: Any, rtype: str, rid: str | None, within: Any = None) -> bool:
        """Whether the reference names the resource `rtype/rid`."""
        return bool(rid) and self.key(reference, within) == f"{rtype}/{rid}"

    def raw(self, model: Any) -> dict[str, Any]:
        """The JSON the resource arrived as, to build updates that keep every field intact."""
        return self._raw[id(model)]

    def memo(self, key: Any, compute: Callable[[], T]) -> T:
        """Compute a derived fact once per request."""
        found = self._memo.get(key, _UNSET)   # one lookup: the rules ask a few hundred times a request
        if found is _UNSET:
            found = self._memo[key] = compute()
        return found  # type: ignore[no-any-return]  # not typing.cast: a call on every lookup

    def memo_of(self, name: str, model: Any, compute: Callable[[], T]) -> T:
        """Compute a derived fact of one resource model once per request. The model is kept with
        the fact, so its id() cannot pass to another object while the request lasts (models are
        not hashable)."""
        key = (name, id(model))
        found = self._memo.get(key)
        if found is None or found[0] is not model:
            found = self._memo[key] = (model, compute())
        return found[1]

    @staticmethod
    def ref_of(model: Any) -> str:
        return f"{model.get_resource_type()}/{model.id}" if getattr(model, "id", None) else model.get_resource_type()
