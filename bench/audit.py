"""`make bench` rows for `cpt97124 audit`: claims per second per core and peak RSS on a generated
Bulk Data export, one worker vs all cores vs a two-worker Dask LocalCluster, side by side, and
how both grow with the export; each target from issue 13 marked met or not met.

    .venv/bin/python -m bench.audit                       # 20,000 claims; growth 4,000 -> 20,000
    .venv/bin/python -m bench.audit --large 100000        # growth 20,000 -> 100,000 (~25 min more)

The export: one patient per claim, each the bench's realistic visit (bench/bodies.py: 29
resources, six earlier 97124 visits), as NDJSON files per type. Each configuration runs in its
own process so its peak RSS is its own: the command's process by phase (read, index, audit, csv,
report) and overall, and its largest worker (`ru_maxrss` of the children). Dask's memory is
measured on its own pair of sizes (a tenth and a half of --claims) with the LocalCluster, whose
scheduler runs in the command's process.
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

from audit.run import PHASES
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


class PhasePeaks:
    """Peak RSS of this process in each phase of the audit (MB): VmHWM read as a phase ends, then
    reset (`/proc/self/clear_refs`), so each phase's figure is its own high-water mark. The
    process's peak is the highest of them (what `ru_maxrss` would say without the resets)."""

    def __init__(self):
        self.mb: dict[str, float] = {}
        self._reset()

    def __call__(self, phase: str) -> None:
        status = Path("/proc/self/status").read_text()
        self.mb[phase] = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
        self._reset()

    @staticmethod
    def _reset() -> None:
        Path("/proc/self/clear_refs").write_text("5")


def one(export: Path, out: Path, workers: int, cluster: bool) -> dict:
    """Run one configuration in this process: wall seconds, peak RSS of this process by phase and
    overall and of its largest worker (MB), and a digest of the two CSV files. With `cluster`, the
    LocalCluster's scheduler runs in this process: its memory is part of this process's."""
    from audit.run import run
    peaks = PhasePeaks()
    if cluster:
        from distributed import LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                          host="127.0.0.1") as local:
            peaks("start")
            started = time.perf_counter()
            summary = run(export, out, scheduler=local.scheduler_address, progress=False, phase_done=peaks)
            seconds = time.perf_counter() - started
    else:
        peaks("start")
        started = time.perf_counter()
        summary = run(export, out, workers=workers, progress=False, phase_done=peaks)
        seconds = time.perf_counter() - started
    digest = hashlib.sha256((out / "claims.csv").read_bytes() + (out / "findings.csv").read_bytes()).hexdigest()
    return {"claims": summary.claims, "seconds": seconds, "digest": digest[:12],
            "rss_main": max(peaks.mb.values()), "rss_phases": peaks.mb,
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
        dask_small, dask_big = args.claims // 10, args.claims // 2
        print(f"generating exports of {small:,}, {big:,}, {dask_small:,} and {dask_big:,} claims ...",
              file=sys.stderr, flush=True)
        for n in {small, big, dask_small, dask_big}:
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
        print(f"all cores, {other:,} claims", grown, file=sys.stderr, flush=True)
        at = {main_n: rows[f"all cores ({cores})"], other: grown}
        dask = {n: measure(work / f"export-{n}", work / f"out-dask-{n}", 2, cluster=True)
                for n in (dask_small, dask_big)}
        print("LocalCluster growth", dask, file=sys.stderr, flush=True)
    print(report(baseline, rows, (small, at[small]), (big, at[big]), (dask_small, dask[dask_small]),
                 (dask_big, dask[dask_big]), cores))
    print(machine(load_before))
    return 0


def _row(label: str, r: dict, used: int) -> str:
    rate = r["claims"] / r["seconds"]
    return (f"{label:<30}{rate:>10.1f}{rate / used:>10.1f}{r['seconds']:>9.1f}{r['rss_main']:>10.0f}"
            f"{r['rss_worker']:>12.0f}  {r['digest']}")


def _growth(s: dict, b: dict) -> tuple[float, str]:
    """The larger of the main process's and the worker's peak-RSS ratios, and the figures."""
    ratio = max(b[k] / s[k] for k in ("rss_main", "rss_worker") if s[k])   # each process on its own
    return ratio, (f"{ratio:.2f}x (main {s['rss_main']:.0f} -> {b['rss_main']:.0f} MB, "
                   f"worker {s['rss_worker']:.0f} -> {b['rss_worker']:.0f} MB)")


def report(baseline: float, rows: dict, small: tuple[int, dict], big: tuple[int, dict],
           dask_small: tuple[int, dict], dask_big: tuple[int, dict], cores: int) -> str:
    lines = [f"audit: {next(iter(rows.values()))['claims']:,} claims, one patient each (29 resources)",
             f"{'configuration':<30}{'claims/s':>10}{'per core':>10}{'wall s':>9}{'RSS main':>10}"
             f"{'RSS worker':>12}  digest",
             f"{'hook in process, 1 thread':<30}{baseline:>10.1f}{baseline:>10.1f}"]
    for label, r in rows.items():
        lines.append(_row(label, r, 1 if label.startswith("1 ") else (2 if "LocalCluster" in label else cores)))
    for n, r in (small, big):
        lines.append(_row(f"all cores, {n:,} claims", r, cores))
    for n, r in (dask_small, dask_big):
        lines.append(_row(f"LocalCluster, {n:,} claims", r, 2))
    phases = ("start", *PHASES)
    lines += ["", "peak RSS of the main process by phase (MB; LocalCluster: the scheduler included)",
              f"{'run':<30}" + "".join(f"{p:>8}" for p in phases)]
    for label, (n, r) in (("all cores", small), ("all cores", big), ("LocalCluster", dask_small),
                          ("LocalCluster", dask_big)):
        lines.append(f"{f'{label}, {n:,} claims':<30}" + "".join(f"{r['rss_phases'].get(p, 0):>8.0f}" for p in phases))
    single = rows["1 worker"]["claims"] / rows["1 worker"]["seconds"]
    flat, flat_text = _growth(small[1], big[1])
    dask_flat, dask_text = _growth(dask_small[1], dask_big[1])
    same = len({r["digest"] for r in rows.values()}) == 1
    targets = [
        (single >= baseline / 2, f"throughput per core within 2x of the hook in process: {single:.1f} vs "
                                 f"{baseline:.1f} claims/s ({baseline / single:.2f}x)"),
        (flat <= 1.2, f"peak RSS flat within 20% from {small[0]:,} to {big[0]:,} claims: {flat_text}"),
        (dask_flat <= 1.2, f"on Dask, peak RSS flat within 20% from {dask_small[0]:,} to {dask_big[0]:,} "
                           f"claims (main = command + scheduler): {dask_text}"),
        (same, "same claims.csv and findings.csv in every configuration"),
    ]
    lines += [""] + [f"[{'    met' if ok else 'NOT met'}] {text}" for ok, text in targets]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
