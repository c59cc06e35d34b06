"""A hook request body read so that Observations no rule reads are never turned into Python objects.

A ten-year chart brings thousands of vital signs and lab results in the prefetch; parsing them
into dicts costs more than the whole visit's evaluation. Here the body is scanned with msgspec
(C): one pass leaves each prefetch value's members as JSON text (a Bundle's entries one text
each), then of each entry only its fullUrl, type and id and the fields plugin/prefilter.py reads
are decoded. Observations whose read fields have equal text take one decision between them (a
chart's thousands of vital signs take a few dozen). An Observation the prefilter holds back stays
text: it leaves its Bundle and is handed to the record apart (`plugin.prefilter.HeldBack`), which
indexes their names only when a reference misses, and parses one only if a rule follows a
reference to it or a Goal arriving later makes it read. Everything else is parsed by
`fhir_json.loads`, decimals exact.

The result is what `fhir_json.loads` gives, less the held-back entries. Where this reader cannot
vouch for that, the body is parsed whole by `fhir_json.loads` instead: a body under 64 KB
(nothing to gain); invalid UTF-8; a number that needs the 1E±400 check (or text that looks like
one); anything msgspec refuses (its grammar is stricter than simplejson's: NaN, lone surrogates,
a byte-order mark) or cannot type (a prefetch, value, entry or resource that is not a JSON
object, a fraction among a prefetch value's own members, an Observation's value or component
that is not an object). Observations are held back only from a Bundle with no next page, and
only when no other resource of the request shares their `Type/id` or fullUrl (which copy the
record keeps must not depend on this reader). Members of the body that hook_request.py does not
read are dropped.
"""
from __future__ import annotations

import gc
import re
from collections import Counter
from itertools import accumulate, compress
from operator import attrgetter, not_
from typing import Any, NamedTuple

import msgspec

from cds_hooks import fhir_json
from plugin import OBSERVATION_FIELDS, HeldBack, HeldEntries, Prefilter, goal_measures, next_link

# Below this size a body is parsed whole: an ordinary visit (~13 KB) gains nothing from the scan.
MIN_BYTES = 64 * 1024
# The members of a body that cds_hooks/hook_request.py reads.
MEMBERS = ("hook", "hookInstance", "context", "fhirServer", "fhirAuthorization")

# Of an Observation's value and components, what the prefilter reads (plugin.prefilter.observation_read):
# the rest is skipped, so that a chart's heart rates, which differ in value only, read alike.
_Quantity: Any = msgspec.defstruct("_Quantity", [("code", msgspec.Raw, None), ("unit", msgspec.Raw, None)], gc=False)
_Component: Any = msgspec.defstruct("_Component", [("code", msgspec.Raw, None),
                                                   ("valueCodeableConcept", msgspec.Raw, None)], gc=False)
_READ_AS = {"valueQuantity": _Quantity | None, "component": list[_Component] | None}
# A resource's type and id, then the fields the prefilter reads as JSON text (None when absent):
# equal text, equal decision, so a chart's thousands of Observations take a few dozen decisions.
# gc=False: these hold no cycles, and a chart makes tens of thousands of them.
_Head: Any = msgspec.defstruct("_Head", [("resourceType", Any, None), ("id", Any, None)]
                               + [(name, _READ_AS.get(name, msgspec.Raw), None) for name in OBSERVATION_FIELDS],
                               gc=False)
_Entry: Any = msgspec.defstruct("_Entry", [("fullUrl", Any, None), ("resource", _Head | None, None)], gc=False)
# A prefetch value's members: arrays (a Bundle's entries) as the texts of their items, objects as
# the texts of their members. A number here (a float could not stay exact) is the whole parse's.
_Member = list[msgspec.Raw] | dict[str, msgspec.Raw] | str | int | bool | None
_Top: Any = msgspec.defstruct("_Top", [(name, msgspec.Raw, None) for name in MEMBERS]
                              + [("prefetch", dict[str, dict[str, _Member] | None] | None, None)], gc=False)
_top = msgspec.json.Decoder(_Top)
_entry = msgspec.json.Decoder(_Entry)
_encode = msgspec.json.encode
_RESOURCE, _FULL_URL, _ID = attrgetter("resource"), attrgetter("fullUrl"), attrgetter("id")
_READING = attrgetter(*OBSERVATION_FIELDS)   # a _Head's fields, its type and id left out


class Body(NamedTuple):
    """The parsed body, and the entries held back from its prefetch."""
    value: Any
    held: HeldBack


