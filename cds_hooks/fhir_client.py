"""FHIR server fallback: run the searches the prefetch did not answer.

(First cut: sequential, one page. Parallel queries, paging, deadline and allowlist follow.)
"""
from __future__ import annotations

import requests

from cds_hooks.config import Config


class FhirClient:
    def __init__(self, base: str, token: str | None, config: Config):
        self.base, self.config = base.rstrip("/"), config
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/fhir+json"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def search_all(self, queries: dict[str, str]) -> tuple[dict, list[str]]:
        out, failed = {}, []
        for key, query in queries.items():
            try:
                resp = self.session.get(f"{self.base}/{query}",
                                        timeout=(self.config.fhir_connect_timeout, self.config.fhir_read_timeout))
                resp.raise_for_status()
                out[key] = resp.json()
            except (requests.RequestException, ValueError):
                failed.append(key)
        return out, failed

    def follow_up_queries(self, context: dict, data: dict) -> dict[str, str]:
        return {}
