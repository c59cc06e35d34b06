"""`make bench`: every figure side by side in one run, one table, against the targets.

    python -m bench.run [--runs 3] [--requests 1500] [--concurrency 4] [--only-serving]

Throughput: gunicorn with cds_hooks/gunicorn_conf.py (gevent, 2 workers) in dev mode (JWT off:
token checks are out of scope of this measurement), loaded by separate client processes on
the same machine. Each product request is a distinct patient; the no-op ceiling cycles a pool.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench import client, inprocess, nofetch, serving
from bench.app import NOOP_PATH
from bench.bodies import body
from bench.servers import HOST, fhir_server, service
from cds_hooks.services import SERVICES

PATHS = {"noop (ceiling)": NOOP_PATH,
         **{s.hook: f"/cds-services/{s.id}" for s in SERVICES.values()}}
# Each kind of measurement draws patients from its own range, so no body is ever sent twice.
FIRST = {"order-sign": 0, "claim-prepare": 1_000_000, "inprocess": 2_000_000,
         "growth": 3_000_000, "nofetch": 4_000_000, "soak": 5_000_000, "stages": 6_000_000,
         "serving": 7_000_000}


@dataclass
class Target:
    name: str
    figure: str
    met: bool


def _bodies(hook: str, first: int, count: int) -> list[bytes]:
    with mp.get_context("fork").Pool(2) as pool:
        return pool.starmap(body, [(hook, n) for n in range(first, first + count)], chunksize=64)


def throughput(svc, runs: int, per_run: int, concurrency: int) -> dict[str, list[client.Result]]:
    """Each run measures every endpoint once, interleaved, so drift hits all alike."""
    hooks = [k for k in PATHS if k != "noop (ceiling)"]
    bodies = {hook: _bodies(hook, FIRST[hook], per_run * (runs + 1)) for hook in hooks}
    encoded = {hook: [client.encode(HOST, svc.port, PATHS[hook], b) for b in bodies[hook]] for hook in hooks}
    # The no-op keeps nothing between requests, so cycling the claim bodies cannot flatter it.
    noop = [client.encode(HOST, svc.port, NOOP_PATH, b) for b in bodies["claim-prepare"]]
    encoded["noop (ceiling)"] = noop
    results: dict[str, list[client.Result]] = {k: [] for k in PATHS}
    for k in PATHS:  # warm-up: imports, first-request paths, connection setup
        client.run(HOST, svc.port, encoded[k][:per_run // 5], concurrency)
    for i in range(runs):
        start = per_run * (i + 1)
        for k in PATHS:
            requests = encoded[k][start:start + per_run] if k != "noop (ceiling)" else \
                (noop * 4)[start:start + per_run * 3]  # a longer run: the no-op is fast
            results[k].append(client.run(HOST, svc.port, requests, concurrency))
    return results


def machine(load_before: float) -> str:
    """nproc, CPU model, memory, and the load average around the run (others' work skews figures)."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return (f"machine: {os.cpu_count()} CPUs ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM; "
            f"load average 1 min: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def stage_lines(total: float, parts: dict[str, float]) -> list[str]:
    lines = ["", f"where the CPU of one in-process claim-prepare goes ({ms(total)} ms in all):"]
    for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:<28}{ms(seconds):>7} ms {seconds / total:>5.0%}")
    rest = total - sum(parts.values())
    lines.append(f"  {'Flask, logging, the rest':<28}{ms(rest):>7} ms {rest / total:>5.0%}")
    return lines


def serving_lines(results: dict[str, list[client.Result]]) -> list[str]:
    med = statistics.median
    rate = {k: med([r.rate for r in rs]) for k, rs in results.items()}
    before = rate[next(iter(results))]
    lines = ["", f"{'serving model, claim-prepare (both at once)':<44}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
                 f"{'vs before':>12}{'fail':>6}"]
    for k, rs in results.items():
        lines.append(f"{'HTTP ' + k:<44}{rate[k]:>9.0f}{ms(med([r.percentile(50) for r in rs])):>9}"
                     f"{ms(med([r.percentile(99) for r in rs])):>9}{rate[k] / before:>11.0%} "
                     f"{sum(r.failures for r in rs):>5}")
    return lines