def read(data: bytes) -> Body:
    """The request body as `fhir_json.loads` parses it, less the held-back entries, and those.
    Raises ValueError or RecursionError exactly when fhir_json.loads would."""
    if len(data) >= MIN_BYTES and _plain(data):
        collecting = gc.isenabled()
        gc.disable()   # what the scan makes holds no cycles: collecting during it only walks the heap
        try:
            return _scan(data)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            pass   # not for this reader to judge: the whole parse says what is wrong, or reads it
        finally:
            if collecting:
                gc.enable()
    return Body(fhir_json.loads(data), _held({}))


# The number guard reads a copy of the body in which every digit is 0, e and E are \x01, a sign
# is -, and what may stand before a JSON number is a space: fhir_json's 1E±400 check is needed
# only where `0\x01-?000` (an exponent of three digits) or 300 digits in a row occur.
_DIGITS = bytes.maketrans(bytes(range(256)), bytes(
    ord("0") if c in b"0123456789" else 1 if c in b"eE" else ord("-") if c in b"+-"
    else c if c == ord(".") else ord(" ") if c in b":,[ \t\r\n" else ord("a") for c in range(256)))
_EXPONENT = re.compile(b"0\x01-?000")
_RUN = b"0" * 300


def _plain(data: bytes) -> bool:
    """Valid UTF-8 without a number that needs fhir_json's 1E±400 check: an exponent of three
    digits or more, or 300 digits in a row (text that looks alike takes the whole parse too)."""
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    digits = data.translate(_DIGITS)
    return _RUN not in digits and not any(_number(digits, found.start()) for found in _EXPONENT.finditer(digits))


def _number(digits: bytes, at: int) -> bool:
    """Whether the digit at `at`, before an exponent, ends the mantissa of a JSON number rather
    than standing inside a name or id (`0e123`-like hex text is common there)."""
    start = at
    while start > 0 and digits[start - 1] in b"0.":
        start -= 1
    if start > 0 and digits[start - 1] == ord("-"):
        start -= 1
    return start == 0 or digits[start - 1] == ord(" ")


def _loads(raw: Any) -> Any:
    return fhir_json.loads(bytes(raw))


def _loads_all(texts: list[Any]) -> list[Any]:
    """Several JSON texts parsed in one call (a call costs about as much as a small resource)."""
    return fhir_json.loads(b"[" + b",".join(texts) + b"]") if texts else []


def _entry_resource(text: Any) -> Any:
    return fhir_json.loads(bytes(text))["resource"]


def _held(entries: dict[str, HeldEntries]) -> HeldBack:
    return HeldBack(entries, _entry_resource)


class _Found(NamedTuple):
    """A prefetch Bundle's entries as scanned: their texts and heads, which are Observations (not
    parsed yet) and which others (parsed), and each entry's place among the key's resources (None:
    its index)."""
    texts: list[Any]
    heads: list[Any]
    observations: list[int]
    others: list[int]
    places: list[int] | None


def _scan(data: bytes) -> Body:
    top = _top.decode(data)
    body = {name: _loads(raw) for name in MEMBERS if (raw := getattr(top, name)) is not None}
    if top.prefetch is None:
        return Body(body | {"prefetch": None}, _held({}))
    prefetch, found = {}, {}
    for key, parts in top.prefetch.items():
        prefetch[key], found[key] = _value(parts)
    body["prefetch"] = prefetch
    return Body(body, _held(_hold(body, {key: f for key, f in found.items() if f is not None})))


def _value(parts: dict[str, Any] | None) -> tuple[Any, _Found | None]:
    """A prefetch value with its Bundle's Observations left out, and the Bundle as scanned."""
    if parts is None:
        return None, None
    entry = parts.get("entry")
    members = fhir_json.loads(_encode({k: v for k, v in parts.items() if k != "entry"}))
    value = {k: members.get(k) for k in parts}
    if value.get("resourceType") != "Bundle" or type(entry) is not list or next_link(value) is not None:
        if "entry" in parts:
            value["entry"] = fhir_json.loads(_encode(entry))
        return value, None
    heads = list(map(_entry.decode, entry))
    resources = list(map(_RESOURCE, heads))
    places = None if None not in resources else list(accumulate((r is not None for r in resources), initial=0))
    observing = [r is not None and r.resourceType == "Observation" for r in resources]
    others = list(compress(range(len(entry)), map(not_, observing)))
    value["entry"] = _loads_all([entry[i] for i in others])
    return value, _Found(entry, heads, list(compress(range(len(entry)), observing)), others, places)


