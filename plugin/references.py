"""How a FHIR Reference string names a resource (FHIR R4 §2.3 References, §2.36.4 Bundle).

Every form names the same resource the same way:

- relative `Procedure/p1`; versioned `Procedure/p1/_history/2` (the version does not change
  which resource); inside a Bundle entry whose fullUrl is absolute, a relative reference names a
  resource on that entry's server (`Procedure/p1` in `https://x/fhir/Provenance/9` is
  `https://x/fhir/Procedure/p1`);
- absolute `https://ehr.example.org/fhir/Procedure/p1`: the same resource as the relative form
  when its base is the request's fhirServer, or a base the request's Bundles use in their
  `fullUrl`s; another server's resource otherwise;
- `urn:uuid:…` and any other `fullUrl` of a Bundle entry: that entry's resource;
- contained `#cov1`: the resource with that id inside the resource holding the reference.

Identifier-only and display-only references name no resource to read: a display is never data.
`plugin.record.Record.resolve` and `Record.key` apply these rules to the record's resources; this
module only parses.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from operator import methodcaller
from typing import Any
from urllib.parse import urlsplit

# `Type/id` at the end of a path, optionally followed by `/_history/version`.
_TAIL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?/?$")


def resource_key(raw: dict[str, Any]) -> str | None:
    """`Type/id` of a resource as JSON; None when it has no type or no id."""
    rtype, rid = raw.get("resourceType"), raw.get("id")
    return f"{rtype}/{rid}" if isinstance(rtype, str) and isinstance(rid, str) and rid else None


def id_part(key: str) -> str:
    """The id of a `Type/id` key (as logical_key gives it)."""
    return key.split("/", 1)[1]


def reference_string(reference: Any) -> str | None:
    """The `reference` of a Reference model, or a string as given; None for identifier/display only."""
    ref = getattr(reference, "reference", reference)
    return ref.strip() if isinstance(ref, str) and ref.strip() else None


def split(ref: str) -> tuple[str, str] | None:
    """(base, `Type/id`) of a relative, versioned or absolute reference; base is "" when relative.

    None for contained (`#id`), `urn:` references and anything that names no `Type/id`.
    """
    if ref.startswith("#") or ref.startswith("urn:"):
        return None
    match = _TAIL.search(ref)
    if match is None:
        return None
    base = ref[:match.start()].rstrip("/") if "://" in ref else ""
    if not base and match.start() > 0:
        return None  # a relative path with more segments in front is no FHIR reference
    return base, f"{match.group(1)}/{match.group(2)}"


def base_of(full_url: str) -> str | None:
    """The server base of an absolute `fullUrl` (`https://x/fhir/Type/id` -> `https://x/fhir`)."""
    parts = split(full_url) if "://" in full_url else None
    return parts[0] if parts else None


_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_IDS = re.compile(r"(?:[A-Za-z0-9\-.]{1,64}/)*")   # ids, each followed by a slash
_RPARTITION = methodcaller("rpartition", "/")


def bases_of(full_urls: Iterable[str]) -> set[str]:
    """The server bases of many fullUrls: {base_of(url)} without None, each path in front of an
    id parsed once. When a URL's last segment is a valid id, its base depends on the path in
    front of it only (the `Type/id` tail and the `_history` form are both decided there); a
    search page's thousands of fullUrls share one such path (their last segments are checked
    in one match, so that a chart's many fullUrls cost little)."""
    urls = list(full_urls)
    if not urls:
        return set()
    paths, _, lasts = zip(*map(_RPARTITION, urls), strict=True)
    if _IDS.fullmatch("/".join(lasts) + "/"):
        urls = list(dict(zip(paths, urls, strict=True)).values())   # one URL per path
    else:
        by_path: dict[str, str] = {}
        urls = [by_path.setdefault(path, url) if _ID.fullmatch(last) else url
                for path, last, url in zip(paths, lasts, urls, strict=True)]
    return {base for url in set(urls) if (base := base_of(url))}


def against(ref: str, base: str | None) -> str | None:
    """The absolute URL a relative reference names inside a Bundle entry whose fullUrl has server
    base `base` (FHIR R4 §2.36.4: `Procedure/1` in `https://x/fhir/Provenance/9` is
    `https://x/fhir/Procedure/1`), version dropped; None when not relative or there is no base."""
    parts = split(ref) if base else None
    return f"{base}/{parts[1]}" if parts is not None and not parts[0] else None


def canonical(url: str) -> str | None:
    """An absolute reference or fullUrl in one spelling (normal_base + `Type/id`, no version), to
    compare absolute URLs however they were written; None for anything else."""
    parts = split(url)
    return f"{normal_base(parts[0])}/{parts[1]}" if parts is not None and parts[0] else None


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normal_base(base: str) -> str:
    """A server base in one spelling: case folded, no trailing slash, no default port
    (`HTTPS://Ehr.example.org:443/fhir/` is `https://ehr.example.org/fhir`)."""
    parts = urlsplit(base.strip())
    try:
        port = parts.port
    except ValueError:  # a malformed port: compare the text as it is
        port = None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return base.strip().rstrip("/").lower()
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/').lower()}"


def logical_key(ref: str, local_bases: Iterable[str] | None = None) -> str | None:
    """`Type/id` for a reference to a resource of the request's own server, else None.

    `local_bases` are the bases that count as the request's server (normalised with
    normal_base); None means nothing tells the servers apart, so every absolute URL counts.
    """
    parts = split(ref)
    if parts is None:
        return None
    base, key = parts
    if base and local_bases is not None and normal_base(base) not in local_bases:
        return None  # another server's resource
    return key
