"""Payer profiles, value sets and lexicons: policy as data, loaded once per process.

A clinic adds or overrides payer profiles with its own TOML file (same shape as
payers.toml) without touching code: `load_policy(extra_profiles=path)`.
"""
from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, NonNegativeInt, ValidationError

from plugin.vocabulary import ICD10

HERE = Path(__file__).parent


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
    # Who may countersign the massage note: value set names (97124-rules.md §5; NP/PA addable).
    countersigners: tuple[str, ...] = ("supervising-doctors",)
    medicare_coverage: bool = False    # Medicare's coverage rules: who it pays, CQ/CO for assistants
    paid_performers: str = "qualified-performers"  # value set: performer types the payer pays for 97124
    certification_days: int = 0        # plan of care certified within N days of its first treatment (0: off)
    recertification_days: int = 0      # certification older than N days on the date of service (0: off)
    progress_report_days: int = 0      # a progress report at least every N treatment days (0: off)
    aliases: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    coverage_types: str = ""            # value set of Coverage.type codes that mean this payer
    name_contains: tuple[str, ...] = ()  # words in a plan or payer name that mean this payer

    # The profile's own names folded once per process (a profile never changes), not per request.
    @cached_property
    def _identifiers(self) -> frozenset[str]:
        return frozenset(_fold(i) for i in self.identifiers)

    @cached_property
    def _names(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """(the profile's name, id and aliases; the words of `name_contains`), folded."""
        return (frozenset(_fold(a) for a in (self.name, self.id, *self.aliases)),
                tuple(_fold(w) for w in self.name_contains))

    def has_identifier(self, identifiers: Iterable[str]) -> bool:
        return not self._identifiers.isdisjoint(_fold(i) for i in identifiers)

    def has_name(self, names: Iterable[str]) -> bool:
        """A name equal to the profile's name, id or an alias, or containing one of `name_contains`."""
        return self._has_folded_name([_fold(n) for n in names])

    def _has_folded_name(self, folded: Iterable[str]) -> bool:
        wanted, parts = self._names
        return any(n in wanted or any(w in n for w in parts) for n in folded)


@dataclass(frozen=True)
class PayerFacts:
    """What the Coverage says about the payer, in the order profiles are chosen by (§12)."""

    identifiers: tuple[str, ...] = ()
    coverage_types: tuple[tuple[str, str], ...] = ()   # (system, code) of Coverage.type
    organization_names: tuple[str, ...] = ()           # payer Organization name and aliases
    plan_names: tuple[str, ...] = ()                   # Coverage.class names (plan, group)
    displays: tuple[str, ...] = ()                     # Coverage.payor.display


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


class ValueSet:
    """Membership test for a FHIR ValueSet's compose: listed concepts and `is-a` code prefixes.

    ICD-10-CM codes compare without their dot, so "M79.1" and "M791" are the same code.
    """

    def __init__(self, resource: dict[str, Any]):
        self.resource = resource
        self.name: str = resource.get("name") or resource.get("id", "")
        self.title: str = resource.get("title") or self.name
        self._codes: set[tuple[str, str]] = set()
        self._prefixes: dict[str, tuple[str, ...]] = {}   # system -> its `is-a` code prefixes
        for include in resource.get("compose", {}).get("include", []):
            system = include.get("system", "")
            for concept in include.get("concept", []):
                self._codes.add((system, _norm(system, concept["code"])))
            for flt in include.get("filter", []):
                if flt.get("op") == "is-a":
                    self._prefixes[system] = (*self._prefixes.get(system, ()), _norm(system, flt["value"]))

    def contains(self, system: str | None, code: str | None) -> bool:
        if not system or not code:
            return False
        code = _norm(system, code)
        return (system, code) in self._codes or code.startswith(self._prefixes.get(system, ()))

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

    def recognise(self, facts: PayerFacts) -> PayerProfile:
        """The payer's profile, decided in the order of 97124-rules.md §12: a payer identifier a
        profile lists; the Coverage.type (a profile's coverage_types value set); the payer
        Organization's name or alias; the plan name; `payor.display`; else `default`."""
        named = [p for p in self.profiles.values() if p.id != "default"]
        # The facts folded once, not once per profile they are held against.
        ids = {_fold(i) for i in facts.identifiers}
        orgs, plans, displays = ([_fold(n) for n in names]
                                 for names in (facts.organization_names, facts.plan_names, facts.displays))
        steps: list[Callable[[PayerProfile], bool]] = [
            lambda p: not p._identifiers.isdisjoint(ids),
            lambda p: bool(p.coverage_types) and any(
                self.valueset(p.coverage_types).contains(system, code) for system, code in facts.coverage_types),
            lambda p: p._has_folded_name(orgs),
            lambda p: p._has_folded_name(plans),
            lambda p: p._has_folded_name(displays),
        ]
        for step in steps:
            found = next((p for p in named if step(p)), None)
            if found is not None:
                return found
        return self.default_profile

    def valueset(self, name: str) -> ValueSet:
        return self.valuesets[name]

    def lexicon(self, name: str) -> Lexicon:
        return self.lexicons[name]


class ProfileSettings(BaseModel):
    """One `[profiles.<id>]` table as a TOML file writes it: every setting optional (unset ones are
    inherited), each of exactly its type (strict: `audit_units_over = "2"` is refused, not read
    as 2), no unknown keys. The meaning of each is on PayerProfile."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str | None = None
    based_on: str | None = None       # start from this profile's billing settings, not `default`'s
    units_method: Literal["cms", "per-code"] | None = None
    gp_required: bool | None = None
    zelis_59_gp: bool | None = None
    audit_units_over: NonNegativeInt | None = None
    audit_visits_over: NonNegativeInt | None = None
    initial_phase_days: NonNegativeInt | None = None
    max_modalities_initial: NonNegativeInt | None = None
    countersigners: list[str] | None = None
    medicare_coverage: bool | None = None
    paid_performers: str | None = None
    certification_days: NonNegativeInt | None = None    # 0 is off
    recertification_days: NonNegativeInt | None = None
    progress_report_days: NonNegativeInt | None = None
    aliases: list[str] | None = None
    identifiers: list[str] | None = None
    coverage_types: str | None = None
    name_contains: list[str] | None = None

    def settings(self) -> dict[str, Any]:
        """The settings the table states, as PayerProfile values (lists become tuples)."""
        stated = self.model_dump(exclude_unset=True, exclude={"based_on"})
        return {k: tuple(v) if isinstance(v, list) else v for k, v in stated.items()}


class PayerProfileFile(BaseModel):
    """A payer-profile TOML file: payers.toml, or a clinic's own (config PAYER_PROFILES)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    profiles: dict[str, ProfileSettings] = {}

    @classmethod
    def read(cls, path: str | Path) -> PayerProfileFile:
        """The file's profiles; ValueError naming the file and each bad field otherwise."""
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                                 for e in error.errors(include_url=False, include_input=False))
            raise ValueError(f"{path}: invalid payer profiles: {problems}") from None