def _hold(body: dict[str, Any], found: dict[str, _Found]) -> dict[str, HeldEntries]:
    """Decide each Observation as the record's prefilter will (same patient, server and Goals'
    measures or more: plugin/record.py); parse the admitted ones into their place among the
    others, and return the others' places, names and texts per key."""
    context: dict[str, Any] = body["context"] if isinstance(body.get("context"), dict) else {}
    patient = context.get("patientId") if isinstance(context.get("patientId"), str) else None
    server = body.get("fhirServer") if isinstance(body.get("fhirServer"), str) else None
    prefetch = body["prefetch"]
    parsed = [pair for value in (*context.values(), *prefetch.values()) for pair in _resources(value)]
    prefilter = Prefilter(patient, server.rstrip("/") if server else None,
                          goal_measures(resource for resource, _ in parsed))
    heads = {key: [f.heads[i] for i in f.observations] for key, f in found.items()}
    resources = {key: list(map(_RESOURCE, h)) for key, h in heads.items()}
    readings = {key: list(map(_encode, map(_READING, r))) for key, r in resources.items()}
    distinct = list(set().union(*readings.values()))
    decided = {reading: _admits(prefilter, fields) for reading, fields in zip(distinct, _loads_all(distinct), strict=True)}
    type_ids = {key: _type_ids(map(_ID, r)) for key, r in resources.items()}
    urls = {key: _urls(map(_FULL_URL, h)) for key, h in heads.items()}
    shared = _shared_names(parsed, [*type_ids.values(), *urls.values()])
    held: dict[str, HeldEntries] = {}
    for key, f in found.items():
        admitted = list(map(decided.__getitem__, readings[key]))
        if shared:   # which copy the record keeps must not depend on this reader: those are parsed
            admitted = [a or t in shared or u in shared for a, t, u in zip(admitted, type_ids[key], urls[key], strict=True)]
        kept = list(compress(f.observations, admitted))
        entries = dict(zip(f.others, prefetch[key]["entry"], strict=True))
        entries.update(zip(kept, _loads_all([f.texts[i] for i in kept]), strict=True))
        prefetch[key]["entry"] = [entries[i] for i in sorted(entries)]
        back = list(map(not_, admitted))
        indexes = list(compress(f.observations, back))
        if indexes:
            held[key] = HeldEntries(indexes if f.places is None else [f.places[i] for i in indexes],
                                    list(compress(type_ids[key], back)), list(compress(urls[key], back)),
                                    list(map(f.texts.__getitem__, indexes)))
    return held


def _admits(prefilter: Prefilter, fields: list[Any]) -> bool:
    return prefilter.admits({"resourceType": "Observation", **dict(zip(OBSERVATION_FIELDS, fields, strict=True))})


def _type_ids(ids: Any) -> list[str | None]:
    """`Observation/<id>` of each id, None where it is no id (not a string, or empty)."""
    ids = list(ids)
    if set(map(type, ids)) == {str} and "" not in ids:
        return list(map("Observation/".__add__, ids))
    return [f"Observation/{rid}" if type(rid) is str and rid else None for rid in ids]


def _urls(urls: Any) -> list[str | None]:
    """Each fullUrl stripped, None where there is none (not a string, or blank)."""
    urls = list(urls)
    if set(map(type, urls)) == {str}:
        urls = list(map(str.strip, urls))
        if "" not in urls:
            return urls
    return [(url.strip() or None) if type(url) is str else None for url in urls]


def _resources(value: Any) -> list[tuple[dict[str, Any], Any]]:
    """(resource, fullUrl) of the parsed resources of a context or prefetch value."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") != "Bundle" or not isinstance(value.get("entry"), list):
        return [(value, None)]
    return [(e["resource"], e.get("fullUrl")) for e in value["entry"]
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def _shared_names(parsed: list[tuple[dict[str, Any], Any]], held: list[list[str | None]]) -> set[str]:
    """The `Type/id`s and fullUrls that more than one of the request's resources carry: those
    parsed, and the Observations not parsed yet (`held`: their `Type/id`s, their fullUrls)."""
    pairs = [(resource.get("resourceType"), resource.get("id"), url) for resource, url in parsed]
    names = Counter(f"{rtype}/{rid}" for rtype, rid, _ in pairs if type(rid) is str and rid)
    names.update(url.strip() for _, _, url in pairs if type(url) is str and url.strip())
    for values in held:
        names.update(filter(None, values))
    if sum(names.values()) == len(names):
        return set()
    return {name for name, count in names.items() if count > 1}
