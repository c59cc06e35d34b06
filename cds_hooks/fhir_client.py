"""Read-only FHIR searches on the EHR's server, for what the prefetch did not bring.

Queries of one hook request run in parallel under one overall deadline. Paging follows `next`
links on the fhirServer's own origin only, so the EHR's token never travels to another host;
redirects are not followed for the same reason. Logs name keys, status codes and durations,
never URLs (they carry patient ids) or the token.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from cds_hooks import fhir_json
from cds_hooks.config import Config
from plugin import Status, classify, next_link

log = logging.getLogger("cpt97124.fhir")

MAX_WORKERS = 6
MAX_PAGE_BYTES = 32 * 1024 * 1024  # one page of a search; more is a broken or hostile server
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchFailed(Exception):
    """One key could not be had; the message is safe to log (no URL, no body)."""


# -- origins and the allowlist ------------------------------------------------------------------

def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in; None for anything not plain http(s).

    URLs carrying user:password are refused: requests would send those instead of the token.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or parts.username is not None:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, not an address: no DNS lookups here
        return False


def allowed_server(url: str, config: Config) -> bool:
    """Whether the service may call this fhirServer (origins compared, never resolved)."""
    target = origin(url)
    if target is None:
        return False
    if config.dev and is_loopback(target[1]):
        return True
    return any(origin(entry) == target for entry in config.fhir_allowlist)


# -- responses ----------------------------------------------------------------------------------

def _expected_type(query: str) -> str | None:
    """`Patient/123` is a read (expects a Patient); anything with `?` or no id is a search."""
    path = query.split("?", 1)[0].strip("/")
    parts = path.split("/")
    return parts[0] if "?" not in query and len(parts) == 2 else None


def _check_body(status: int, content: bytes, read_type: str | None) -> dict:
    """The page as JSON if it is what the query asks for (a Bundle, or the resource read)."""
    if status in (401, 403):
        raise FetchFailed(f"refused ({status})")
    if not 200 <= status < 300:
        raise FetchFailed(f"status {status}")
    try:
        body = fhir_json.loads(content)
    except (ValueError, RecursionError):
        raise FetchFailed("body is not JSON") from None
    kind = body.get("resourceType") if isinstance(body, dict) else None
    if kind == "OperationOutcome":
        raise FetchFailed("OperationOutcome")
    expected = read_type or "Bundle"
    if kind != expected:
        raise FetchFailed(f"expected {expected}, got {kind if isinstance(kind, str) else 'no resource'}")
    if kind == "Bundle" and not isinstance(body.get("entry", []), list):
        raise FetchFailed("Bundle.entry is not a list")
    if kind == "Bundle" and classify(body) is Status.FAILED:
        raise FetchFailed("OperationOutcome in Bundle")  # search.mode outcome, error or fatal
    return body


_next_link = next_link  # the one reading of paging links (plugin.completeness)


def merge_bundles(first: dict, more: dict) -> dict:
    """One searchset Bundle holding both Bundles' entries (paging links dropped)."""
    entries = list(first.get("entry") or []) + list(more.get("entry") or [])
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


# -- the client ---------------------------------------------------------------------------------

def new_session() -> requests.Session:
    """The HTTP session of one FhirClient: no proxies or .netrc credentials from the environment,
    no retries (the deadline is the client's), a connection per parallel query."""
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", HTTPAdapter(pool_maxsize=MAX_WORKERS, max_retries=0))
    session.mount("https://", HTTPAdapter(pool_maxsize=MAX_WORKERS, max_retries=0))
    return session


class FhirClient:
    """Searches one fhirServer for one hook request; its deadline spans every round of queries.

    `session` (default: new_session()) carries the HTTP; the client sets its headers and closes it.
    """

    def __init__(self, base: str, token: str | None, config: Config,
                 session: requests.Session | None = None):
        self.base, self.config = base.rstrip("/") + "/", config
        self.origin = origin(self.base)
        self.deadline = time.monotonic() + config.fhir_deadline
        self.session = session if session is not None else new_session()
        self.session.headers["Accept"] = "application/fhir+json"
        # Bodies are read raw (see _get) so they must come uncompressed.
        self.session.headers["Accept-Encoding"] = "identity"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def search_all(self, queries: dict[str, str]) -> tuple[dict, list[str]]:
        """Run the queries in parallel: (result by key, keys that failed or ran out of time)."""
        if not queries:
            return {}, []
        out: dict[str, dict] = {}
        pool = ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(queries)), thread_name_prefix="fhir")
        futures: dict[Future, str] = {pool.submit(self.fetch, key, q): key for key, q in queries.items()}
        pending = set(futures)
        try:
            while pending and self.remaining() > 0:
                done, pending = wait(pending, timeout=self.remaining(), return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()
                    if result is not None:
                        out[futures[future]] = result
        finally:
            # Stragglers end on their own socket timeouts, which never outlast the deadline much.
            pool.shutdown(wait=False, cancel_futures=True)
        for future in pending:
            log.warning(json_line(key=futures[future], outcome="deadline"))
        return out, sorted(k for k in queries if k not in out)

    def fetch(self, key: str, query: str) -> dict | None:
        """One query with its pages, merged; None (logged) when it fails."""
        started = time.monotonic()
        pages = 0
        try:
            url: str | None = urljoin(self.base, query.lstrip("/"))
            read_type, result = _expected_type(query), None
            while url is not None:
                if pages >= self.config.fhir_page_cap:
                    raise FetchFailed(f"more than {self.config.fhir_page_cap} pages")
                if origin(url) != self.origin:
                    raise FetchFailed("next page is on another origin; not followed")
                body = _check_body(*self._get(url), read_type)
                pages += 1
                result = body if result is None else merge_bundles(result, body)
                url = _next_link(body) if read_type is None else None
                if url is not None:
                    url = urljoin(self.base, url)
            log.info(json_line(key=key, outcome="ok", pages=pages, ms=_ms(started)))
            return result
        except FetchFailed as failure:
            log.warning(json_line(key=key, outcome=str(failure), pages=pages, ms=_ms(started)))
        except (requests.RequestException, ValueError) as error:  # ValueError: an unparsable next link
            log.warning(json_line(key=key, outcome=type(error).__name__, pages=pages, ms=_ms(started)))
        return None

    def _get(self, url: str) -> tuple[int, bytes]:
        """Status and body of one page; the body is read in chunks so a server that drips
        bytes slowly or sends without end still cannot outlast the deadline."""
        left = self.remaining()
        if left <= 0:
            raise FetchFailed("deadline")
        timeout = (min(self.config.fhir_connect_timeout, left), min(self.config.fhir_read_timeout, left))
        with self.session.get(url, timeout=timeout, allow_redirects=False, stream=True) as resp:
            if not 200 <= resp.status_code < 300:
                return resp.status_code, b""
            # read1 returns whatever has arrived, so the deadline is checked even when a server
            # drips bytes (each byte would reset the read timeout of a blocking full-chunk read).
            content, size = [], 0
            while chunk := resp.raw.read1(_CHUNK):
                size += len(chunk)
                if size > MAX_PAGE_BYTES:
                    raise FetchFailed("page too large")
                if self.remaining() <= 0:
                    raise FetchFailed("deadline")
                content.append(chunk)
            return resp.status_code, b"".join(content)


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def json_line(**fields) -> str:
    return json.dumps({"event": "fhir-fetch", **fields})
