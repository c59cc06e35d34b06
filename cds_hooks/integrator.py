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


def problem(response: requests.Response) -> str:
    """A short reason from an error response: its OperationOutcome diagnostics, else the status."""
    try:
        issues = response.json().get("issue") or []
        text = "; ".join(i.get("diagnostics", "") for i in issues if isinstance(i, dict))
    except (ValueError, AttributeError):
        text = ""
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


def load_fixtures(fhir_base: str, fixtures_dir: str | Path = "fixtures", names: list[str] | None = None) -> int:
    """POST each fixture's bundle.json (a transaction Bundle) to the server; 0 when all loaded."""
    root, failures, fhir_base = Path(fixtures_dir), 0, fhir_base.rstrip("/")
    selected = _fixture_names(root, names, "bundle.json")
    if not selected:
        print(f"error: no fixtures with bundle.json under {root.resolve()}", file=sys.stderr)
        return 1
    for name in selected:
        path = root / name / "bundle.json"
        try:
            bundle = json.loads(path.read_text())
        except (OSError, ValueError) as error:  # missing or broken file
            print(f"{name}: FAILED ({path}: {getattr(error, 'strerror', None) or error})")
            failures += 1
            continue
        try:
            resp = requests.post(fhir_base, json=bundle, headers=FHIR_JSON, timeout=TIMEOUT)
        except requests.RequestException as error:  # the server is down: every other fixture would fail too
            print(f"{name}: FAILED (cannot reach the FHIR server at {fhir_base}: {_why(error)})")
            print(f"error: cannot reach the FHIR server at {fhir_base}; nothing more loaded", file=sys.stderr)
            return 1
        if resp.ok:
            count = len(bundle.get("entry") or [])
            print(f"{name}: loaded {count} resource{'s' if count != 1 else ''}")
        else:
            print(f"{name}: FAILED ({problem(resp)})")
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


def fixture_folder(fixture: str, fixtures_dir: str | Path) -> Path:
    """A fixture given by name (a folder under `fixtures_dir`) or by the path of its folder."""
    for folder in (Path(fixture), Path(fixtures_dir) / fixture):
        if (folder / "request.json").is_file():
            return folder
    raise FileNotFoundError(f"no fixture {fixture!r}: neither a folder holding request.json nor a "
                            f"fixture name under {Path(fixtures_dir).resolve()}")


def discover(service_base: str) -> dict[str, str]:
    """hook -> service id from the service's discovery; ConnectionError naming the URL."""
    url = f"{service_base}/cds-services"
    try:
        resp = requests.get(url, timeout=TIMEOUT)
        resp.raise_for_status()
        return {s.get("hook"): s.get("id") for s in resp.json().get("services", [])}
    except (requests.RequestException, ValueError, AttributeError) as error:
        raise ConnectionError(f"cannot read discovery at {url}: {_why(error)}") from None


def _why(error: Exception) -> str:
    """Why a call failed, in words an integrator can act on."""
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return problem(error.response)
    if isinstance(error, requests.ConnectionError):
        return "connection refused or host unreachable (is it running?)"
    if isinstance(error, requests.Timeout):
        return "timed out"
    return type(error).__name__


def post_hook(service_base: str, services: dict[str, str], body: dict) -> tuple[str, requests.Response]:
    """POST a hook request (as a new hookInstance) to the service for its hook: (service id, response)."""
    hook = body.get("hook")
    # A deployment may register claim-prepare under a reverse-domain name (docs/hooks/claim-prepare.md).
    service_id = services.get(str(hook)) or next((i for h, i in services.items() if str(h).endswith(f".{hook}")), None)
    if service_id is None:
        raise LookupError(f"the service at {service_base} offers no service for hook {hook!r}")
    url = f"{service_base}/cds-services/{service_id}"
    try:
        return service_id, requests.post(url, json={**body, "hookInstance": str(uuid.uuid4())}, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise ConnectionError(f"cannot call {url}: {_why(error)}") from None


def request_body(folder: Path, fhir: str | None, token: str | None) -> dict:
    """A fixture's request: with its prefetch, or (given `fhir`) as an EHR leaving fetching to the service."""
    body = json.loads((folder / "request.json").read_text())
    return as_ehr_without_prefetch(body, fhir, token) if fhir else body


def fire(service_base: str, fixture: str, fhir: str | None = None,
         fixtures_dir: str | Path = "fixtures", token: str | None = None) -> int:
    """Send a fixture's request to the service as an EHR would and print the cards; 0 on HTTP 200."""
    service_base = service_base.rstrip("/")
    try:
        folder = fixture_folder(fixture, fixtures_dir)
        body = request_body(folder, fhir, token)
        service_id, resp = post_hook(service_base, discover(service_base), body)
    except (OSError, ValueError, LookupError) as error:  # OSError covers ConnectionError
        print(f"error: {error}", file=sys.stderr)
        return 1
    if resp.status_code != 200:
        print(f"{service_id}: {problem(resp)}")
        return 1
    cards = resp.json().get("cards", [])
    print(f"{service_id}: {len(cards)} card{'s' if len(cards) != 1 else ''}")
    for card in cards:
        print(f"  [{card.get('indicator', '?')}] {card_code(card)}: {card.get('summary', '')}")
    return 0


def card_code(card: dict) -> str:
    """The rule code a card carries (source.topic.code)."""
    return ((card.get("source") or {}).get("topic") or {}).get("code", "?")