# Settings that describe the payer itself, never inherited through `based_on`.
_OWN_KEYS = ("id", "name", "aliases", "identifiers", "coverage_types", "name_contains")


def _profiles_from(data: PayerProfileFile, base: dict[str, PayerProfile]) -> dict[str, PayerProfile]:
    """Profiles from one file over `base`. `based_on = "<id>"` starts a profile from another
    one's billing settings (Medicare Advantage from Medicare) instead of from `default`."""
    profiles = dict(base)
    default = data.profiles.get("default")
    defaults = default.settings() if default is not None else {}
    for pid, table in data.profiles.items():
        values = table.settings()
        merged: dict[str, Any] = {**defaults, **values} if pid != "default" else dict(values)
        if table.based_on is not None:
            if table.based_on not in profiles:
                raise ValueError(f"payer profile {pid!r}: based_on {table.based_on!r} is not defined before it")
            inherited = {k: v for k, v in profiles[table.based_on].__dict__.items() if k not in _OWN_KEYS}
            merged = {**inherited, **values}
        if pid in profiles:  # an override keeps what it does not restate
            merged = {**profiles[pid].__dict__, **values}
        merged["id"] = pid
        merged.setdefault("name", pid)
        profiles[pid] = PayerProfile(**merged)
    return profiles


def load_policy(extra_profiles: str | Path | None = None) -> Policy:
    """The shipped policy, with a clinic's payer-profile file over payers.toml when given.

    Raises ValueError naming the file and field for a profile setting of the wrong type or
    unknown, and OSError when a file cannot be read.
    """
    profiles = _profiles_from(PayerProfileFile.read(HERE / "payers.toml"), {})
    if extra_profiles:
        profiles = _profiles_from(PayerProfileFile.read(extra_profiles), profiles)
    valuesets = {}
    for path in sorted((HERE / "valuesets").glob("*.json")):
        valuesets[path.stem] = ValueSet(json.loads(path.read_text()))
    lexicons = {}
    for path in sorted((HERE / "lexicons").glob("*.toml")):
        with open(path, "rb") as fh:
            lexicons[path.stem] = Lexicon(path.stem, tomllib.load(fh)["terms"])
    for profile in profiles.values():
        named = [*profile.countersigners, *([profile.coverage_types] if profile.coverage_types else [])]
        missing = [n for n in named if n not in valuesets]
        if missing:
            raise ValueError(f"payer profile {profile.id!r}: unknown value sets {missing}")
        if profile.paid_performers not in valuesets:
            raise ValueError(f"payer profile {profile.id!r}: paid_performers names no value set "
                             f"({profile.paid_performers!r}); shipped: {sorted(valuesets)}")
    return Policy(profiles=profiles, valuesets=valuesets, lexicons=lexicons)
