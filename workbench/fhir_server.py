"""`cpt97124 fhir-server`: a local FHIR R4 server for the workbench and `fixtures load`.

It runs sekmet-fhir (the server the integration tests use) with its workflow simulator off, so
the draft Claims and ServiceRequests loaded from fixtures stay as they are, and its data in one
SQLite file. Known gap of sekmet-fhir 0.1.1, pinned in tests/integration/test_fhir_server_gaps.py:
it has no search parameters for Goal, so `Goal?patient=X` returns every patient's Goals (with an
OperationOutcome saying `patient` was ignored); the service keeps only the hook patient's.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

SETTINGS = """\
simulator: {enabled: false}    # leave loaded drafts (Claims, ServiceRequests) alone
log_inbound: false
"""


def command(port: int, data: Path) -> tuple[list[str], dict[str, str]]:
    """The sekmet command line and environment for a server on 127.0.0.1:`port` with data in `data`."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "settings.yaml").write_text(SETTINGS)
    base = f"http://127.0.0.1:{port}/fhir"
    env = dict(os.environ, SEKMET_PORT=str(port), SEKMET_BASE_URL=base, SEKMET_DB=str(data.resolve() / "db.sqlite"),
               SEKMET_CONFIG=str(data.resolve() / "settings.yaml"))
    exe = Path(sys.executable).with_name("sekmet")
    exe = str(exe) if exe.exists() else shutil.which("sekmet")
    if exe is None:
        raise FileNotFoundError("sekmet is not installed: pip install -e '.[workbench]'")
    return [exe, "serve", "--host", "127.0.0.1", "--port", str(port)], env


def serve(port: int, data: Path) -> int:
    try:
        argv, env = command(port, data)
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"FHIR server on http://127.0.0.1:{port}/fhir (data in {data.resolve()})", file=sys.stderr, flush=True)
    os.chdir(data)
    os.execve(argv[0], argv, env)  # the server takes over this process: Ctrl-C stops it
