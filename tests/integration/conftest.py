"""Session-wide real servers on loopback: the sekmet FHIR server, this service, and small
misbehaving HTTP servers that play a broken EHR FHIR server.

Two instances of the service run: `service` talks to the real FHIR server with roomy limits (a
loaded CI machine can take seconds over one search), and `strict_service` talks to the broken
servers with short limits so the failure cases finish in seconds.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from cds_hooks.app import create_app
from cds_hooks.config import Config
from tests.integration.support import free_port

SEKMET_SETTINGS = """\
simulator: {enabled: false}    # no auto-processing of ServiceRequests or Claims
log_inbound: false
"""
# Roomy limits against the real FHIR server: a parity test must never turn into a deadline test.
LIVE_LIMITS = dict(fhir_connect_timeout=5.0, fhir_read_timeout=20.0, fhir_deadline=30.0, fhir_page_cap=5)
# Short limits keep the failure tests fast; the margin covers thread start-up and evaluation.
STRICT_LIMITS = dict(fhir_connect_timeout=0.5, fhir_read_timeout=1.0, fhir_deadline=2.0, fhir_page_cap=5)
DEADLINE_MARGIN = 1.5
SLOW_SECONDS = 6.0


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30.0) -> None:
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        if process.poll() is not None:
            raise RuntimeError(f"sekmet exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"sekmet did not answer within {seconds}s")


@pytest.fixture(scope="session")
def fhir_base(tmp_path_factory) -> str:
    """A real FHIR server process (sekmet) with an empty SQLite store; its base URL."""
    home = tmp_path_factory.mktemp("sekmet")
    (home / "settings.yaml").write_text(SEKMET_SETTINGS)
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    env = dict(os.environ, SEKMET_PORT=str(port), SEKMET_BASE_URL=base, SEKMET_DB=str(home / "db.sqlite"),
               SEKMET_CONFIG=str(home / "settings.yaml"))
    exe = Path(sys.executable).with_name("sekmet")
    if not exe.exists():
        exe = Path(shutil.which("sekmet") or "sekmet")
    log = open(home / "sekmet.log", "wb")
    process = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                               cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"{base}/metadata", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


class QuietHTTPServer(ThreadingHTTPServer):
    """Handler threads never hold up shutdown (the slow mode may still be sleeping)."""

    daemon_threads = True
    block_on_close = False


class ServerThread:
    """A WSGI or http.server server on a free loopback port, served from a daemon thread."""

    def __init__(self, server):
        self.server = server
        self.base = f"http://127.0.0.1:{server.server_address[1]}"
        self.thread = threading.Thread(target=server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def live_config(tmp_path_factory) -> Config:
    db = tmp_path_factory.mktemp("service") / "feedback.db"
    return Config(dev=True, database_url=f"sqlite:///{db}", **LIVE_LIMITS)


@pytest.fixture(scope="session")
def service(live_config, policy) -> str:
    """This CDS service, for real, on a loopback port (dev mode: loopback FHIR servers allowed)."""
    running = ServerThread(make_server("127.0.0.1", 0, create_app(live_config, policy), threaded=True))
    yield running.base
    running.stop()


@pytest.fixture(scope="session")
def strict_service(tmp_path_factory, policy) -> str:
    """The service with STRICT_LIMITS, for the broken FHIR servers."""
    db = tmp_path_factory.mktemp("strict") / "feedback.db"
    config = Config(dev=True, database_url=f"sqlite:///{db}", **STRICT_LIMITS)
    running = ServerThread(make_server("127.0.0.1", 0, create_app(config, policy), threaded=True))
    yield running.base
    running.stop()


class Recorder(BaseHTTPRequestHandler):
    """Answers every GET with an empty searchset and remembers (path, had Authorization)."""

    hits: list[tuple[str, bool]]

    def do_GET(self):
        self.hits.append((self.path, "Authorization" in self.headers))
        self._send(200, {"resourceType": "Bundle", "type": "searchset", "entry": []})

    def _send(self, status: int, body: object, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the service gave up waiting, as it should
            pass

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture(scope="session")
def recorder():
    """A well-behaved stand-in server that records who called it (and with what header)."""
    handler = type("RecordingHandler", (Recorder,), {"hits": []})
    running = ServerThread(QuietHTTPServer(("127.0.0.1", 0), handler))
    running.hits = handler.hits
    yield running
    running.stop()


def broken_handler(foreign_base: str):
    """A FHIR server gone wrong; the first path segment picks how (/<mode>/fhir/...)."""

    class Broken(Recorder):
        hits: list = []

        def do_GET(self):
            mode = self.path.strip("/").split("/")[0]
            bundle = {"resourceType": "Bundle", "type": "searchset", "entry": []}
            if mode == "slow":
                time.sleep(SLOW_SECONDS)
                self._send(200, bundle)
            elif mode == "error500":
                self._send(500, {"resourceType": "OperationOutcome",
                                 "issue": [{"severity": "error", "code": "exception"}]})
            elif mode == "unauthorized":
                self._send(401, None, raw=b"", headers={"WWW-Authenticate": "Bearer"})
            elif mode == "garbage":
                self._send(200, None, raw=b"{\"resourceType\": \"Bundle\", \"entry\": [")
            elif mode == "outcome":
                self._send(200, {"resourceType": "OperationOutcome",
                                 "issue": [{"severity": "error", "code": "processing"}]})
            elif mode == "forever":
                # Every page points to a further, never-seen page.
                page = int(self.path.rsplit("page=", 1)[1]) if "page=" in self.path else 0
                base = f"http://127.0.0.1:{self.server.server_address[1]}/forever/fhir"
                self._send(200, {**bundle, "link": [{"relation": "next",
                                                     "url": f"{base}/Procedure?page={page + 1}"}]})
            elif mode == "foreign":
                self._send(200, {**bundle, "link": [{"relation": "next",
                                                     "url": f"{foreign_base}/fhir/Procedure?page=2"}]})
            elif mode == "redirect":
                self._send(302, None, raw=b"", headers={"Location": f"{foreign_base}/fhir/Procedure"})
            else:
                self._send(404, {"resourceType": "OperationOutcome",
                                 "issue": [{"severity": "error", "code": "not-found"}]})

    return Broken


@pytest.fixture(scope="session")
def broken_fhir(recorder):
    """Base URL of the misbehaving server; `next` links and redirects point to `recorder`."""
    running = ServerThread(QuietHTTPServer(("127.0.0.1", 0), broken_handler(recorder.base)))
    yield running.base
    running.stop()


@pytest.fixture(scope="session")
def closed_port_base() -> str:
    """A loopback FHIR base nothing listens on (the FHIR server is down)."""
    return f"http://127.0.0.1:{free_port()}/fhir"
