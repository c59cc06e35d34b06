"""Fixtures as a FHIR Bulk Data export: NDJSON files per resource type, as `$export` writes them.

    .venv/bin/python -m tests.bulk_export DIR     # every claim-prepare fixture as one export in DIR

tests/test_audit.py builds its exports with these functions; docs/audit.md's screenshots are of
`cpt97124 audit` over the export this writes.
"""
from __future__ import annotations

import gzip
import json
import sys
from collections import defaultdict
from pathlib import Path

from plugin import iter_resources

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
REQUESTS = {p.name: json.loads((p / "request.json").read_text())
            for p in sorted(FIXTURES.iterdir()) if (p / "request.json").is_file()}
CLAIM_FIXTURES = sorted(name for name, r in REQUESTS.items() if r["hook"] == "claim-prepare")


def resources_of(request: dict) -> list[dict]:
    """What the EHR holds for the fixture's patient: the claim and every prefetched resource."""
    return [request["context"]["claim"]] + [r for v in request["prefetch"].values() for r in iter_resources(v)]


def write_export(folder: Path, resources: list[dict], gzipped: frozenset[str] = frozenset(),
                 split: dict[str, int] | None = None, extra_lines: dict[str, list[str]] | None = None) -> Path:
    """Resources as Bulk Data NDJSON files, one per type (`Type.ndjson`), first copy of an id only;
    types in `gzipped` as .ndjson.gz, types in `split` over that many files (Type.000.ndjson...)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, dict] = defaultdict(dict)
    for resource in resources:
        by_type[resource["resourceType"]].setdefault(resource.get("id"), resource)
    for rtype, found in by_type.items():
        lines = [json.dumps(r) for r in found.values()] + (extra_lines or {}).get(rtype, [])
        parts = (split or {}).get(rtype, 1)
        for part in range(parts):
            name = f"{rtype}.{part:03d}.ndjson" if parts > 1 else f"{rtype}.ndjson"
            text = "".join(line + "\n" for line in lines[part::parts])
            if rtype in gzipped:
                (folder / f"{name}.gz").write_bytes(gzip.compress(text.encode()))
            else:
                (folder / name).write_text(text)
    return folder


def all_claim_fixtures() -> list[dict]:
    """The resources of every claim-prepare fixture, one after the other."""
    return [r for name in CLAIM_FIXTURES for r in resources_of(REQUESTS[name])]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.bulk_export DIR")
    print(write_export(Path(sys.argv[1]), all_claim_fixtures()))
