"""The service in process, with the clinic payer profile the fixtures name, and a poster that
sends JSON with exact decimals (as an EHR writes them)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cds_hooks import fhir_json, hook_body
from plugin import load_policy

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
SCENARIOS = sorted(p for p in FIXTURES.iterdir() if (p / "expected.json").is_file())
SERVICES = {"order-sign": "massage-97124-order-check", "claim-prepare": "massage-97124-claim-check"}


def fixture_request(folder: Path) -> dict:
    return fhir_json.loads((folder / "request.json").read_bytes())


@pytest.fixture(scope="session")
def policy():
    return load_policy(extra_profiles=FIXTURES / "payer-profiles.toml")


@pytest.fixture
def send(client, monkeypatch):
    """POST a request to its hook's service: (status, answer JSON with decimals exact). Every body
    is read by the scanning reader (cds_hooks/hook_body.py), which otherwise skips small bodies:
    the field's forms and the irrelevance properties then prove it too."""
    monkeypatch.setattr(hook_body, "MIN_BYTES", 0)
    def call(body: dict) -> tuple[int, dict]:
        response = client.post(f"/cds-services/{SERVICES[body['hook']]}", data=fhir_json.dumps(body),
                               content_type="application/json")
        return response.status_code, fhir_json.loads(response.get_data())
    return call


def codes(answer: dict) -> set[str]:
    return {c["source"]["topic"]["code"] for c in answer.get("cards", [])}


def load_json(path: Path) -> dict:
    return json.loads(path.read_text())
