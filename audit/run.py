"""`cpt97124 audit SOURCE --out DIR`: read, group, evaluate in parallel, write the three files.

Evaluation runs in the calling process (`workers=1`), in a pool of local processes (the
default: one per core), or on a Dask cluster (`scheduler="tcp://host:8786"`, the `dask` extra;
its workers need this package installed). Either way the same function audits the same
patient groups, so the results are the same. At most a few batches are in flight at once,
so memory does not grow with the export.
"""
from __future__ import annotations

import csv
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_local
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from audit.evaluate import audit_batch
from audit.source import SourceError, read_export
from audit.store import PatientGroup, Store
from plugin import Policy, load_policy

FINDINGS_HEADER = ("claim_id", "patient_id", "service_date", "payer_profile", "rule", "indicator", "summary")
CLAIMS_HEADER = ("claim_id", "patient_id", "service_date", "payer_profile", "findings", "worst_indicator")
GROUPS_PER_BATCH = 16      # patients sent to a worker at once: large enough to pay for the trip
BATCHES_PER_WORKER = 2     # in flight per worker: keeps each busy, bounds what waits in memory
SCHEDULER_TIMEOUT = "20s"  # to reach a Dask scheduler
PHASES = ("read", "index", "audit", "csv", "report")


@dataclass(frozen=True)
class Summary:
    claims: int
    findings: int
    lines: int
    skipped: int         # lines and resources skipped (malformed, invalid FHIR)
    seconds: float
    workers: int


def _batches(groups: Iterable[PatientGroup]) -> Iterator[list[PatientGroup]]:
    it = iter(groups)
    while batch := list(islice(it, GROUPS_PER_BATCH)):
        yield batch


# -- where the batches run ---------------------------------------------------------------------
_POLICY: Policy | None = None


def _set_policy(policy: Policy) -> None:
    global _POLICY
    _POLICY = policy


def _audit_with_process_policy(batch: list[PatientGroup]) -> list[dict]:
    return audit_batch(batch, _POLICY)


def _run_bounded(submit: Callable, wait: Callable, batches: Iterator, slots: int) -> Iterator[list[dict]]:
    """Results of each batch as it completes, with at most `slots` batches submitted at once."""
    pending = set()
    for batch in batches:
        pending.add(submit(batch))
        if len(pending) >= slots:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (f.result() for f in done)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from (f.result() for f in done)


@contextmanager
def _evaluator(policy: Policy, workers: int, scheduler: str | None) -> Iterator[Callable]:
    """A function from batches to their results, run where asked. A Dask scheduler is reached
    before anything is read, so an unreachable one fails at once."""
    if scheduler:
        with _dask_client(scheduler) as client:
            slots = max(1, sum(client.nthreads().values())) * BATCHES_PER_WORKER
            shared = client.scatter(policy, broadcast=True)
            yield lambda batches: _run_bounded(lambda b: _dask_submit(client, b, shared), _dask_wait, batches, slots)
    elif workers == 1:
        yield lambda batches: (audit_batch(batch, policy) for batch in batches)
    else:
        # forkserver, not fork: a fork copies whatever lock another thread holds at that moment
        # (logging, a database driver) and the worker can wait on it forever.
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                 initializer=_set_policy, initargs=(policy,)) as pool:
            yield lambda batches: _run_bounded(lambda b: pool.submit(_audit_with_process_policy, b), wait_local,
                                               batches, workers * BATCHES_PER_WORKER)


def _dask_client(scheduler: str):
    try:
        from distributed import Client
    except ImportError as error:
        raise AuditError(f"--scheduler needs the dask extra ({error.name} is missing): "
                         "pip install -e '.[dask]'") from None
    try:
        return Client(scheduler, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError) as error:
        raise AuditError(f"cannot reach the Dask scheduler at {scheduler} ({error})") from None


def _dask_submit(client, batch: list[PatientGroup], policy):
    """Scatter the batch, then submit a task that names it by key. A task that carried the batch
    as an argument would stay in the scheduler's and the client's logs of recent messages
    (`distributed.admin.low-level-log-length`, 1,000 messages a connection): hundreds of MB of
    patients' JSON lines. Scattered data leaves the cluster once the task's result is taken."""
    [data] = client.scatter([batch], hash=False)
    return client.submit(audit_batch, data, policy, pure=False)


def _dask_wait(futures, return_when):
    from distributed import wait
    return wait(futures, return_when=return_when)


# -- the run --------------------------------------------------------------------------------------
class AuditError(Exception):
    """The audit cannot run: the message says why and what to do."""


def _progress(enabled: bool | None, **options):
    """A tqdm bar on stderr, only on a terminal unless `enabled` says otherwise."""
    from tqdm import tqdm
    enabled = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(disable=not enabled, file=sys.stderr, smoothing=0.1, **options)


def _counted(items: Iterable, bar) -> Iterator:
    for item in items:
        bar.update(1)
        yield item


def _write_csv(path: Path, header: tuple[str, ...], rows: Iterable[tuple]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def _no_phase(name: str) -> None:
    pass


def run(source: Path, out: Path, payer_profiles: Path | None = None, workers: int | None = None,
        scheduler: str | None = None, progress: bool | None = None,
        phase_done: Callable[[str], None] = _no_phase) -> Summary:
    """Audit every 97124 Claim of the export at `source`; write findings.csv, claims.csv and
    report.html into `out`. Raises SourceError or AuditError with a message for the user.
    `phase_done` is called with each of PHASES as it ends (the bench measures memory by phase)."""
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    try:
        policy = load_policy(extra_profiles=payer_profiles)
    except (OSError, ValueError) as error:   # tomllib.TOMLDecodeError is a ValueError
        raise AuditError(f"{payer_profiles}: cannot read the payer profiles ({error})") from None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AuditError(f"{out}: cannot create the output folder ({error.strerror})") from None
    with _evaluator(policy, workers, scheduler) as evaluate, \
            tempfile.TemporaryDirectory(prefix=".audit-", dir=out) as work:
        store = Store(Path(work) / "export.sqlite")
        try:
            with _progress(progress, unit="line", desc="read") as bar:
                store.load(_counted(read_export(source), bar))
            phase_done("read")
            store.index()
            phase_done("index")
            with _progress(progress, total=store.claim_count(), unit="claim", desc="audit") as bar:
                for results in evaluate(_batches(store.groups())):
                    store.save(results)
                    bar.update(len(results))
            phase_done("audit")
            summary = _write(store, out, source, time.perf_counter() - started, workers, phase_done)
        finally:
            store.close()
    return summary


def _write(store: Store, out: Path, source: Path, seconds: float, workers: int,
           phase_done: Callable[[str], None]) -> Summary:
    from audit.report import write_report
    store.finish()
    _write_csv(out / "findings.csv", FINDINGS_HEADER, store.stream(
        f"SELECT {', '.join(FINDINGS_HEADER)} FROM findings ORDER BY claim_id, position"))
    _write_csv(out / "claims.csv", CLAIMS_HEADER, store.stream(
        f"SELECT {', '.join(CLAIMS_HEADER)} FROM audited ORDER BY claim_id"))
    phase_done("csv")
    write_report(store, out / "report.html", source)
    phase_done("report")
    counts = dict(store.query("SELECT name, n FROM counts"))
    return Summary(claims=store.query("SELECT count(*) FROM audited")[0][0],
                   findings=store.query("SELECT count(*) FROM findings")[0][0],
                   lines=counts.get("lines", 0), skipped=store.query("SELECT count(*) FROM problems")[0][0],
                   seconds=seconds, workers=workers)


__all__ = ["run", "Summary", "AuditError", "SourceError"]
