"""A slowloris and a probe: many connections trickling request headers while /healthz and a hook
call are timed. Shared by tests/integration/test_slow_clients.py and `python -m bench.slow_clients`."""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import requests

from tests.integration.served import CLAIM_SERVICE, claim_request

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


@dataclass
class Probe:
    slow: dict = field(default_factory=dict)                  # what the slow clients saw
    health: list[tuple[bool, float]] = field(default_factory=list)   # (200?, seconds) per /healthz
    hooks: list[tuple[object, float]] = field(default_factory=list)  # (status or error, seconds)

    @property
    def health_within_2s(self) -> int:
        return sum(ok and seconds <= 2.0 for ok, seconds in self.health)

    def summary(self) -> str:
        return (f"{SLOW_CLIENTS} slow clients for {HOLD_SECONDS:.0f} s: {self.slow}; /healthz within 2 s: "
                f"{self.health_within_2s}/{len(self.health)} (slowest {max(s for _, s in self.health):.3f} s); "
                "hook calls: " + ", ".join(f"{status} in {seconds:.2f} s" for status, seconds in self.hooks))


def under_slow_clients(base: str, port: int) -> Probe:
    """/healthz twice a second and a claim-prepare call every 4 s, while the slowloris runs."""
    probe, stop = Probe(), threading.Event()
    slow = threading.Thread(target=lambda: probe.slow.update(
        hold_slow_connections(port, SLOW_CLIENTS, HOLD_SECONDS, stop)))
    slow.start()
    time.sleep(2.0)  # every slow connection is open and trickling
    started = time.monotonic()
    while slow.is_alive() and time.monotonic() - started < HOLD_SECONDS - 2:
        t0 = time.monotonic()
        try:
            ok = requests.get(base + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            ok = False
        probe.health.append((ok, time.monotonic() - t0))
        if len(probe.health) % 8 == 1:
            t0 = time.monotonic()
            try:
                status = requests.post(base + CLAIM_SERVICE, json=claim_request(), timeout=5).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            probe.hooks.append((status, time.monotonic() - t0))
        time.sleep(max(0.0, 0.5 - (time.monotonic() - t0)))
    stop.set()
    slow.join()
    return probe
