"""HTTP load with wrk (Debian package `wrk`; `make bench` installs it when missing).

One wrk thread, `connections` connections, for `seconds`; each request POSTs the next body of a
file of distinct bodies (bench/distinct.lua), so a run never repeats a body unless the file runs
out (then `repeated` says how many were sent again). wrk is an independent C load generator: its
own cost on the shared cores is small and the same for every endpoint measured.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "distinct.lua"


@dataclass
class Load:
    rate: float          # requests per second
    p50: float           # seconds
    p99: float
    sent: int
    errors: int          # non-2xx answers, socket errors and timeouts
    repeated: int        # bodies sent a second time (the file ran out)
    cards: int           # cards in the answers (their `indicator`s, counted by the script)


def wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk not found: `make bench` installs it (apt-get install wrk)")
    return found


def write_bodies(path: Path, bodies: list[bytes]) -> Path:
    with open(path, "wb") as fh:
        for body in bodies:
            fh.write(body.replace(b"\n", b" ") + b"\n")
    return path


def run(url: str, bodies: Path, seconds: float, connections: int = 4) -> Load:
    out = subprocess.run([wrk(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s",
                          "-s", str(SCRIPT), url], env={**os.environ, "WRK_BODIES": str(bodies)},
                         capture_output=True, text=True, check=True).stdout
    number = lambda pattern: float(re.search(pattern, out).group(1))  # noqa: E731
    distinct, sent, cards = (int(x) for x in re.search(r"distinct-bodies (\d+) sent (\d+) cards (\d+)", out).groups())
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return Load(rate=number(r"Requests/sec:\s+([\d.]+)"), p50=number(r"percentile 50 (\d+)") / 1e6,
                p99=number(r"percentile 99 (\d+)") / 1e6, sent=sent, errors=errors,
                repeated=max(sent - distinct, 0), cards=cards)
