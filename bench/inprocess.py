"""In-process timings through the Flask test client: no network, no server, one core."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.app import create_bench_app
from bench.bodies import body, chart_body
from cds_hooks.config import Config
from cds_hooks.services import SERVICES

PATHS = {s.hook: f"/cds-services/{s.id}" for s in SERVICES.values()}


def _client(workdir: Path):
    config = Config(dev=True, database_url=f"sqlite:///{workdir}/inprocess.db")
    return create_bench_app(config).test_client()


def _timed_post(client, hook: str, data: bytes) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) for one request."""
    t0, c0 = time.perf_counter(), time.thread_time()
    response = client.post(PATHS[hook], data=data, content_type="application/json")
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
    if response.status_code != 200:
        raise RuntimeError(f"{hook} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    return elapsed, cpu


def latency(workdir: Path, hook: str, count: int, first: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds per request for `count` distinct bodies (after 20 warm-up requests).

    CPU time is what the request itself costs; wall time adds waits (the SQLite commit that
    records issued cards) and whatever else the machine is running.
    """
    client = _client(workdir)
    for n in range(first, first + 20):
        _timed_post(client, hook, body(hook, n))
    bodies = [body(hook, n) for n in range(first + 20, first + 20 + count)]
    timings = [_timed_post(client, hook, b) for b in bodies]
    return [t[0] for t in timings], [t[1] for t in timings]


def growth(workdir: Path, sizes: tuple[int, ...], runs: int, first: int) -> dict[int, dict[str, float]]:
    """claim-prepare with `size` prior 97124 Procedures: median CPU seconds, first sight and re-sent.

    cold: a new patient each run (nothing seen before); warm: the same body sent again, as an
    EHR re-sends a returning patient's history at every visit.
    """
    client = _client(workdir)
    for n in range(first, first + 20):
        _timed_post(client, "claim-prepare", body("claim-prepare", n))
    out, n = {}, first + 20
    for size in sizes:
        cold, warm = [], []
        for _ in range(runs):
            data = body("claim-prepare", n, prior_massage=size)
            n += 1
            cold.append(_timed_post(client, "claim-prepare", data)[1])
            warm.append(_timed_post(client, "claim-prepare", data)[1])
        out[size] = {"cold": statistics.median(cold), "warm": statistics.median(warm)}
    return out


def stages(workdir: Path, count: int, first: int) -> tuple[float, dict[str, float]]:
    """CPU seconds per claim-prepare request, and per stage of the handler (no profiler overhead).

    Wraps the functions cds_hooks/app.py calls, so the split follows the handler as written;
    a stage the handler no longer calls by that name is simply absent.
    """
    import cds_hooks.app as handler

    spent: dict[str, float] = {}

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.thread_time() - t0
        return wrapper

    names = {"read_json": "JSON parse", "parse": "request checks", "record_from_hook": "context: validation",
             "gather": "prefetch: validation",
             "evaluate": "rules", "cards": "cards and fixes"}
    saved = {attr: getattr(handler, attr) for attr in names if hasattr(handler, attr)}
    try:
        for attr, name in names.items():
            if attr in saved:
                setattr(handler, attr, timed(name, saved[attr]))
        client = _client(workdir)
        state = client.application.extensions["cpt97124"]
        state.issued_cards.record = timed("issued cards to SQLite", state.issued_cards.record)
        for n in range(first, first + 20):
            _timed_post(client, "claim-prepare", body("claim-prepare", n))
        spent.clear()
        bodies = [body("claim-prepare", n) for n in range(first + 20, first + 20 + count)]
        total = sum(_timed_post(client, "claim-prepare", b)[1] for b in bodies) / count
    finally:
        for attr, fn in saved.items():
            setattr(handler, attr, fn)
    return total, {name: seconds / count for name, seconds in spent.items()}


def charts(workdir: Path, sizes: tuple[int, ...], runs: int, first: int) -> dict[int, float]:
    """claim-prepare of an ordinary visit on a chart of `size` vital signs and lab results and 300
    Procedures (bench.bodies.chart): median CPU seconds over `runs` distinct patients per size,
    sizes interleaved within each run. The body limit is raised for this client only: 10,000
    Observations are ~5.4 MB, above the product's default CPT97124_MAX_REQUEST_BYTES (5 MiB)."""
    config = Config(dev=True, database_url=f"sqlite:///{workdir}/charts.db", max_request_bytes=64 << 20)
    client = create_bench_app(config).test_client()
    for n in range(first, first + 3):
        _timed_post(client, "claim-prepare", chart_body(n, 1000))
    cpu: dict[int, list[float]] = {size: [] for size in sizes}
    n = first + 3
    for _ in range(runs):
        for size in sizes:
            cpu[size].append(_timed_post(client, "claim-prepare", chart_body(n, size))[1])
            n += 1
    return {size: statistics.median(times) for size, times in cpu.items()}
