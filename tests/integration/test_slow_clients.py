"""Slow or hostile clients cannot starve the service (the shipped serving model, for real).

50 connections each send one request header line a second for 20 s (a slowloris); meanwhile
/healthz must answer within 2 s at least 95% of the time, and a normal hook call within 5 s.
Liveness does not wait behind hook calls stuck on a slow FHIR server either, and a chunked body
over the size limit is refused whole instead of being cut and evaluated.
"""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from cds_hooks.integrator import as_ehr_without_prefetch
from tests.integration.served import CLAIM_SERVICE, claim_request, serve
from tests.integration.slowloris import HOLD_SECONDS, under_slow_clients

pytestmark = pytest.mark.integration


def test_slow_header_clients_do_not_starve_health_or_hooks(tmp_path):
    with serve(tmp_path, {"CPT97124_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}) as served:
        probe = under_slow_clients(served.base, served.port)
    print("\n" + probe.summary())
    assert probe.slow["rounds"] >= HOLD_SECONDS - 2, "50 slow connections were kept up all along"
    assert len(probe.health) >= 20 and probe.health_within_2s >= 0.95 * len(probe.health)
    assert probe.hooks and all(status == 200 and seconds <= 5.0 for status, seconds in probe.hooks)


def test_health_does_not_wait_behind_hook_calls_on_a_slow_fhir_server(tmp_path, broken_fhir):
    env = {"CPT97124_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite", "CPT97124_FHIR_DEADLINE": "5",
           "CPT97124_FHIR_READ_TIMEOUT": "5"}
    with serve(tmp_path, env) as served:
        def stuck_call() -> None:
            body = as_ehr_without_prefetch(claim_request(), f"{broken_fhir}/slow/fhir")
            requests.post(served.base + CLAIM_SERVICE, json=body, timeout=30)

        calls = [threading.Thread(target=stuck_call) for _ in range(6)]
        for call in calls:
            call.start()
        time.sleep(1.0)  # all six are now waiting on the FHIR server
        t0 = time.monotonic()
        assert requests.get(served.base + "/healthz", timeout=5).status_code == 200
        waited = time.monotonic() - t0
        assert all(call.is_alive() for call in calls), "the hook calls must still be waiting"
        for call in calls:
            call.join()
    assert waited < 1.0


def _chunked_post(port: int, path: str, body: bytes, chunk: int = 4096) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode())
        for i in range(0, len(body), chunk):
            part = body[i:i + chunk]
            try:
                s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            except OSError:  # the server answered and closed early: fine, read its answer
                break
        else:
            s.sendall(b"0\r\n\r\n")
        status_line = s.makefile("rb").readline()
    return int(status_line.split()[1])


def test_chunked_bodies_over_the_limit_are_refused_whole(tmp_path):
    limit = 64 * 1024
    env = {"CPT97124_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite", "CPT97124_MAX_REQUEST_BYTES": str(limit)}
    body = json.dumps(claim_request()).encode()
    assert len(body) < limit
    padded = body[:-1] + b', "padding": "' + b"x" * limit + b'"}'  # still valid JSON, over the limit
    with serve(tmp_path, env) as served:
        assert _chunked_post(served.port, CLAIM_SERVICE, body) == 200
        assert _chunked_post(served.port, CLAIM_SERVICE, padded) == 413
