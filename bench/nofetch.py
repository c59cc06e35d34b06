"""The no-prefetch path: the service fetches everything from a real local FHIR server.

For each of a few distinct patients: load the visit into the FHIR server, post the hook with
`fhirServer` and no prefetch, read the queries the service made from the FHIR server's access
log, then time each of those queries on its own.
"""
from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import requests

from bench.bodies import visit
from cds_hooks.services import SERVICES


def _load(base: str, resources: list[dict]) -> None:
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in resources]
    response = requests.post(base, json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                             timeout=30)
    response.raise_for_status()


def _queries_seen(log: Path, offset: int) -> list[str]:
    """The GET queries the FHIR server logged after `offset`: exactly what the service asked for."""
    time.sleep(0.05)  # the access log line follows the response
    with log.open("rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return [m for m in re.findall(r'"GET /fhir/(\S+) HTTP', text)]


def _query_times(session: requests.Session, base: str, queries: list[str], repeats: int = 3) -> list[float]:
    """Seconds of each query on its own (median of `repeats` timings)."""
    out = []
    for query in queries:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            session.get(f"{base}/{query}", timeout=10).raise_for_status()
            times.append(time.perf_counter() - t0)
        out.append(statistics.median(times))
    return out


def measure(service_url: str, fhir_base: str, fhir_log: Path, hook: str, patients: int,
            first: int) -> dict[str, float]:
    service = next(s for s in SERVICES.values() if s.hook == hook)
    session = requests.Session()
    session.headers["Accept"] = "application/fhir+json"
    latencies, slowest, total, failures, counts = [], [], [], 0, []
    for n in range(first, first + patients):
        v = visit(n)
        _load(fhir_base, v.resources)
        request = v.request(hook)
        del request["prefetch"]
        request["fhirServer"] = fhir_base
        offset = fhir_log.stat().st_size
        t0 = time.perf_counter()
        response = requests.post(f"{service_url}/cds-services/{service.id}", json=request, timeout=60)
        latencies.append(time.perf_counter() - t0)
        failures += response.status_code != 200
        queries = _queries_seen(fhir_log, offset)
        counts.append(len(queries))
        times = _query_times(session, fhir_base, queries) or [0.0]
        slowest.append(max(times))
        total.append(sum(times))
    return {"latency": statistics.median(latencies), "slowest_query": statistics.median(slowest),
            "all_queries": statistics.median(total), "failures": failures, "queries": statistics.median(counts)}
