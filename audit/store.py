"""Group an export by patient on disk, so memory stays flat however large the export grows.

Why SQLite: it ships with Python (no new dependency), keeps each resource as the JSON line it
arrived as, and its B-tree index on the patient column hands the resources back patient by
patient in one ordered scan, with a bounded page cache. The joins grouping needs (a Provenance
belongs to the patient of what it targets; a Practitioner, PractitionerRole, Organization or
Binary belongs to every patient whose resources reference it) are one SQL statement each. DuckDB
would add a dependency built for column scans, not for handing back whole rows by key;
hand-written sorted runs would be home-made code for what an index already does.

The results (one row per audited Claim and per finding) go to the same database, so the CSV
files come out in claim order and the report's totals are SQL aggregates.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.source import Line, Problem
from plugin import CPT, KNOWN_TYPES, MASSAGE, id_part, ref_key

# Resources that belong to no single patient: a patient's record takes those it references.
SHARED = frozenset({"Practitioner", "PractitionerRole", "Organization", "Binary"})
# Where each type names its patient (FHIR R4 compartment Patient; Coverage: its beneficiary).
PATIENT_FIELDS = {"Claim": "patient", "Coverage": "beneficiary"}
BATCH_ROWS = 5_000

SCHEMA = """
CREATE TABLE resources (type TEXT NOT NULL, ref TEXT, patient TEXT, body TEXT NOT NULL, place TEXT NOT NULL);
CREATE TABLE refs (src INTEGER NOT NULL, target TEXT NOT NULL);
CREATE TABLE claims (ref TEXT PRIMARY KEY, patient TEXT);
CREATE TABLE problems (place TEXT NOT NULL, reason TEXT NOT NULL, UNIQUE (place, reason));
CREATE TABLE counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE audited (claim_id TEXT PRIMARY KEY, patient_id TEXT, service_date TEXT,
  payer_profile TEXT, findings INTEGER, worst_indicator TEXT, units_billed INTEGER,
  units_supported INTEGER, net REAL, currency TEXT);
CREATE TABLE findings (claim_id TEXT, patient_id TEXT, service_date TEXT, payer_profile TEXT,
  rule TEXT, indicator TEXT, summary TEXT, position INTEGER);
"""
INDEXES = """
CREATE INDEX resources_patient ON resources (patient);
CREATE INDEX resources_ref ON resources (ref);
CREATE INDEX refs_src ON refs (src);
CREATE INDEX claims_patient ON claims (patient);
"""


# Reference.reference values, read from the line's text: several times faster than walking the
# parsed JSON, and exact for the `Type/id` and URL forms that can name a stored resource.
# An attachment names its Binary by `url`: a reference too, for grouping.
_REFERENCE = re.compile(r'"reference"\s*:\s*"([^"\\]+)"|"url"\s*:\s*"([^"\\]*Binary/[^"\\]+)"')


def _patient_of(resource: dict) -> str | None:
    rtype = resource["resourceType"]
    if rtype == "Patient":
        return resource.get("id")
    field = PATIENT_FIELDS.get(rtype)
    who = resource.get(field) if field else resource.get("subject") or resource.get("patient")
    key = ref_key(who.get("reference")) if isinstance(who, dict) else None
    return id_part(key) if key and key.startswith("Patient/") else None


def massage_item(item: Any) -> bool:
    """Whether a Claim.item (JSON) bills CPT 97124."""
    product = item.get("productOrService") if isinstance(item, dict) else None
    codings = product.get("coding") if isinstance(product, dict) else None
    return any(isinstance(c, dict) and c.get("system") == CPT and c.get("code") == MASSAGE
               for c in (codings if isinstance(codings, list) else []))


def bills_massage(claim: dict) -> bool:
    """Whether a Claim has a CPT 97124 line (read from the JSON, before any validation)."""
    items = claim.get("item")
    return any(massage_item(item) for item in (items if isinstance(items, list) else []))


@dataclass(frozen=True)
class PatientGroup:
    """One patient's resources (JSON lines, export order) and the 97124 Claims to audit."""

    patient: str
    claims: tuple[str, ...]      # Claim ids
    lines: tuple[str, ...]
    places: tuple[str, ...]      # where each line is in the export ("Procedure.001.ndjson:17")


