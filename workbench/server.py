"""`cpt97124 workbench`: serve the page on loopback only (werkzeug's threaded server)."""
from __future__ import annotations

import sys
from pathlib import Path

from werkzeug.serving import make_server

from workbench.app import create_app

HOST = "127.0.0.1"  # the workbench plays an EHR with test keys: never reachable from a network


def serve(port: int, service: str, fhir: str | None, fixtures: Path, keys: Path) -> int:
    try:
        server = make_server(HOST, port, create_app(service, fhir, fixtures, keys), threaded=True)
    except OSError as error:
        print(f"error: cannot listen on {HOST}:{port}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"Workbench on http://{HOST}:{server.server_port}/ (service {service}, FHIR server {fhir or 'none'})\n"
          f"Signed calls use the test key in {keys}; a production-mode service trusts it with "
          f"CPT97124_ISSUERS={keys / 'issuers.json'}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
