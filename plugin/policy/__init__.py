"""Payer profiles, value sets and lexicons: policy as data, loaded once per process.

A clinic adds or overrides payer profiles with its own TOML file (same shape as
payers.toml) without touching code: `load_policy(extra_profiles=path)`.
"""
from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).parent
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
UNITS_METHODS = frozenset({"cms", "per-code"})


@dataclass(frozen=True)
class PayerProfile:
    id: str
    name: str
    units_method: str = "cms"          # "cms" (total timed minutes) or "per-code"
    gp_required: bool = False          # a discipline modifier (GP/GO/GN) on every therapy line
    zelis_59_gp: bool = False          # 97124 with CMT the same date: modifiers 59 then GP
    audit_units_over: int = 1          # more than this many 97124 units on a date is an audit flag
    audit_visits_over: int = 3         # more than this many 97124 visits in the episode is an audit flag
    initial_phase_days: int = 30       # days from the plan-of-care start that count as the initial phase
    max_modalities_initial: int = 2    # therapies/modalities per visit usual in the initial phase
    medicare_coverage: bool = False    # Medicare's coverage rules: who it pays, CQ/CO for assistants
    paid_performers: str = "qualified-performers"  # value set: performer types the payer pays for 97124
    certification_days: int = 0        # plan of care certified within N days of its first treatment (0: off)
    recertification_days: int = 0      # certification older than N days on the date of service (0: off)
    progress_report_days: int = 0      # a progress report at least every N treatment days (0: off)
    aliases: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()

    def matches(self, names: Iterable[str], identifiers: Iterable[str]) -> bool:
        wanted_names = {_fold(a) for a in (self.name, self.id, *self.aliases)}
        wanted_ids = {_fold(i) for i in self.identifiers}
        return any(_fold(n) in wanted_names for n in names) or any(
            _fold(i) in wanted_ids for i in identifiers)


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


class ValueSet:
    """Membership test for a FHIR ValueSet's compose: listed concepts and `is-a` code prefixes.

    ICD-10-CM codes compare without their dot, so "M79.1" and "M791" are the same code.
    """

    def __init__(self, resource: dict):
        self.resource = resource
        self.name: str = resource.get("name") or resource.get("id", "")
        self.title: str = resource.get("title") or self.name
        self._codes: set[tuple[str, str]] = set()
        self._prefixes: list[tuple[str, str]] = []
        for include in resource.get("compose", {}).get("include", []):
            system = include.get("system", "")
            for concept in include.get("concept", []):
                self._codes.add((system, _norm(system, concept["code"])))
            for flt in include.get("filter", []):
                if flt.get("op") == "is-a":
                    self._prefixes.append((system, _norm(system, flt["value"])))

    def contains(self, system: str | None, code: str | None) -> bool:
        if not system or not code:
            return False
        code = _norm(system, code)
        return (system, code) in self._codes or any(
            system == s and code.startswith(p) for s, p in self._prefixes)

    def codes(self, system: str) -> set[str]:
        return {c for s, c in self._codes if s == system}


def _norm(system: str, code: str) -> str:
    code = code.strip()
    return code.replace(".", "").upper() if system == ICD10 else code


class Lexicon:
    """A named list of words and phrases, matched as whole words, case-insensitively."""

    def __init__(self, name: str, terms: Iterable[str]):
        self.name = name
        self.terms = tuple(terms)
        alternatives = "|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True))
        self._pattern = re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE) if self.terms else None

    def hits(self, text: str | None) -> list[str]:
        """The terms found in text, in order of appearance, lower-cased, without repeats."""
        if not text or self._pattern is None:
            return []
        return list(dict.fromkeys(m.group(0).lower() for m in self._pattern.finditer(text)))


@dataclass
class Policy:
    profiles: dict[str, PayerProfile]
    valuesets: dict[str, ValueSet]
    lexicons: dict[str, Lexicon]

    @property
    def default_profile(self) -> PayerProfile:
        return self.profiles["default"]

    def profile_for(self, names: Iterable[str], identifiers: Iterable[str]) -> PayerProfile:
        """The profile whose name, alias or identifier matches the payer; `default` if none."""
        names, identifiers = list(names), list(identifiers)
        for profile in self.profiles.values():
            if profile.id != "default" and profile.matches(names, identifiers):
                return profile
        return self.default_profile

    def valueset(self, name: str) -> ValueSet:
        return self.valuesets[name]

    def lexicon(self, name: str) -> Lexicon:
        return self.lexicons[name]


_PROFILE_KEYS = {f.name for f in fields(PayerProfile)}
_DAY_COUNTS = ("certification_days", "recertification_days", "progress_report_days")


def _profiles_from(data: dict, base: dict[str, PayerProfile]) -> dict[str, PayerProfile]:
    profiles = dict(base)
    defaults = data.get("profiles", {}).get("default", {})
    for pid, values in data.get("profiles", {}).items():
        unknown = set(values) - _PROFILE_KEYS
        if unknown:
            raise ValueError(f"payer profile {pid!r}: unknown settings {sorted(unknown)}")
        negative = [k for k in _DAY_COUNTS if values.get(k, 0) < 0]
        if negative:
            raise ValueError(f"payer profile {pid!r}: {negative} must be 0 (off) or a positive number of days")
        if values.get("units_method", "cms") not in UNITS_METHODS:
            raise ValueError(f"payer profile {pid!r}: units_method must be one of {sorted(UNITS_METHODS)}")
        merged: dict[str, Any] = {**defaults, **values} if pid != "default" else dict(values)
        if pid in profiles:  # an override keeps what it does not restate
            merged = {**profiles[pid].__dict__, **values}
        merged["id"] = pid
        merged.setdefault("name", pid)
        for key in ("aliases", "identifiers"):
            merged[key] = tuple(merged.get(key, ()))
        profiles[pid] = PayerProfile(**merged)
    return profiles


def load_policy(extra_profiles: str | Path | None = None) -> Policy:
    with open(HERE / "payers.toml", "rb") as fh:
        profiles = _profiles_from(tomllib.load(fh), {})
    if extra_profiles:
        with open(extra_profiles, "rb") as fh:
            profiles = _profiles_from(tomllib.load(fh), profiles)
    valuesets = {}
    for path in sorted((HERE / "valuesets").glob("*.json")):
        valuesets[path.stem] = ValueSet(json.loads(path.read_text()))
    lexicons = {}
    for path in sorted((HERE / "lexicons").glob("*.toml")):
        with open(path, "rb") as fh:
            lexicons[path.stem] = Lexicon(path.stem, tomllib.load(fh)["terms"])
    for profile in profiles.values():
        if profile.paid_performers not in valuesets:
            raise ValueError(f"payer profile {profile.id!r}: paid_performers names no value set "
                             f"({profile.paid_performers!r}); shipped: {sorted(valuesets)}")
    return Policy(profiles=profiles, valuesets=valuesets, lexicons=lexicons)
