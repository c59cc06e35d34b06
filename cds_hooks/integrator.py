"""Tools for integrators: load fixture data into a FHIR server, fire a fixture's hook at a service.

    cpt97124 fixtures load --fhir http://127.0.0.1:8090/fhir
    cpt97124 fire --service http://127.0.0.1:8080 --fixture <name> [--fhir http://127.0.0.1:8090/fhir]

With --fhir, `fire` sends no prefetch, so the service must fetch everything from that server
(as an EHR relying on the FHIR fallback would).
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import requests

TIMEOUT = (3.0, 30.0)
DEFAULT_TOKEN = "test-token"
FHIR_JSON = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


def _fixture_names(fixtures_dir: Path, names: list[str] | None, needs: str) -> list[str]:
    if names:
        return list(names)
    return sorted(p.parent.name for p in fixtures_dir.glob(f"*/{needs}"))


def _problem(response: requests.Response) -> str:
    """A short reason from an error response: its OperationOutcome diagnostics, else the status."""
    try:
        issues = response.json().get("issue") or []
        text = "; ".join(i.get("diagnostics", "") for i in issues if isinstance(i, dict))
    except (ValueError, AttributeError):
        text = ""
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


def load_fixtures(fhir_base: str, fixtures_dir: str | Path = "fixtures", names: list[str] | None = None) -> int:
    """POST each fixture's bundle.json (a transaction Bundle) to the server; 0 when all loaded."""
    root, failures = Path(fixtures_dir), 0
    selected = _fixture_names(root, names, "bundle.json")
    if not selected:
        print(f"no fixtures with bundle.json under {root}", file=sys.stderr)
        return 1
    for name in selected:
        path = root / name / "bundle.json"
        try:
            bundle = json.loads(path.read_text())
            resp = requests.post(fhir_base.rstrip("/"), json=bundle, headers=FHIR_JSON, timeout=TIMEOUT)
        except (OSError, ValueError) as error:  # missing/broken file or unreachable server
            print(f"{name}: FAILED ({type(error).__name__}: {error})")
            failures += 1
            continue
        if resp.ok:
            count = len(bundle.get("entry") or [])
            print(f"{name}: loaded {count} resource{'s' if count != 1 else ''}")
        else:
            print(f"{name}: FAILED ({_problem(resp)})")
            failures += 1
    return 1 if failures else 0


def as_ehr_without_prefetch(body: dict, fhir: str, token: str | None = None) -> dict:
    """The request an EHR sends when it leaves all fetching to the service."""
    body = {k: v for k, v in body.items() if k != "prefetch"}
    body["fhirServer"] = fhir.rstrip("/")
    body["fhirAuthorization"] = {"access_token": token or DEFAULT_TOKEN, "token_type": "Bearer",
                                 "expires_in": 300, "scope": "patient/*.read",
                                 "subject": "cpt97124-cds"}
    return body


def _service_for(service_base: str, hook: str) -> str | None:
    resp = requests.get(f"{service_base}/cds-services", timeout=TIMEOUT)
    resp.raise_for_status()
    return next((s["id"] for s in resp.json().get("services", []) if s.get("hook") == hook), None)


def fire(service_base: str, fixture_name: str, fhir: str | None = None,
         fixtures_dir: str | Path = "fixtures", token: str | None = None) -> int:
    """Send a fixture's request to the service as an EHR would and print the cards; 0 on HTTP 200."""
    service_base = service_base.rstrip("/")
    path = Path(fixtures_dir) / fixture_name / "request.json"
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        print(f"error: {path}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if fhir:
        body = as_ehr_without_prefetch(body, fhir, token)
    body["hookInstance"] = str(uuid.uuid4())  # each firing is a new hook instance
    try:
        service_id = _service_for(service_base, body.get("hook"))
        if service_id is None:
            print(f"error: the service offers no service for hook {body.get('hook')!r}", file=sys.stderr)
            return 1
        resp = requests.post(f"{service_base}/cds-services/{service_id}", json=body, timeout=TIMEOUT)
    except (requests.RequestException, ValueError) as error:
        print(f"error: cannot reach the service: {type(error).__name__}", file=sys.stderr)
        return 1
    if resp.status_code != 200:
        print(f"{service_id}: {_problem(resp)}")
        return 1
    cards = resp.json().get("cards", [])
    print(f"{service_id}: {len(cards)} card{'s' if len(cards) != 1 else ''}")
    for card in cards:
        code = ((card.get("source") or {}).get("topic") or {}).get("code", "?")
        print(f"  [{card.get('indicator', '?')}] {code}: {card.get('summary', '')}")
    return 0
