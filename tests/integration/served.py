"""The service as production runs it: `cpt97124 serve` (gunicorn, the shipped worker class) in a
child process on a free loopback port, its stdout and stderr captured to a file."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.integration.support import free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "fixtures" / "s22-medicare-missing-gp"
CLAIM_SERVICE = "/cds-services/massage-97124-claim-check"


class Served:
    def __init__(self, process: subprocess.Popen, port: int, log: Path):
        self.process, self.port, self.log = process, port, log
        self.base = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]


def wait_ready(served: Served, path: str = "/readyz", seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"the service exited with {served.process.returncode}:\n{served.output()[-3000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(served.base + path, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{path} did not answer 200 within {seconds:.0f} s:\n{served.output()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve(workdir: Path, env: dict[str, str], workers: int = 2, dev: bool = True,
          wait: str | None = "/readyz", port: int | None = None) -> Iterator[Served]:
    """`cpt97124 serve` with `env` added to the environment; stopped on exit."""
    port = port or free_port()
    log = workdir / f"service-{port}.log"
    exe = Path(sys.executable).with_name("cpt97124")
    args = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    environ = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    with open(log, "wb") as out:
        process = subprocess.Popen(args + (["--dev"] if dev else []), cwd=workdir, env=environ,
                                   stdout=out, stderr=subprocess.STDOUT)
    served = Served(process, port, log)
    try:
        if wait:
            wait_ready(served, wait)
        yield served
    finally:
        stop(process)


def claim_request() -> dict:
    """A fixture's claim-prepare request (with prefetch; it draws cards) under a fresh hookInstance."""
    body = json.loads((FIXTURE / "request.json").read_text())
    body["hookInstance"] = str(uuid.uuid4())
    return body
