"""A hook request body read so that Observations no rule reads are never turned into Python objects.

A ten-year chart brings thousands of vital signs and lab results in the prefetch; parsing them
into dicts costs more than the whole visit's evaluation. Here the body is scanned with msgspec
(C): each prefetch Bundle's entries are kept as JSON text, and of each Observation only the
fields plugin/prefilter.py reads are decoded. An Observation the prefilter holds back stays
text: it leaves its Bundle and is handed to the record apart (`plugin.prefilter.HeldBack`),
which parses it only if a rule follows a reference to it or a Goal arriving later makes it
read. Everything else is parsed by `fhir_json.loads`, decimals exact.

The result is what `fhir_json.loads` gives, less the held-back entries. Where this reader cannot
vouch for that, the body is parsed whole by `fhir_json.loads` instead: a body under 64 KB
(nothing to gain); invalid UTF-8; a number that needs the 1E±400 check (or text that looks like
one); anything msgspec refuses (its grammar is stricter than simplejson's: NaN, lone surrogates,
a byte-order mark) or cannot type (a prefetch, value, entry or resource that is not a JSON
object). Observations are held back only from a Bundle with no next page, and only when no other
resource of the request shares their `Type/id` or fullUrl (which copy the record keeps must not
depend on this reader). Members of the body that hook_request.py does not read are dropped.
"""
from __future__ import annotations

import gc
from collections import Counter
from typing import Any, NamedTuple

import msgspec
from msgspec.structs import astuple

from cds_hooks import fhir_json
from plugin import OBSERVATION_FIELDS, HeldBack, Prefilter, goal_measures, next_link

# Below this size a body is parsed whole: an ordinary visit (~13 KB) gains nothing from the scan.
MIN_BYTES = 64 * 1024
# The members of a body that cds_hooks/hook_request.py reads.
MEMBERS = ("hook", "hookInstance", "context", "fhirServer", "fhirAuthorization")

# A resource's type and id, then the fields the prefilter reads as JSON text (None when absent):
# equal text, equal decision, so a chart's thousands of Observations take a few dozen decisions.
# gc=False: these hold no cycles, and a chart makes tens of thousands of them.
_Head: Any = msgspec.defstruct("_Head", [("resourceType", Any, None), ("id", Any, None)]
                          + [(name, msgspec.Raw, None) for name in OBSERVATION_FIELDS], gc=False)
_Entry: Any = msgspec.defstruct("_Entry", [("fullUrl", Any, None), ("resource", _Head | None, None)], gc=False)
_Top: Any = msgspec.defstruct("_Top", [(name, msgspec.Raw, None) for name in MEMBERS]
                         + [("prefetch", dict[str, dict[str, msgspec.Raw] | None] | None, None)], gc=False)
_top = msgspec.json.Decoder(_Top)
_texts = msgspec.json.Decoder(list[msgspec.Raw])
_entries = msgspec.json.Decoder(list[_Entry])


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


_DIGITS = bytes.maketrans(b"123456789E", b"000000000e")
_RUN = b"0" * 300
_BEFORE_NUMBER = b":,[ \t\r\n"


def _plain(data: bytes) -> bool:
    """Valid UTF-8 without a number that needs fhir_json's 1E±400 check: an exponent of three
    digits or more, or 300 digits in a row (text that looks alike takes the whole parse too)."""
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
    digits = data.translate(_DIGITS)
    if _RUN in digits:
        return False
    at = digits.find(b"0e")
    while at >= 0:
        if _long_exponent(digits, at):
            return False
        at = digits.find(b"0e", at + 2)
    return True


def _long_exponent(digits: bytes, at: int) -> bool:
    """Whether the digit and `e` at `at` (digits all written 0) end the mantissa of a JSON number
    whose exponent has three digits or more: ids and hex text rarely match all of it."""
    end = at + 2 + (digits[at + 2:at + 3] in (b"+", b"-"))
    if digits[end:end + 3] != b"000":
        return False
    start = at
    while start > 0 and digits[start - 1] in b"0.":
        start -= 1
    if start > 0 and digits[start - 1] == ord("-"):
        start -= 1
    return start == 0 or digits[start - 1] in _BEFORE_NUMBER


def _loads(raw: Any) -> Any:
    return fhir_json.loads(bytes(raw))


def _loads_all(texts: list[Any]) -> list[Any]:
    """Several JSON texts parsed in one call (a call costs about as much as a small resource)."""
    return fhir_json.loads(b"[" + b",".join(texts) + b"]") if texts else []


def _entry_resource(text: Any) -> Any:
    return fhir_json.loads(bytes(text))["resource"]


def _held(entries: dict[str, list[Any]]) -> HeldBack:
    return HeldBack(entries, _entry_resource)


