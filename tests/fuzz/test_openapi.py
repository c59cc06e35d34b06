"""Schemathesis over docs/openapi.yaml, in-process (WSGI): every operation, valid and invalid data.

Besides the contract of conftest.check_answer, each answer must match the status codes,
content types and response schemas the document promises.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cds_hooks.app import create_app
from plugin import load_policy
from tests.fuzz.conftest import FUZZ_EXAMPLES, check_answer, fuzz_config

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# Built at import: schemathesis' fixture-based loader does not work under pytest 9.
_DB_DIR = tempfile.TemporaryDirectory(prefix="cpt97124-fuzz-")
APP = create_app(fuzz_config(Path(_DB_DIR.name)), load_policy())
schema = schemathesis.openapi.from_path(str(SPEC))
schema.app = APP


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_contract(case):
    started = time.perf_counter()
    response = case.call()
    elapsed = time.perf_counter() - started
    try:
        body = response.json()
    except ValueError:
        body = None
    check_answer(response.status_code, body, elapsed, f"openapi {case.operation.label}")
    case.validate_response(response, checks=CHECKS)


def test_the_document_describes_every_route():
    """A route added to the app without a description here would never be fuzzed."""
    described = {path.replace("{service_id}", "<service_id>")
                 for path in schemathesis.openapi.from_path(str(SPEC)).raw_schema["paths"]}
    routes = {rule.rule for rule in APP.url_map.iter_rules() if rule.endpoint != "static"}
    generic = {"/cds-services/<service_id>", "/cds-services/<service_id>/feedback"}
    concrete = {p for p in described if "<" not in p}
    assert routes - described - generic == set()
    assert {r.replace("<service_id>", s) for r in generic
            for s in ("massage-97124-order-check", "massage-97124-claim-check")} <= concrete | described
