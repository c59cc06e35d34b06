"""A small HTTP/1.1 load generator: C client processes, each one keep-alive connection.

Raw sockets keep the client's own CPU cost low (it shares the machine with the server).
A connection the server closes (gunicorn's sync workers close after each response) is
reopened for the next request; the reconnect is part of the measured latency.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import socket
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)   # seconds, one per completed request
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0                                         # connection failures, timeouts
    wall: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def merge(self, other: Result) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        for status, n in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + n

    @property
    def failures(self) -> int:
        return self.errors + sum(n for status, n in self.statuses.items() if status >= 300)


def encode(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n")
    return head.encode("ascii") + body


class Connection:
    def __init__(self, host: str, port: int, timeout: float):
        self.address, self.timeout, self.sock, self.buffer = (host, port), timeout, None, b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the response ended")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the body ended")
            self.buffer += chunk
        body, self.buffer = self.buffer[:n], self.buffer[n:]
        return body

    def send(self, request: bytes) -> tuple[int, bytes]:
        """One request, one response: (status, body)."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(request)
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
        body = self._read_exactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body


def _worker(host: str, port: int, requests: list[bytes], timeout: float, start, out) -> None:
    result, conn = Result(), Connection(host, port, timeout)
    start.wait()
    began = time.perf_counter()
    for request in requests:
        t0 = time.perf_counter()
        try:
            status, _ = conn.send(request)
        except OSError:  # refused, reset, timed out: counted, never fatal to the run
            result.errors += 1
            conn.close()
            continue
        result.latencies.append(time.perf_counter() - t0)
        result.statuses[status] = result.statuses.get(status, 0) + 1
    result.wall = time.perf_counter() - began
    conn.close()
    out.put(result)


def run(host: str, port: int, requests: list[bytes], concurrency: int, timeout: float = 30.0) -> Result:
    """Send every request once, spread over `concurrency` client processes; wall time of the slowest."""
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    shares = [requests[i::concurrency] for i in range(concurrency)]
    procs = [ctx.Process(target=_worker, args=(host, port, share, timeout, start, out), daemon=True)
             for share in shares if share]
    for p in procs:
        p.start()
    time.sleep(0.2)  # let every client reach the start line
    start.set()
    total = Result()
    for _ in procs:
        part = out.get(timeout=timeout * max(1, len(requests)))
        total.merge(part)
        total.wall = max(total.wall, part.wall)
    for p in procs:
        p.join()
    return total


@dataclass
class Sample:
    at: float        # seconds since the start of the run
    kind: str
    latency: float   # seconds; -1 for a connection failure
    status: int      # 0 for a connection failure
    stored: int = 0  # feedback items the service said it stored


def _paced_worker(host, port, make, index, concurrency, rate, seconds, timeout, start, out) -> None:
    conn, samples, interval = Connection(host, port, timeout), [], concurrency / rate
    start.wait()
    began = time.perf_counter()
    i = 0
    while True:
        due = began + (i + index / concurrency) * interval  # workers offset: an even stream
        now = time.perf_counter()
        if due - began >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        kind, request, count_stored = make(i * concurrency + index)
        t0 = time.perf_counter()
        try:
            status, body = conn.send(request)
        except OSError:
            conn.close()
            samples.append(Sample(t0 - began, kind, -1.0, 0))
        else:
            stored = 0
            if count_stored and status == 200:
                stored = int(json.loads(body).get("stored", 0))
            samples.append(Sample(t0 - began, kind, time.perf_counter() - t0, status, stored))
        i += 1
    conn.close()
    out.put(samples)


def paced(host: str, port: int, make, rate: float, seconds: float, concurrency: int,
          timeout: float = 30.0) -> list[Sample]:
    """Load at `rate` requests/s for `seconds`: make(n) -> (kind, request bytes, is feedback).

    Each client process sends on a fixed schedule; one that falls behind (a slow answer) sends
    its next request at once to catch up, so the offered rate holds and slowness shows up as
    latency rather than as a quietly lower rate.
    """
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_paced_worker, daemon=True,
                         args=(host, port, make, i, concurrency, rate, seconds, timeout, start, out))
             for i in range(concurrency)]
    for p in procs:
        p.start()
    time.sleep(0.2)
    start.set()
    samples: list[Sample] = []
    for _ in procs:
        samples += out.get(timeout=seconds + timeout + 60)
    for p in procs:
        p.join()
    return sorted(samples, key=lambda s: s.at)
