"""The serving model's cost: the same distinct claim-prepare bodies against gunicorn's sync
workers (the model before docs/operations.md "Serving model") and the shipped gevent workers,
both running at once and measured in alternation, so drift and other load hit both alike."""
from __future__ import annotations

import contextlib
from pathlib import Path

from bench import client
from bench.servers import HOST, service

MODELS = {"sync workers (before)": ["-k", "sync"], "gevent workers (shipped)": []}
PATH = "/cds-services/massage-97124-claim-check"


def compare(workdir: Path, bodies: list[bytes], runs: int, per_run: int,
            concurrency: int) -> dict[str, list[client.Result]]:
    """Results per model; `bodies` must hold (runs + 1) * per_run * len(MODELS) distinct bodies."""
    results: dict[str, list[client.Result]] = {name: [] for name in MODELS}
    with contextlib.ExitStack() as stack:
        ports = {}
        for name, args in MODELS.items():
            home = workdir / name.split()[0]
            home.mkdir(exist_ok=True)
            ports[name] = stack.enter_context(service(home, extra_args=args)).port
        chunks = iter(bodies[i:i + per_run] for i in range(0, len(bodies), per_run))
        for port in ports.values():  # warm-up
            client.run(HOST, port, [client.encode(HOST, port, PATH, b) for b in next(chunks)][:per_run // 5],
                       concurrency)
        for _ in range(runs):
            for name, port in ports.items():
                requests = [client.encode(HOST, port, PATH, b) for b in next(chunks)]
                results[name].append(client.run(HOST, port, requests, concurrency))
    return results
