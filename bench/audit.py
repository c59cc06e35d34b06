"""`make bench` rows for `cpt97124 audit`: claims per second per core and peak RSS on a generated
Bulk Data export, one worker vs all cores vs a two-worker Dask LocalCluster, side by side, and
how both grow with the export; each target from issue 13 marked met or not met.

    .venv/bin/python -m bench.audit                       # 20,000 claims; growth 4,000 -> 20,000
    .venv/bin/python -m bench.audit --large 100000        # growth 20,000 -> 100,000 (~15 min more)

The export: one patient per claim, each the bench's realistic visit (bench/bodies.py: 29
resources, six earlier 97124 visits), as NDJSON files per type. Each configuration runs in its
own process so its peak RSS is its own (`ru_maxrss` of the process and of its largest worker).
The baseline is the hook itself, in process: the same visits posted to claim-prepare through the
Flask test client on one thread.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bodies import body, token
from bench.run import machine

TEMPLATES = 50          # distinct visits; the others are these with another patient's ids
BASELINE_CLAIMS = 300


def write_export(folder: Path, claims: int) -> None:
    """`claims` patients, one 97124 claim each, as Type.ndjson files."""
    folder.mkdir(parents=True, exist_ok=True)
    templates = []
    for t in range(TEMPLATES):
        request = json.loads(body("claim-prepare", t))
        lines = [(request["context"]["claim"]["resourceType"], json.dumps(request["context"]["claim"]))]
        for value in request["prefetch"].values():
            entries = value.get("entry", []) if value.get("resourceType") == "Bundle" else [{"resource": value}]
            lines += [(e["resource"]["resourceType"], json.dumps(e["resource"])) for e in entries]
        templates.append(lines)
    files = {}
    try:
        for n in range(claims):
            t = n % TEMPLATES
            for rtype, text in templates[t]:
                if rtype not in files:
                    files[rtype] = open(folder / f"{rtype}.ndjson", "w", encoding="utf-8")
                files[rtype].write(text.replace(token(t), token(n)) + "\n")
    finally:
        for fh in files.values():
            fh.close()


def hook_baseline(workdir: Path) -> float:
    """Claims per second of the claim-prepare hook in process, one thread, distinct visits."""
    from cds_hooks.app import create_app
    from cds_hooks.config import Config
    client = create_app(Config(dev=True, database_url=f"sqlite:///{workdir}/hook.db")).test_client()
    bodies = [body("claim-prepare", 5_000_000 + n) for n in range(BASELINE_CLAIMS + 20)]
    for data in bodies[:20]:
        client.post("/cds-services/massage-97124-claim-check", data=data, content_type="application/json")
    started = time.perf_counter()
    for data in bodies[20:]:
        response = client.post("/cds-services/massage-97124-claim-check", data=data, content_type="application/json")
        assert response.status_code == 200, response.get_data(as_text=True)[:200]
    return BASELINE_CLAIMS / (time.perf_counter() - started)


def one(export: Path, out: Path, workers: int, cluster: bool) -> dict:
    """Run one configuration in this process: wall seconds, peak RSS of this process and of its
    largest worker (MB), and a digest of the two CSV files."""
    from audit.run import run
    if cluster:
        from distributed import LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          host="127.0.0.1") as local:
            started = time.perf_counter()
            summary = run(export, out, scheduler=local.scheduler_address, progress=False)
            seconds = time.perf_counter() - started
    else:
        started = time.perf_counter()
        summary = run(export, out, workers=workers, progress=False)
        seconds = time.perf_counter() - started
    digest = hashlib.sha256((out / "claims.csv").read_bytes() + (out / "findings.csv").read_bytes()).hexdigest()
    return {"claims": summary.claims, "seconds": seconds, "digest": digest[:12],
            "rss_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def measure(export: Path, out: Path, workers: int, cluster: bool = False) -> dict:
    args = [sys.executable, "-m", "bench.audit", "--one", str(export), "--out", str(out),
            "--workers", str(workers)] + (["--cluster"] if cluster else [])
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--claims", type=int, default=int(os.environ.get("AUDIT_CLAIMS", 20_000)))
    p.add_argument("--large", type=int, default=int(os.environ.get("AUDIT_LARGE", 0)),
                   help="measure growth from --claims to this many (default: from --claims/5 to --claims)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--cluster", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps(one(Path(args.one), Path(args.out), args.workers, args.cluster)))
        return 0

    cores, load_before = os.cpu_count() or 1, os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        work = Path(tmp)
        small, big = (args.claims, args.large) if args.large else (args.claims // 5, args.claims)
        print(f"generating exports of {small:,} and {big:,} claims ...", file=sys.stderr, flush=True)
        for n in {small, big}:
            write_export(work / f"export-{n}", n)
        baseline = hook_baseline(work)
        print(f"hook in process: {baseline:.1f} claims/s", file=sys.stderr, flush=True)
        rows = {}
        main_n = args.claims
        for label, workers, cluster in (("1 worker", 1, False), (f"all cores ({cores})", cores, False),
                                        ("LocalCluster, 2 workers", 2, True)):
            rows[label] = measure(work / f"export-{main_n}", work / f"out-{label[:3]}", workers, cluster)
            print(label, rows[label], file=sys.stderr, flush=True)
        other = small if main_n == big else big
        grown = measure(work / f"export-{other}", work / "out-growth", cores)
        at = {main_n: rows[f"all cores ({cores})"], other: grown}
    print(report(baseline, rows, at[small], at[big], small, big, cores))
    print(machine(load_before))
    return 0


def report(baseline: float, rows: dict, small: dict, big: dict, n_small: int, n_big: int, cores: int) -> str:
    lines = [f"audit: {next(iter(rows.values()))['claims']:,} claims, one patient each (29 resources)",
             f"{'configuration':<28}{'claims/s':>10}{'per core':>10}{'wall s':>9}{'RSS main':>10}"
             f"{'RSS worker':>12}  digest",
             f"{'hook in process, 1 thread':<28}{baseline:>10.1f}{baseline:>10.1f}"]
    for label, r in rows.items():
        rate = r["claims"] / r["seconds"]
        used = 1 if label.startswith("1 ") else (2 if "LocalCluster" in label else cores)
        lines.append(f"{label:<28}{rate:>10.1f}{rate / used:>10.1f}{r['seconds']:>9.1f}{r['rss_main']:>10.0f}"
                     f"{r['rss_worker']:>12.0f}  {r['digest']}")
    for n, r in ((n_small, small), (n_big, big)):
        lines.append(f"{f'all cores, {n:,} claims':<28}{r['claims'] / r['seconds']:>10.1f}"
                     f"{r['claims'] / r['seconds'] / cores:>10.1f}{r['seconds']:>9.1f}{r['rss_main']:>10.0f}"
                     f"{r['rss_worker']:>12.0f}  {r['digest']}")
    single = rows["1 worker"]["claims"] / rows["1 worker"]["seconds"]
    peak = max(big[k] / small[k] for k in ("rss_main", "rss_worker") if small[k])  # each process on its own
    same = len({r["digest"] for r in rows.values()}) == 1
    targets = [
        (single >= baseline / 2, f"throughput per core within 2x of the hook in process: {single:.1f} vs "
                                 f"{baseline:.1f} claims/s ({baseline / single:.2f}x)"),
        (peak <= 1.2, f"peak RSS flat within 20% from {n_small:,} to {n_big:,} claims: {peak:.2f}x "
                      f"(main {small['rss_main']:.0f} -> {big['rss_main']:.0f} MB, worker "
                      f"{small['rss_worker']:.0f} -> {big['rss_worker']:.0f} MB)"),
        (same, "same claims.csv and findings.csv in every configuration"),
    ]
    lines += [f"[{'    met' if ok else 'NOT met'}] {text}" for ok, text in targets]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
