"""Start the service (gunicorn, production config) and a local FHIR server as child processes."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before answering {url}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def service(workdir: Path, workers: int = 2, env: dict | None = None,
            extra_args: list[str] | None = None, app: str = "bench.wsgi:app") -> Iterator[Service]:
    """gunicorn with cds_hooks/gunicorn_conf.py (gevent workers unless `extra_args` say otherwise)
    serving `app` (the bench app by default), in dev mode."""
    port = free_port()
    environ = {**os.environ, "CPT97124_DEV": "1", "WEB_CONCURRENCY": str(workers), "HOST": HOST,
               "PORT": str(port), "PYTHONPATH": str(ROOT), "LOG_LEVEL": "warning",
               "CPT97124_DATABASE_URL": f"sqlite:///{workdir}/feedback.db", **(env or {})}
    log = open(workdir / "service.log", "ab")
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "python:cds_hooks.gunicorn_conf",
                             *(extra_args or []), app],
                            cwd=ROOT, env=environ, stdout=log, stderr=log)
    try:
        wait_ready(f"http://{HOST}:{port}/healthz", proc)
        yield Service(proc, port, workdir)
    finally:
        _stop(proc)
        log.close()


class Service:
    def __init__(self, proc: subprocess.Popen, port: int, workdir: Path):
        self.proc, self.port, self.workdir = proc, port, workdir
        self.url = f"http://{HOST}:{port}"

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return sorted(int(pid) for pid in children)

    def worker_cpu_seconds(self) -> float:
        """User + system CPU time the current workers have used so far."""
        total = 0.0
        for pid in self.worker_pids():
            with contextlib.suppress(FileNotFoundError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def worker_rss_mb(self) -> list[float]:
        """VmRSS of each gunicorn worker, MB."""
        out = []
        for pid in self.worker_pids():
            with contextlib.suppress(FileNotFoundError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out.append(int(line.split()[1]) / 1024)
        return out


@contextlib.contextmanager
def fhir_server(workdir: Path) -> Iterator[tuple[str, Path]]:
    """sekmet-fhir on loopback with its own SQLite file; yields its base URL and access log."""
    port = free_port()
    base = f"http://{HOST}:{port}/fhir"
    environ = {**os.environ, "SEKMET_PORT": str(port), "SEKMET_BASE_URL": base,
               "SEKMET_DB": str(workdir / "fhir.sqlite")}
    log_path = workdir / "fhir.log"
    log = open(log_path, "ab")
    proc = subprocess.Popen([str(BIN / "sekmet"), "serve", "--host", HOST, "--port", str(port)],
                            cwd=workdir, env=environ, stdout=log, stderr=log)
    try:
        wait_ready(f"{base}/metadata", proc)
        yield base, log_path
    finally:
        _stop(proc)
        log.close()
