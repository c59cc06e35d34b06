"""How complete one prefetch key's data is, decided once (CDS Hooks 2.0 §Prefetch, FHIR R4 §3.1.1 search).

- COMPLETE: a resource, or a searchset with every page;
- EMPTY: `null` (the EHR has no data for the key) or a Bundle with no entries: nothing is missing;
- PARTIAL: a searchset whose `next` link was not followed: the first pages only;
- FAILED: an OperationOutcome, or a Bundle carrying an error/fatal OperationOutcome entry
  (search.mode `outcome`): the query itself failed; warnings are only warnings;
- UNAVAILABLE: failed or absent, and the FHIR server could not supply it either.

A rule that concludes something is absent reads only data that is COMPLETE or EMPTY.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Any


class Status(StrEnum):
    COMPLETE = "complete"
    EMPTY = "empty"
    PARTIAL = "partial"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"

    @property
    def usable(self) -> bool:
        """Whether the data is all there is (so an absence in it is a real absence)."""
        return self in (Status.COMPLETE, Status.EMPTY)


_ERRORS = {"error", "fatal"}


def failed_outcome(resource: Any) -> bool:
    """An OperationOutcome with an error or fatal issue (or no readable issue at all)."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return False
    issues = resource.get("issue")
    issues = [i for i in issues if isinstance(i, dict)] if isinstance(issues, list) else []
    return not issues or any(i.get("severity") in _ERRORS for i in issues)


def next_link(bundle: Any) -> str | None:
    """The `next` page URL of a Bundle, if any."""
    links = bundle.get("link") if isinstance(bundle, dict) else None
    for link in links if isinstance(links, list) else []:
        url = link.get("url") if isinstance(link, dict) and link.get("relation") == "next" else None
        if isinstance(url, str):
            return url
    return None


def classify(value: Any) -> Status:
    """The status of one prefetch value as the EHR sent it (or as a FHIR search returned it)."""
    if value is None:
        return Status.EMPTY
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return Status.FAILED  # not a FHIR resource: nothing can be read from it
    if value["resourceType"] == "OperationOutcome":
        return Status.FAILED
    if value["resourceType"] != "Bundle":
        return Status.COMPLETE
    entries = value.get("entry")
    entries = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
    if any(failed_outcome(e.get("resource")) for e in entries):
        return Status.FAILED
    if next_link(value) is not None:
        return Status.PARTIAL
    data = [e for e in entries if isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") != "OperationOutcome"]
    return Status.COMPLETE if data else Status.EMPTY
