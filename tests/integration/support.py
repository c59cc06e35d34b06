"""Helpers the integration tests share: ports, transaction Bundles, card codes."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def transaction(resources: list[dict]) -> dict:
    """A FHIR transaction Bundle that PUTs each resource at its own id."""
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                      for r in resources]}


def load(fhir_base: str, resources: list[dict]) -> None:
    resp = requests.post(fhir_base, json=transaction(resources), headers=FHIR_JSON, timeout=30)
    assert resp.status_code == 200, resp.text[:500]


FHIR_JSON = {"Content-Type": "application/fhir+json"}


@contextmanager
def loaded(fhir_base: str, bundle: dict) -> Iterator[None]:
    """Load a transaction Bundle, and delete what it created afterwards.

    Fixtures may share patient ids; removing each one's data keeps searches from mixing them.
    """
    resp = requests.post(fhir_base, json=bundle, headers=FHIR_JSON, timeout=30)
    assert resp.ok, f"transaction rejected by the FHIR server ({resp.status_code}): {resp.text[:300]}"
    created = []
    for entry in resp.json().get("entry") or []:
        location = (entry.get("response") or {}).get("location") or ""
        parts = location.split("/_history")[0].rstrip("/").split("/")
        if len(parts) >= 2:
            created.append(f"{parts[-2]}/{parts[-1]}")
    try:
        yield
    finally:
        requests.post(fhir_base, headers=FHIR_JSON, timeout=30, json={
            "resourceType": "Bundle", "type": "transaction",
            "entry": [{"request": {"method": "DELETE", "url": ref}} for ref in created]})


def card_codes(response: requests.Response) -> list[str]:
    return sorted(c["source"]["topic"]["code"] for c in response.json()["cards"])


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
