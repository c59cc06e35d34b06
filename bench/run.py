"""`make bench`: every figure side by side in one run, one table, against the targets.

    python -m bench.run [--runs 3] [--seconds 5] [--concurrency 4] [--requests 1500] [--only-serving]

Throughput: wrk (one thread, `--concurrency` connections, distinct bodies: bench/load.py) against
two gunicorn servers with cds_hooks/gunicorn_conf.py (gevent, 2 workers), started side by side: a
bare Flask no-op (bench/bare.py) and the product in dev mode (JWT off: token checks are out of
scope) with its own no-op route and both hooks. Each run measures all four in turn, so drift hits
all alike; medians over runs. Each product request is a distinct patient; the no-ops cycle the
claim bodies (they keep nothing). The serving-model comparison (sync vs gevent workers,
bench/serving.py) keeps its own client (bench/client.py), `--requests` per run.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench import client, inprocess, load, nofetch, serving
from bench.app import NOOP_PATH
from bench.bodies import body, rekeyed
from bench.servers import fhir_server, service
from cds_hooks.database import issued_cards
from cds_hooks.services import SERVICES

BARE = "bare Flask no-op"
NOOP = "product no-op route"
PATHS = {NOOP: NOOP_PATH, **{s.hook: f"/cds-services/{s.id}" for s in SERVICES.values()}}
# Each kind of measurement draws patients from its own range, so no body is ever sent twice.
FIRST = {"order-sign": 0, "claim-prepare": 1_000_000, "inprocess": 2_000_000,
         "growth": 3_000_000, "nofetch": 4_000_000, "soak": 5_000_000, "stages": 6_000_000,
         "serving": 7_000_000, "charts": 8_000_000}
TEMPLATES = 200        # generated visits per hook; every body is one of them re-keyed to a new patient
BODIES_PER_SECOND = 700  # distinct bodies prepared per second of a hook run (above any rate seen)
CHART_SIZES = (0, 1000, 3000, 10000)
HOOKS = ("order-sign", "claim-prepare")


@dataclass
class Target:
    name: str
    figure: str
    met: bool


def _templates(hook: str, first: int) -> list[bytes]:
    with mp.get_context("fork").Pool(2) as pool:
        return pool.starmap(body, [(hook, n) for n in range(first, first + TEMPLATES)], chunksize=16)


def _distinct(templates: list[bytes], first: int, start: int, count: int) -> list[bytes]:
    """Bodies start..start+count: template (n mod TEMPLATES) re-keyed to patient first+n."""
    return [rekeyed(templates[n % TEMPLATES], first + n % TEMPLATES, first + n) for n in range(start, start + count)]


def throughput(bare, svc, workdir: Path, runs: int, seconds: float,
               connections: int) -> tuple[dict[str, list[load.Load]], int]:
    """Each run measures the four endpoints in turn; the first (warm-up) run is not counted.
    Also returns how many cards the hooks answered with in all runs."""
    per_run = int(BODIES_PER_SECOND * seconds)
    files: dict[str, list[Path]] = {}
    for hook in ("order-sign", "claim-prepare"):
        templates = _templates(hook, FIRST[hook])
        files[hook] = [load.write_bodies(workdir / f"{hook}-{i}.jsonl",
                                         _distinct(templates, FIRST[hook], TEMPLATES + i * per_run, per_run))
                       for i in range(runs + 1)]
    urls = {BARE: f"{bare.url}/noop", **{k: svc.url + path for k, path in PATHS.items()}}
    bodies = {BARE: files["claim-prepare"], NOOP: files["claim-prepare"],
              "order-sign": files["order-sign"], "claim-prepare": files["claim-prepare"]}
    results: dict[str, list[load.Load]] = {k: [] for k in urls}
    cards = 0
    for i in range(runs + 1):
        for k, url in urls.items():
            measured = load.run(url, bodies[k][i], seconds if i else 1, connections)
            cards += measured.cards
            if i:
                results[k].append(measured)
    return results, cards


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


def report(results, rss, in_p99, growth, charts, nofetch_figures, issued, args) -> tuple[str, list[Target]]:
    med = statistics.median
    rate = {k: med([r.rate for r in rs]) for k, rs in results.items()}
    ceiling = rate[BARE]
    lines = [f"{'measure':<44}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}{'fail':>6}{'repeat':>8}"]
    for k, rs in results.items():
        lines.append(f"{'HTTP ' + k:<44}{rate[k]:>9.0f}{ms(med([r.p50 for r in rs])):>9}"
                     f"{ms(med([r.p99 for r in rs])):>9}{rate[k] / ceiling:>8.2f}x"
                     f"{sum(r.errors for r in rs):>6}{sum(r.repeated for r in rs if k in HOOKS):>8}")
    lines.append(f"{'in-process claim-prepare, 29 resources, wall':<44}{'':>9}{ms(in_p99['wall'][0]):>9}"
                 f"{ms(in_p99['wall'][1]):>9}")
    lines.append(f"{'in-process claim-prepare, 29 resources, CPU':<44}{'':>9}{ms(in_p99['cpu'][0]):>9}"
                 f"{ms(in_p99['cpu'][1]):>9}")
    base = growth[min(growth)]
    for size, t in growth.items():
        lines.append(f"{f'in-process claim-prepare, {size} prior 97124':<44}"
                     f"{'cold':>9}{ms(t['cold']):>9}{t['cold'] / base['cold']:>8.1f}x"
                     f"{'  warm ' + ms(t['warm']) + ' ms':>14}{t['warm'] / base['warm']:>6.1f}x")
    for size, t in charts.items():
        lines.append(f"{f'in-process chart: {size:,} Observations, 300 Proc.':<44}{'CPU':>9}{ms(t):>9}"
                     f"{t / charts[0]:>8.1f}x")
    nf = nofetch_figures
    lines.append(f"{'no prefetch: service latency (median)':<44}{'':>9}{ms(nf['latency']):>9}")
    lines.append(f"{'no prefetch: slowest single FHIR query':<44}{'':>9}{ms(nf['slowest_query']):>9}"
                 f"{'':>9}   of {nf['queries']:.0f} queries, {nf['failures']} failed")
    lines.append(f"{'no prefetch: all its FHIR queries, one by one':<44}{'':>9}{ms(nf['all_queries']):>9}")
    lines.append(f"{'RSS per worker after the run (MB)':<44}" + "  ".join(f"{x:.0f}" for x in rss))
    answered, (rows, recorded, failed) = issued
    lines.append(f"{'issued cards: wrk got / workers wrote / rows':<44}{answered:>9} / {recorded} / {rows}"
                 f" ({failed} failed)")

    largest, smallest = max(growth), min(growth)
    bound = 1.5 * nf["slowest_query"] + 0.010
    ratio = lambda hook: rate[hook] / ceiling  # noqa: E731
    targets = [
        Target("claim-prepare throughput >= 0.35x the bare Flask no-op", f"{ratio('claim-prepare'):.2f}x",
               ratio("claim-prepare") >= 0.35),
        Target("order-sign throughput >= 0.4x the bare Flask no-op", f"{ratio('order-sign'):.2f}x",
               ratio("order-sign") >= 0.4),
        Target("in-process CPU p50 <= 3 ms, 30-resource claim-prepare", f"{ms(in_p99['cpu'][0])} ms",
               in_p99["cpu"][0] <= 0.003),
        Target("chart of 3,000 irrelevant Observations <= 1.5x the visit without",
               f"{charts[3000] / charts[0]:.2f}x", charts[3000] / charts[0] <= 1.5),
        Target("chart of 10,000 irrelevant Observations <= 2x the visit without",
               f"{charts[10000] / charts[0]:.2f}x", charts[10000] / charts[0] <= 2),
        Target(f"{largest} prior 97124 seen first <= 10x the {smallest}-procedure time",
               f"cold {growth[largest]['cold'] / growth[smallest]['cold']:.1f}x, "
               f"warm {growth[largest]['warm'] / growth[smallest]['warm']:.1f}x",
               growth[largest]["cold"] / growth[smallest]["cold"] <= 10),
        Target("<= 150 MB RSS per worker", f"max {max(rss):.0f} MB", max(rss) <= 150),
        Target("every issued card recorded by a clean shutdown, and counted",
               f"{rows} rows = {recorded} counted by the workers, {failed} failed; wrk received {answered}",
               rows == recorded and failed == 0 and rows >= answered),
        Target("no-prefetch latency <= 1.5 x slowest FHIR query + 10 ms",
               f"{ms(nf['latency'])} ms vs bound {ms(bound)} ms", nf["latency"] <= bound),
    ]
    lines.append("")
    lines += [f"[{'met' if t.met else 'NOT met':>7}] {t.name}: {t.figure}" for t in targets]
    lines.append(f"(wrk -t1 -c{args.concurrency}, {args.runs} runs of {args.seconds:g} s per endpoint after a "
                 f"warm-up run; medians over runs; growth median of {args.growth_runs}, charts of {args.chart_runs})")
    return "\n".join(lines), targets


def recorded_cards(workdir: Path) -> tuple[int, int, int]:
    """(rows in issued_cards, recorded and failed as the workers counted them at shutdown)."""
    engine = create_engine(f"sqlite:///{workdir}/feedback.db")
    with engine.connect() as connection:
        rows = connection.execute(select(func.count()).select_from(issued_cards)).scalar_one()
    counted = re.findall(r'"event": "issued-cards-at-exit", "recorded": (\d+), "failed": (\d+)', (workdir / "service.log").read_text())
    return rows, sum(int(r) for r, _ in counted), sum(int(f) for _, f in counted)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seconds", type=float, default=5, help="seconds per endpoint per run")
    p.add_argument("--concurrency", type=int, default=4, help="wrk connections")
    p.add_argument("--growth-runs", type=int, default=9)
    p.add_argument("--chart-runs", type=int, default=11)
    p.add_argument("--requests", type=int, default=1500, help="requests per run of the serving-model comparison")
    p.add_argument("--nofetch-patients", type=int, default=15)
    p.add_argument("--only-serving", action="store_true",
                   help="measure only the serving models side by side (sync before, gevent shipped)")
    args = p.parse_args(argv)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="cpt97124-bench-") as tmp:
        workdir = Path(tmp)
        count = args.requests * (args.runs + 1) * len(serving.MODELS)
        models = serving.compare(workdir, _distinct(_templates("claim-prepare", FIRST["serving"]), FIRST["serving"],
                                                    TEMPLATES, count), args.runs, args.requests, args.concurrency)
        if args.only_serving:
            print(machine(load_before))
            print("\n".join(serving_lines(models)))
            return 0
        (workdir / "bare").mkdir()
        with service(workdir / "bare", app="bench.bare:app") as bare, service(workdir) as svc:
            results, answered = throughput(bare, svc, workdir, args.runs, args.seconds, args.concurrency)
            rss = svc.worker_rss_mb()
        # The service has stopped cleanly (SIGTERM): every card it answered with must be in the database.
        issued = (answered, recorded_cards(workdir))
        (workdir / "nofetch").mkdir()
        with service(workdir / "nofetch") as svc, fhir_server(workdir) as (base, fhir_log):
            nf = nofetch.measure(svc.url, base, fhir_log, "claim-prepare", args.nofetch_patients, FIRST["nofetch"])
        wall, cpu = inprocess.latency(workdir, "claim-prepare", 500, FIRST["inprocess"])
        in_p99 = {name: (statistics.median(xs), client.Result(latencies=xs).percentile(99))
                  for name, xs in (("wall", wall), ("cpu", cpu))}
        growth = inprocess.growth(workdir, (10, 100, 1000), args.growth_runs, FIRST["growth"])
        charts = inprocess.charts(workdir, CHART_SIZES, args.chart_runs, FIRST["charts"])
        total, parts = inprocess.stages(workdir, 300, FIRST["stages"])
    text, targets = report(results, rss, in_p99, growth, charts, nf, issued, args)
    print(machine(load_before))
    print(text)
    print("\n".join(serving_lines(models)))
    print("\n".join(stage_lines(total, parts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
