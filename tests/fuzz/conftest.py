"""Shared pieces of the fuzz suite: the app under test, the response contract, the request count.

FUZZ_EXAMPLES sets how many examples each property or operation gets: small by default so
`make test` stays quick, large in `make fuzz` (which also asks for FUZZ_MIN_REQUESTS in total).
"""
from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import pytest

from cds_hooks.app import create_app
from cds_hooks.config import Config

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
FUZZ_MIN_REQUESTS = int(os.environ.get("FUZZ_MIN_REQUESTS", "0"))
SLOWEST_ALLOWED_S = float(os.environ.get("FUZZ_SLOWEST_S", "10"))  # "no hang", generous for a busy CI
SERVICES = ("massage-97124-order-check", "massage-97124-claim-check")
SENT: Counter = Counter()


def fuzz_config(tmp: Path) -> Config:
    # Dev mode (no JWT: signatures are the auth tests' business). A short FHIR deadline: a
    # generated fhirServer on loopback must not hold a worker, and nothing else is reachable.
    return Config(dev=True, database_url=f"sqlite:///{tmp}/fuzz.db", fhir_deadline=1.0,
                  fhir_connect_timeout=0.5, fhir_read_timeout=0.5)


@pytest.fixture(scope="session")
def fuzz_app(tmp_path_factory, policy):
    return create_app(fuzz_config(tmp_path_factory.mktemp("fuzz")), policy)


@pytest.fixture(scope="session")
def fuzz_client(fuzz_app):
    return fuzz_app.test_client()


def check_answer(status: int, body: object, elapsed: float, kind: str) -> None:
    """The contract for any input: no 5xx, a clear OperationOutcome on every 4xx, no hang."""
    SENT[kind] += 1
    assert elapsed < SLOWEST_ALLOWED_S, f"{kind}: {elapsed:.1f} s for one request"
    assert status < 500, f"{kind}: server error {status}: {body!r:.300}"
    if 400 <= status < 500 and status != 401:  # 401 is deliberately bare (auth tests cover it)
        assert isinstance(body, dict) and body.get("resourceType") == "OperationOutcome", \
            f"{kind}: {status} without an OperationOutcome: {body!r:.300}"
        issue = body["issue"][0]
        assert issue["severity"] == "error" and issue["code"], body
        assert isinstance(issue["diagnostics"], str) and len(issue["diagnostics"].strip()) >= 8, body


def post(client, path: str, data: bytes | str, kind: str, content_type: str = "application/json"):
    """POST raw bytes through the WSGI app and check the contract; returns (status, json body)."""
    started = time.perf_counter()
    response = client.post(path, data=data, content_type=content_type)
    elapsed = time.perf_counter() - started
    body = response.get_json(silent=True)
    check_answer(response.status_code, body, elapsed, kind)
    return response.status_code, body


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    total = sum(SENT.values())
    if not total:
        return
    parts = ", ".join(f"{k} {n}" for k, n in sorted(SENT.items()))
    terminalreporter.write_line(f"fuzz: {total} generated requests ({parts}); "
                                f"FUZZ_EXAMPLES={FUZZ_EXAMPLES}")
    if FUZZ_MIN_REQUESTS and total < FUZZ_MIN_REQUESTS:
        terminalreporter.write_line(f"fuzz: FEWER than the {FUZZ_MIN_REQUESTS} requests asked for")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    total = sum(SENT.values())
    if FUZZ_MIN_REQUESTS and 0 < total < FUZZ_MIN_REQUESTS and session.exitstatus == 0:
        session.exitstatus = 1
