"""The EHR's side of CDS Hooks over HTTP: discovery, prefetch from the service's templates,
hook calls, feedback; every call kept as an Exchange (request, response, timing) for the panel.

Spec: https://cds-hooks.hl7.org/2.0/ (discovery, prefetch tokens, feedback). The FHIR server is
read with plain REST searches; the service's token for it is a fixed test value.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

import requests

from workbench.signing import LocalKey

TIMEOUT = (3.0, 30.0)
FHIR_TOKEN = "workbench-test-token"
FHIR_JSON = {"Accept": "application/fhir+json"}
MAX_PAGES = 20
_TOKEN = re.compile(r"\{\{context\.(\w+)\}\}")


class EhrError(Exception):
    """A call that could not be made or was refused; the message names the URL and the reason."""


@dataclass
class Exchange:
    label: str
    method: str
    url: str
    request: object = None
    status: int | None = None
    response: object = None
    ms: float = 0.0
    error: str | None = None
    signed: bool = False         # carried a JWT from the workbench's test key

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


def _body(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def render_template(template: str, context: dict) -> str | None:
    """A prefetch template with its {{context.x}} tokens filled (URL-quoted); None if one is unknown."""
    def fill(match: re.Match) -> str:
        value = context.get(match.group(1))
        if not isinstance(value, str) or not value:
            raise KeyError(match.group(1))
        return quote(value, safe="")
    try:
        return _TOKEN.sub(fill, template)
    except KeyError:
        return None


def resources(value: object) -> list[dict]:
    """The resources in a Bundle (search matches and includes, not the server's
    OperationOutcome), or the resource itself."""
    if not isinstance(value, dict):
        return []
    if value.get("resourceType") == "Bundle":
        return [e["resource"] for e in value.get("entry") or []
                if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                and e["resource"].get("resourceType") != "OperationOutcome"]
    return [value] if value.get("resourceType") else []


def search_warnings(bundle: object) -> list[str]:
    """What a FHIR server says it ignored in a search (OperationOutcome entries, mode outcome)."""
    out = []
    for entry in bundle.get("entry") or [] if isinstance(bundle, dict) else []:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(res, dict) and res.get("resourceType") == "OperationOutcome":
            out += [i.get("diagnostics", "") for i in res.get("issue") or [] if i.get("severity") != "information"]
    return [w for w in out if w]


@dataclass
class Ehr:
    """One EHR session: where the service and the FHIR server are, and how to sign calls."""

    service: str
    fhir: str | None = None
    key: LocalKey | None = None      # set: every call to the service carries a signed JWT
    exchanges: list[Exchange] = field(default_factory=list)
    _discovery: list[dict] | None = None

    def __post_init__(self):
        self.service = self.service.rstrip("/")
        self.fhir = self.fhir.rstrip("/") if self.fhir else None

    # -- plumbing ---------------------------------------------------------------------------

    def _call(self, label: str, method: str, url: str, body: object = None, headers: dict | None = None) -> Exchange:
        exchange = Exchange(label, method, url, body, signed="Authorization" in (headers or {}))
        started = time.perf_counter()
        try:
            response = requests.request(method, url, json=body, headers=headers or {}, timeout=TIMEOUT,
                                        allow_redirects=False)
            exchange.status, exchange.response = response.status_code, _body(response)
        except requests.RequestException as error:
            exchange.error = f"cannot reach {url}: {type(error).__name__}"
        exchange.ms = round((time.perf_counter() - started) * 1000, 1)
        self.exchanges.append(exchange)
        del self.exchanges[:-60]  # the panel shows recent calls only
        return exchange

    def _service_headers(self, url: str) -> dict:
        return {"Authorization": f"Bearer {self.key.token(url)}"} if self.key else {}

    def _service_call(self, label: str, method: str, path: str, body: object = None) -> Exchange:
        url = f"{self.service}{path}"
        return self._call(label, method, url, body, self._service_headers(url))

    # -- FHIR -------------------------------------------------------------------------------

    def fhir_get(self, query: str, label: str | None = None) -> object:
        """GET `Type?params` or `Type/id` on the FHIR server; the JSON body, or EhrError.

        A searchset's further pages (`next` links on the same server, at most MAX_PAGES) are
        read and merged into one Bundle, as an EHR resolving a prefetch template would."""
        if not self.fhir:
            raise EhrError("no FHIR server is set")
        label = label or f"FHIR {query.split('?')[0]}"
        body = self._fhir_page(label, f"{self.fhir}/{query}")
        page = body
        for _ in range(MAX_PAGES - 1):
            links = page.get("link") or [] if isinstance(page, dict) else []
            url = next((k.get("url") for k in links if isinstance(k, dict) and k.get("relation") == "next"), None)
            if not (isinstance(url, str) and url.startswith(self.fhir + "/")):
                break
            page = self._fhir_page(f"{label} (next page)", url)
            if isinstance(page, dict):
                body.setdefault("entry", []).extend(page.get("entry") or [])
        return body

    def _fhir_page(self, label: str, url: str) -> object:
        exchange = self._call(label, "GET", url, headers=FHIR_JSON)
        if not exchange.ok:
            raise EhrError(exchange.error or f"{exchange.url}: HTTP {exchange.status}")
        return exchange.response

    def fhir_search(self, query: str) -> list[dict]:
        return resources(self.fhir_get(query))

    # -- CDS Hooks --------------------------------------------------------------------------

    def services(self) -> list[dict]:
        if self._discovery is None:
            exchange = self._service_call("discovery", "GET", "/cds-services")
            if not exchange.ok or not isinstance(exchange.response, dict):
                hint = (" (a production-mode service: tick \"sign calls with the test key\")"
                        if exchange.status == 401 and not self.key else "")
                raise EhrError(exchange.error or f"{exchange.url}: HTTP {exchange.status}{hint}")
            self._discovery = exchange.response.get("services") or []
        return self._discovery

    def service_for(self, hook: str) -> dict:
        found = next((s for s in self.services() if s.get("hook") == hook
                      or (hook == "claim-prepare" and str(s.get("hook", "")).endswith("claim-prepare"))), None)
        if found is None:
            raise EhrError(f"{self.service}/cds-services offers no service for hook {hook!r}")
        return found

    def prefetch(self, service: dict, context: dict) -> dict:
        """Each of the service's prefetch templates run on the FHIR server, as an EHR does."""
        out = {}
        for key, template in (service.get("prefetch") or {}).items():
            query = render_template(template, context)
            if query is None:
                continue
            try:
                out[key] = self.fhir_get(query, label=f"prefetch {key}")
            except EhrError:
                out[key] = None  # CDS Hooks: null means the EHR could not get it
        return out

    def fire(self, hook: str, context: dict, prefetch: dict | None, with_fhir: bool) -> tuple[dict, Exchange]:
        """Call the hook's service; (the service definition, the exchange). The body follows 2.0."""
        service = self.service_for(hook)
        body: dict = {"hookInstance": str(uuid.uuid4()), "hook": service["hook"], "context": context}
        if with_fhir and self.fhir:
            body["fhirServer"] = self.fhir
            body["fhirAuthorization"] = {"access_token": FHIR_TOKEN, "token_type": "Bearer", "expires_in": 300,
                                         "scope": "patient/*.read", "subject": service["id"]}
        if prefetch is not None:
            body["prefetch"] = prefetch
        return service, self._service_call(f"{hook} → {service['id']}", "POST", f"/cds-services/{service['id']}", body)

    def feedback(self, service_id: str, card_uuid: str, outcome: str, suggestion: str | None = None,
                 reason: dict | None = None, comment: str | None = None) -> Exchange:
        item: dict = {"card": card_uuid, "outcome": outcome,
                      "outcomeTimestamp": datetime.now(UTC).isoformat(timespec="seconds")}
        if suggestion:
            item["acceptedSuggestions"] = [{"id": suggestion}]
        if reason or comment:
            item["overrideReason"] = {k: v for k, v in (("reason", reason), ("userComment", comment)) if v}
        return self._service_call(f"feedback {outcome}", "POST", f"/cds-services/{service_id}/feedback",
                                  {"feedback": [item]})


def redacted(value: object) -> str:
    """JSON for the panel, with the FHIR access token masked (it is a test token, but a habit)."""
    text = json.dumps(value, indent=2, ensure_ascii=False) if not isinstance(value, str) else value
    return text.replace(FHIR_TOKEN, "•••")