def report(results, rss, in_p99, growth, nofetch_figures, args) -> tuple[str, list[Target]]:
    med = lambda xs: statistics.median(xs)  # noqa: E731
    rate = {k: med([r.rate for r in rs]) for k, rs in results.items()}
    ceiling = rate["noop (ceiling)"]
    lines = [f"{'measure':<44}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs ceiling':>12}{'fail':>6}"]
    for k, rs in results.items():
        lines.append(f"{'HTTP ' + k:<44}{rate[k]:>9.0f}{ms(med([r.percentile(50) for r in rs])):>9}"
                     f"{ms(med([r.percentile(99) for r in rs])):>9}{rate[k] / ceiling:>11.0%} "
                     f"{sum(r.failures for r in rs):>5}")
    lines.append(f"{'in-process claim-prepare, 29 resources, wall':<44}{'':>9}{ms(in_p99['wall'][0]):>9}"
                 f"{ms(in_p99['wall'][1]):>9}")
    lines.append(f"{'in-process claim-prepare, 29 resources, CPU':<44}{'':>9}{ms(in_p99['cpu'][0]):>9}"
                 f"{ms(in_p99['cpu'][1]):>9}")
    base = growth[min(growth)]
    for size, t in growth.items():
        lines.append(f"{f'in-process claim-prepare, {size} prior 97124':<44}"
                     f"{'cold':>9}{ms(t['cold']):>9}{t['cold'] / base['cold']:>8.1f}x"
                     f"{'  warm ' + ms(t['warm']) + ' ms':>14}{t['warm'] / base['warm']:>6.1f}x")
    nf = nofetch_figures
    lines.append(f"{'no prefetch: service latency (median)':<44}{'':>9}{ms(nf['latency']):>9}")
    lines.append(f"{'no prefetch: slowest single FHIR query':<44}{'':>9}{ms(nf['slowest_query']):>9}"
                 f"{'':>9}   of {nf['queries']:.0f} queries, {nf['failures']} failed")
    lines.append(f"{'no prefetch: all its FHIR queries, one by one':<44}{'':>9}{ms(nf['all_queries']):>9}")
    lines.append(f"{'RSS per worker after the run (MB)':<44}" + "  ".join(f"{x:.0f}" for x in rss))

    worst_hook = min(rate[h] for h in results if h != "noop (ceiling)")
    largest, smallest = max(growth), min(growth)
    bound = 1.5 * nf["slowest_query"] + 0.010
    targets = [
        Target("throughput on distinct requests >= 50% of the no-op ceiling",
               f"{worst_hook / ceiling:.0%} (slower hook)", worst_hook / ceiling >= 0.5),
        Target("in-process p99 <= 10 ms, 30-resource claim-prepare",
               f"wall {ms(in_p99['wall'][1])} ms (CPU {ms(in_p99['cpu'][1])} ms)", in_p99["wall"][1] <= 0.010),
        Target(f"{largest}-procedure history <= 10x the {smallest}-procedure time",
               f"cold {growth[largest]['cold'] / growth[smallest]['cold']:.1f}x, "
               f"warm {growth[largest]['warm'] / growth[smallest]['warm']:.1f}x",
               growth[largest]["cold"] / growth[smallest]["cold"] <= 10),
        Target("no-prefetch latency <= 1.5 x slowest FHIR query + 10 ms",
               f"{ms(nf['latency'])} ms vs bound {ms(bound)} ms", nf["latency"] <= bound),
        Target("<= 150 MB RSS per worker", f"max {max(rss):.0f} MB", max(rss) <= 150),
    ]
    lines.append("")
    lines += [f"[{'met' if t.met else 'NOT met':>7}] {t.name}: {t.figure}" for t in targets]
    lines.append(f"(runs={args.runs} per_run={args.requests} concurrency={args.concurrency}; "
                 f"medians over runs; growth median of {args.growth_runs})")
    return "\n".join(lines), targets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--requests", type=int, default=1500, help="requests per endpoint per run")
    p.add_argument("--concurrency", type=int, default=4, help="client processes (one connection each)")
    p.add_argument("--growth-runs", type=int, default=9)
    p.add_argument("--nofetch-patients", type=int, default=15)
    p.add_argument("--only-serving", action="store_true",
                   help="measure only the serving models side by side (sync before, gevent shipped)")
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cpt97124-bench-") as tmp:
        workdir = Path(tmp)
        count = args.requests * (args.runs + 1) * len(serving.MODELS)
        models = serving.compare(workdir, _bodies("claim-prepare", FIRST["serving"], count),
                                 args.runs, args.requests, args.concurrency)
        if args.only_serving:
            print(machine(load_before))
            print("\n".join(serving_lines(models)))
            return 0
        with service(workdir) as svc:
            results = throughput(svc, args.runs, args.requests, args.concurrency)
            rss = svc.worker_rss_mb()
            with fhir_server(workdir) as (base, fhir_log):
                nf = nofetch.measure(svc.url, base, fhir_log, "claim-prepare", args.nofetch_patients, FIRST["nofetch"])
        wall, cpu = inprocess.latency(workdir, "claim-prepare", 500, FIRST["inprocess"])
        in_p99 = {name: (statistics.median(xs), client.Result(latencies=xs).percentile(99))
                  for name, xs in (("wall", wall), ("cpu", cpu))}
        growth = inprocess.growth(workdir, (10, 100, 1000), args.growth_runs, FIRST["growth"])
        total, parts = inprocess.stages(workdir, 300, FIRST["stages"])
    text, targets = report(results, rss, in_p99, growth, nf, args)
    print(machine(load_before))
    print(text)
    print("\n".join(serving_lines(models)))
    print("\n".join(stage_lines(total, parts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
