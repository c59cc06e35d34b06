"""No patient id, encounter id, name or token reaches the service's output, whatever breaks.

The service runs as production runs it (`cpt97124 serve`, its own logging); a FHIR server
misbehaves in every way we know (malformed header lines, connection resets, redirects, garbage
bodies, TLS spoken to a plain-HTTP port) and the database goes away mid-run. Everything the
process writes to stdout and stderr is then searched for the identifying values.
"""
from __future__ import annotations

import json
import socket
import socketserver
import sqlite3
import struct
import threading
import time
import uuid

import pytest
import requests

from cds_hooks.integrator import as_ehr_without_prefetch
from tests.integration.served import CLAIM_SERVICE, FIXTURE, serve

pytestmark = pytest.mark.integration

PATIENT, ENCOUNTER = "phi-pat-7f3a9c2e", "phi-enc-51d8b4aa"
NAME, TOKEN = "Quaffington", "tok-e2b1f0c7d9a84a6f"
MODES = ("badheader", "reset", "redirect", "garbage", "tls", "outcome")


class FaultyFhir(socketserver.BaseRequestHandler):
    """A FHIR server gone wrong in the way the first path segment names (/<mode>/fhir/...)."""

    def handle(self):
        request = self.request.recv(65536).decode("latin-1")
        mode = request.split(" ", 2)[1].strip("/").split("/")[0] if " " in request else "tls"
        body = json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": {
            "resourceType": "Patient", "id": PATIENT, "name": [{"family": NAME}]}}]}).encode()
        if mode == "reset" or mode not in MODES:  # an abortive close: the client sees a reset
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if mode == "badheader":  # a header line with no colon, naming the patient
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nX-Patient {PATIENT} {NAME}\r\n"
        elif mode == "redirect":
            head = f"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/fhir/Patient/{PATIENT}?name={NAME}\r\n"
            body = b""
        elif mode == "garbage":
            head, body = "HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n", b"{" + body[:-5]
        else:  # "outcome" and the TLS handshake, which gets plain HTTP back
            head = "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/fhir+json\r\n"
            body = json.dumps({"resourceType": "OperationOutcome", "issue": [{
                "severity": "error", "code": "exception", "diagnostics": f"no Patient/{PATIENT} ({NAME})"}]}).encode()
        self.request.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)


@pytest.fixture
def faulty_fhir():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), FaultyFhir)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def identifying_request(fhir: str) -> dict:
    """The fixture's claim, no prefetch, with our marked ids and token."""
    body = json.loads((FIXTURE / "request.json").read_text())
    text = json.dumps(as_ehr_without_prefetch(body, fhir, TOKEN))
    text = text.replace(body["context"]["patientId"], PATIENT).replace(body["context"]["encounterId"], ENCOUNTER)
    marked = json.loads(text)
    marked["hookInstance"] = str(uuid.uuid4())
    return marked


def test_faults_leave_no_patient_id_name_or_token_in_the_output(tmp_path, faulty_fhir):
    db = tmp_path / "db.sqlite"
    env = {"CPT97124_DATABASE_URL": f"sqlite:///{db}", "CPT97124_DATABASE_TIMEOUT": "0.5",
           "CPT97124_FHIR_DEADLINE": "3", "LOG_LEVEL": "debug"}
    with serve(tmp_path, env, workers=1) as served:
        statuses = {}
        for mode in MODES:
            scheme = "https" if mode == "tls" else "http"
            body = identifying_request(f"{scheme}://127.0.0.1:{faulty_fhir}/{mode}/fhir")
            statuses[mode] = requests.post(served.base + CLAIM_SERVICE, json=body, timeout=30).status_code
        holder = sqlite3.connect(db, isolation_level=None)  # the database goes away
        holder.execute("BEGIN EXCLUSIVE")
        try:
            statuses["db-down hook"] = requests.post(
                served.base + CLAIM_SERVICE, timeout=30,
                json=identifying_request(f"http://127.0.0.1:{faulty_fhir}/badheader/fhir")).status_code
            feedback = {"feedback": [{"card": str(uuid.uuid4()), "outcome": "overridden",
                                      "outcomeTimestamp": "2026-03-02T18:00:00Z",
                                      "overrideReason": {"userComment": f"{NAME} {PATIENT} {ENCOUNTER}"}}]}
            statuses["db-down feedback"] = requests.post(served.base + CLAIM_SERVICE + "/feedback", json=feedback,
                                                         headers={"Authorization": f"Bearer {TOKEN}"},
                                                         timeout=30).status_code
            deadline = time.monotonic() + 15   # issued cards are written off the request path, in batches
            while "cards-not-recorded" not in served.output() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        output = served.output()
    assert all(status < 500 or status == 503 for status in statuses.values()), statuses
    assert statuses["db-down feedback"] == 503 and statuses["db-down hook"] == 200
    # The faults did happen and were logged (by urllib3 and by us), so the search means something.
    assert all(line in output for line in ("Failed to parse headers", "cards-not-recorded", "feedback-not-stored"))
    for secret in (PATIENT, ENCOUNTER, NAME, TOKEN):
        assert secret.lower() not in output.lower(), f"{secret} leaked into the service output"