def _scan(data: bytes) -> Body:
    top = _top.decode(data)
    body = {name: _loads(raw) for name in MEMBERS if (raw := getattr(top, name)) is not None}
    if top.prefetch is None:
        return Body(body | {"prefetch": None}, _held({}))
    prefetch, found = {}, {}
    for key, parts in top.prefetch.items():
        prefetch[key], found[key] = _value(parts)
    body["prefetch"] = prefetch
    return Body(body, _held(_hold(body, found)))


def _value(parts: dict[str, Any] | None) -> tuple[Any, list[Any]]:
    """A prefetch value, its Bundle's Observations left out (None in their place), and those as
    (place in the entry list, position among the key's resources, entry text, head)."""
    if parts is None:
        return None, []
    value = {k: (None if k == "entry" else _loads(v)) for k, v in parts.items()}
    if value.get("resourceType") != "Bundle" or "entry" not in parts or next_link(value) is not None:
        if "entry" in parts:
            value["entry"] = _loads(parts["entry"])
        return value, []
    texts, heads = _texts.decode(parts["entry"]), _entries.decode(parts["entry"])
    observations, others, position = [], [], 0
    for index, (text, head) in enumerate(zip(texts, heads, strict=True)):
        resource = head.resource
        if resource is not None and resource.resourceType == "Observation":
            observations.append((index, position, text, head))
        else:
            others.append(index)
        position += resource is not None
    entries: list[Any] = [None] * len(texts)
    for index, entry in zip(others, _loads_all([texts[i] for i in others]), strict=True):
        entries[index] = entry
    value["entry"] = entries
    return value, observations


def _hold(body: dict[str, Any], found: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Decide each Observation as the record's prefilter will (same patient, server and Goals'
    measures or more: plugin/record.py); parse the admitted ones into their place, and return
    the others as (position, `Type/id`, fullUrl, text) per key."""
    context: dict[str, Any] = body["context"] if isinstance(body.get("context"), dict) else {}
    patient = context.get("patientId") if isinstance(context.get("patientId"), str) else None
    server = body.get("fhirServer") if isinstance(body.get("fhirServer"), str) else None
    prefetch = body["prefetch"]
    parsed = [pair for value in (*context.values(), *prefetch.values()) for pair in _resources(value)]
    prefilter = Prefilter(patient, server.rstrip("/") if server else None,
                          goal_measures(resource for resource, _ in parsed))
    shared = _shared_names(parsed, found)
    decided: dict[bytes, bool] = {}
    held: dict[str, list[Any]] = {}
    for key, observations in found.items():
        if not observations:
            continue
        heads = [head for _, _, _, head in observations]
        fields = [astuple(head.resource)[2:] for head in heads]
        readings = list(map(msgspec.json.encode, fields))
        for reading, values in zip(readings, fields, strict=True):
            if reading not in decided:
                decided[reading] = _admits(prefilter, values)
        type_ids = [f"Observation/{rid}" if type(rid := head.resource.id) is str and rid else None for head in heads]
        urls = [(url.strip() or None) if type(url := head.fullUrl) is str else None for head in heads]
        admitted = [decided[r] or (shared and (t in shared or u in shared))
                    for r, t, u in zip(readings, type_ids, urls, strict=True)]
        entries = prefetch[key]["entry"]
        texts = [(index, text) for (index, _, text, _), admit in zip(observations, admitted, strict=True) if admit]
        for (index, _), entry in zip(texts, _loads_all([text for _, text in texts]), strict=True):
            entries[index] = entry
        prefetch[key]["entry"] = [e for e in entries if e is not None]
        held[key] = [(position, t, u, text) for (_, position, text, _), t, u, admit
                     in zip(observations, type_ids, urls, admitted, strict=True) if not admit]
    return {key: entries for key, entries in held.items() if entries}


def _admits(prefilter: Prefilter, values: tuple[Any, ...]) -> bool:
    raw = {name: _loads(text) for name, text in zip(OBSERVATION_FIELDS, values, strict=True) if text is not None}
    return prefilter.admits({"resourceType": "Observation", **raw})


def _resources(value: Any) -> list[tuple[dict[str, Any], Any]]:
    """(resource, fullUrl) of the parsed resources of a context or prefetch value."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") != "Bundle" or not isinstance(value.get("entry"), list):
        return [(value, None)]
    return [(e["resource"], e.get("fullUrl")) for e in value["entry"]
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)]


def _shared_names(parsed: list[tuple[dict[str, Any], Any]], found: dict[str, list[Any]]) -> set[str]:
    """The `Type/id`s and fullUrls that more than one of the request's resources carry."""
    pairs = [(resource.get("resourceType"), resource.get("id"), url) for resource, url in parsed]
    pairs += [("Observation", head.resource.id, head.fullUrl) for observations in found.values()
              for _, _, _, head in observations]
    names = Counter(f"{rtype}/{rid}" for rtype, rid, _ in pairs if type(rid) is str and rid)
    names.update(url.strip() for _, _, url in pairs if type(url) is str and url.strip())
    return {name for name, count in names.items() if count > 1}
