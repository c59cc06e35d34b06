"""Read a FHIR Bulk Data export folder as a stream of resources, one NDJSON line at a time.

An export is a folder of `<Type>[.<part>].ndjson` files, gzip-compressed or not, any number
per resource type (https://hl7.org/fhir/uv/bulkdata/export.html#file-request). A line that is
not a JSON object with a `resourceType` is a `Problem`: skipped, counted, named by file and
line, never fatal. A folder or file that cannot be read at all is a `SourceError`.
"""
from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".ndjson", ".ndjson.gz")


class SourceError(Exception):
    """The export cannot be read: no such folder, no NDJSON file in it, a file unreadable."""


@dataclass(frozen=True)
class Problem:
    """A line or resource skipped. `reason` names what is wrong, never the data (no PHI)."""

    where: str   # "Procedure.001.ndjson:17", or the resource's `Type/id`
    reason: str


@dataclass(frozen=True)
class Line:
    where: str
    resource: dict
    text: str    # the line as read, stored as is for the evaluation


def export_files(source: Path) -> list[Path]:
    """The export's NDJSON files, in name order; SourceError when there are none."""
    if not source.is_dir():
        raise SourceError(f"{source}: not a folder (give the folder a Bulk Data export was saved to)")
    try:
        files = sorted(p for p in source.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
    except OSError as error:
        raise SourceError(f"{source}: cannot list the folder ({error.strerror})") from None
    if not files:
        raise SourceError(f"{source}: no .ndjson or .ndjson.gz files in this folder")
    return files


def read_lines(path: Path) -> Iterator[Line | Problem]:
    """Each non-blank line of one file, parsed; SourceError when the file cannot be read through."""
    opener = gzip.open if path.name.endswith(".gz") else open
    number = 0
    try:
        with opener(path, "rb") as stream:
            for number, raw in enumerate(stream, start=1):
                if raw.strip():
                    yield _parse(f"{path.name}:{number}", raw)
    except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        where = f"after line {number}" if number else "from its start"
        raise SourceError(f"{path}: cannot be read {where} ({reason})") from None


def _parse(where: str, raw: bytes) -> Line | Problem:
    try:
        text = raw.decode("utf-8")
        resource = json.loads(text)
    except UnicodeDecodeError:
        return Problem(where, "not UTF-8 text")
    except (ValueError, RecursionError):
        return Problem(where, "not valid JSON")
    if not isinstance(resource, dict):
        return Problem(where, "not a JSON object")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str) or not rtype:
        return Problem(where, "no resourceType")
    rid = resource.get("id")
    if rid is not None and (not isinstance(rid, str) or not rid):
        return Problem(where, f"{rtype}: id is not a string")
    return Line(where, resource, text)


def read_export(source: Path) -> Iterator[Line | Problem]:
    """Every line of every file of the export, file by file."""
    for path in export_files(source):
        yield from read_lines(path)