class Store:
    def __init__(self, path: Path):
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -32768")   # 32 MB of pages at most
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- loading ---------------------------------------------------------------------------
    def load(self, items: Iterable[Line | Problem]) -> None:
        """Store every resource the rules read; count and list the lines skipped."""
        counts = {"lines": 0, "ignored": 0, "malformed": 0}
        self.db.execute("BEGIN")
        for n, item in enumerate(items, start=1):
            counts["lines"] += 1
            if isinstance(item, Problem):
                counts["malformed"] += 1
                self.problem(item)
            elif item.resource["resourceType"] in KNOWN_TYPES:
                self._add(item)
            else:
                counts["ignored"] += 1   # a type no rule reads: recognised and left
            if n % BATCH_ROWS == 0:
                self.db.execute("COMMIT")
                self.db.execute("BEGIN")
        self.db.executemany("INSERT INTO counts VALUES (?, ?)", counts.items())
        self.db.execute("COMMIT")

    def index(self) -> None:
        """Once everything is loaded: index by patient and reference, give each Provenance its patient."""
        self.db.executescript(INDEXES)
        self._provenance_patients()

    def _add(self, line: Line) -> None:
        resource = line.resource
        rtype, rid = resource["resourceType"], resource.get("id")
        ref = f"{rtype}/{rid}" if rid else None
        patient = _patient_of(resource)
        row = self.db.execute("INSERT INTO resources VALUES (?, ?, ?, ?, ?)",
                              (rtype, ref, patient, line.text, line.where))
        targets = {key for pair in _REFERENCE.findall(line.text) if (key := ref_key(pair[0] or pair[1]))
                   and (rtype == "Provenance" or key.split("/", 1)[0] in SHARED)}
        self.db.executemany("INSERT INTO refs VALUES (?, ?)", ((row.lastrowid, t) for t in targets))
        if rtype == "Claim" and ref and bills_massage(resource):
            if patient is None:
                self.problem(Problem(ref, "Claim names no Patient: not audited"))
            elif resource.get("status") == "entered-in-error":   # never a claim: nothing to audit
                self.problem(Problem(ref, "Claim entered in error: not audited"))
            else:
                self.db.execute("INSERT OR IGNORE INTO claims VALUES (?, ?)", (ref, patient))

    def _provenance_patients(self) -> None:
        """A Provenance belongs to the patient of the first resource it targets that has one."""
        self.db.execute("""
            UPDATE resources SET patient = (
              SELECT r.patient FROM refs t JOIN resources r ON r.ref = t.target
              WHERE t.src = resources.rowid AND r.patient IS NOT NULL LIMIT 1)
            WHERE type = 'Provenance' AND patient IS NULL""")

    def problem(self, problem: Problem) -> None:
        self.db.execute("INSERT OR IGNORE INTO problems VALUES (?, ?)", (problem.where, problem.reason))

    # -- grouping --------------------------------------------------------------------------
    def claim_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM claims").fetchone()[0]

    def groups(self) -> Iterator[PatientGroup]:
        """Patient by patient (those with a 97124 Claim): their resources, then the shared
        resources they reference (and those these reference, e.g. a role's Practitioner)."""
        reader = sqlite3.connect(self.path)   # a second connection: results are written meanwhile
        try:
            patients = reader.execute("SELECT DISTINCT patient FROM claims ORDER BY patient")
            for (patient,) in patients:
                claims = tuple(id_part(r[0]) for r in reader.execute(
                    "SELECT ref FROM claims WHERE patient = ? ORDER BY ref", (patient,)))
                rows = reader.execute("SELECT body, place FROM resources WHERE patient = ? ORDER BY rowid",
                                      (patient,)).fetchall()
                # CROSS JOIN (SQLite keeps that order) and `+` (no index on patient): each wanted
                # ref is looked up by index; scanning the shared rows would cost O(export) per patient.
                shared = reader.execute("""
                    WITH RECURSIVE wanted(ref) AS (
                      SELECT t.target FROM resources r JOIN refs t ON t.src = r.rowid WHERE r.patient = ?
                      UNION
                      SELECT t.target FROM wanted w JOIN resources r ON r.ref = w.ref
                        JOIN refs t ON t.src = r.rowid WHERE +r.patient IS NULL)
                    SELECT r.body, r.place FROM wanted w CROSS JOIN resources r ON r.ref = w.ref
                    WHERE +r.patient IS NULL ORDER BY r.rowid""", (patient,))
                rows += shared.fetchall()
                yield PatientGroup(patient, claims, tuple(r[0] for r in rows), tuple(r[1] for r in rows))
        finally:
            reader.close()

    # -- results ---------------------------------------------------------------------------
    def save(self, results: Iterable[dict]) -> None:
        self.db.execute("BEGIN")
        for result in results:
            for problem in result["problems"]:
                self.problem(Problem(*problem))
            claim = result["claim"]
            if claim is None:
                continue
            self.db.execute("INSERT OR REPLACE INTO audited VALUES (?,?,?,?,?,?,?,?,?,?)", claim)
            self.db.executemany("INSERT INTO findings VALUES (?,?,?,?,?,?,?,?)", result["findings"])
        self.db.execute("COMMIT")

    def finish(self) -> None:
        """Index the findings by claim, once all are in: the files and the report read them so."""
        self.db.execute("CREATE INDEX findings_claim ON findings (claim_id, position)")

    def query(self, sql: str, *args: Any) -> list[tuple]:
        """All rows of a query: for aggregates and other small answers."""
        return self.db.execute(sql, args).fetchall()

    def stream(self, sql: str) -> Iterator[tuple]:
        """The rows of a query one at a time: for answers that grow with the export."""
        yield from self.db.execute(sql)
