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

pytestmark = pytest.mark.integration

SLOW_CLIENTS = 50
HOLD_SECONDS = 20.0


def _open_slow(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /cds-services/massage-97124-claim-check HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    return s


def hold_slow_connections(port: int, count: int, seconds: float, stop: threading.Event) -> dict:
    """Keep `count` connections open that trickle one header line a second, as a persistent
    attacker would: one the server drops is opened again at once. Counts what happened."""
    sockets = [_open_slow(port) for _ in range(count)]
    figures = {"opened": count, "dropped_by_server": 0, "lines": 0, "rounds": 0}
    end, line = time.monotonic() + seconds, 0
    while time.monotonic() < end and not stop.is_set():
        line += 1
        figures["rounds"] += 1
        for i, s in enumerate(sockets):
            try:
                s.sendall(f"X-Slow-{line}: {line}\r\n".encode())
                figures["lines"] += 1
            except OSError:  # the server gave up on this one: reopen it
                s.close()
                figures["dropped_by_server"] += 1
                sockets[i] = _open_slow(port)
                figures["opened"] += 1
        time.sleep(1.0)
    for s in sockets:
        s.close()
    return figures


def test_slow_header_clients_do_not_starve_health_or_hooks(tmp_path):
    with serve(tmp_path, {"CPT97124_DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}) as served:
        stop, held = threading.Event(), []
        slow = threading.Thread(target=lambda: held.append(
            hold_slow_connections(served.port, SLOW_CLIENTS, HOLD_SECONDS, stop)))
        slow.start()
        time.sleep(2.0)  # every slow connection is open and trickling
        health, hooks = [], []
        started = time.monotonic()
        while slow.is_alive() and time.monotonic() - started < HOLD_SECONDS - 2:
            t0 = time.monotonic()
            try:
                ok = requests.get(served.base + "/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            health.append((ok, time.monotonic() - t0))
            if len(health) % 8 == 1:  # a hook call every few seconds
                t0 = time.monotonic()
                try:
                    response = requests.post(served.base + CLAIM_SERVICE, json=claim_request(), timeout=5)
                    hooks.append((response.status_code, time.monotonic() - t0))
                except requests.RequestException as error:
                    hooks.append((type(error).__name__, time.monotonic() - t0))
            time.sleep(max(0.0, 0.5 - (time.monotonic() - t0)))
        stop.set()
        slow.join()
    answered = sum(ok and seconds <= 2.0 for ok, seconds in health)
    print(f"\n{SLOW_CLIENTS} slow clients for {HOLD_SECONDS:.0f} s: {held[0]}; /healthz within 2 s: "
          f"{answered}/{len(health)} (slowest {max(s for _, s in health):.3f} s); hook calls: "
          + ", ".join(f"{status} in {seconds:.2f} s" for status, seconds in hooks))
    assert held and held[0]["rounds"] >= HOLD_SECONDS - 2, "50 slow connections were kept up all along"
    assert len(health) >= 20 and answered >= 0.95 * len(health)
    assert hooks and all(status == 200 and seconds <= 5.0 for status, seconds in hooks)


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
