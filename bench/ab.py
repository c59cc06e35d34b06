"""A/B in one process: this tree's service against a git revision's, on the same distinct bodies.

    python -m bench.ab REV [--count 300] [--hooks claim-prepare,order-sign] [--prior 6]

The revision's `plugin` and `cds_hooks` are extracted (`git archive`) into a temporary folder as
the packages `plugin_ab` and `cds_hooks_ab` (their imports rewritten), so that both versions
serve in this one process: same machine load, same heap, same collector. Each distinct body
(bench.bodies, a new patient every time) goes to both apps back to back, in alternating order;
the figure is the CPU time of this thread (time.thread_time) per request and per stage of the
handler (the functions cds_hooks/app.py calls, wrapped in each version alike), as medians.
Every answer is compared card for card (uuids aside): a difference stops the run.
"""
from __future__ import annotations

import argparse
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bodies import body

STAGES = ("read_hook_body", "record_from_hook", "gather", "evaluate", "cards", "jsonify")
_IMPORT = re.compile(r"\b(from|import) (plugin|cds_hooks)\b")
_RULES = re.compile(r"([\"'])plugin\.rules")


def extract(rev: str, into: Path) -> None:
    """`plugin` and `cds_hooks` of `rev`, as `plugin_ab` and `cds_hooks_ab` under `into`."""
    archive = subprocess.run(["git", "archive", rev, "plugin", "cds_hooks"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    for name in ("plugin", "cds_hooks"):
        (into / name).rename(into / f"{name}_ab")
    for path in into.rglob("*.py"):
        text = _RULES.sub(r"\1plugin_ab.rules", _IMPORT.sub(r"\1 \2_ab", path.read_text()))
        path.write_text(text)


class Version:
    """One version's app, its test client, and the CPU its handler's stages took on the last request."""

    def __init__(self, package: str, workdir: Path):
        app_module = importlib.import_module(f"{package}.app")
        config_module = importlib.import_module(f"{package}.config")
        services = importlib.import_module(f"{package}.services").SERVICES
        self.paths = {s.hook: f"/cds-services/{s.id}" for s in services.values()}
        self.spent: dict[str, float] = {}
        for name in STAGES:
            setattr(app_module, name, self._timed(name, getattr(app_module, name)))
        config = config_module.Config(dev=True, database_url=f"sqlite:///{workdir}/{package}.db")
        self.client = app_module.create_app(config).test_client()

    def _timed(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.thread_time() - t0
        return wrapper

    def post(self, hook: str, data: bytes) -> tuple[dict[str, float], Any]:
        """(CPU seconds of the request and of each stage, the answer without its uuids)."""
        self.spent.clear()
        t0 = time.thread_time()
        response = self.client.post(self.paths[hook], data=data, content_type="application/json")
        total = time.thread_time() - t0
        if response.status_code != 200:
            raise RuntimeError(f"{hook} answered {response.status_code}")
        cpu = {"total": total, **{n: self.spent.get(n, 0.0) for n in STAGES}}
        cpu["rest"] = total - sum(cpu[n] for n in STAGES)
        answer = response.get_json()
        for card in answer["cards"]:
            card.pop("uuid", None)
            for suggestion in card.get("suggestions", []):
                suggestion.pop("uuid", None)
        return cpu, answer


def compare(before: Version, after: Version, hook: str, count: int, first: int, prior: int) -> None:
    for n in range(first - 20, first):   # warm-up, both alike
        before.post(hook, body(hook, n))
        after.post(hook, body(hook, n))
    cpu: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    for n in range(first, first + count):
        data = body(hook, n, prior_massage=prior)
        order = (("before", before), ("after", after)) if n % 2 else (("after", after), ("before", before))
        answers = {}
        for tag, version in order:
            spent, answers[tag] = version.post(hook, data)
            for name, seconds in spent.items():
                cpu[tag].setdefault(name, []).append(seconds)
        if answers["before"] != answers["after"]:
            raise SystemExit(f"{hook}: body {n} answered differently")
    print(f"{hook}: {count} distinct bodies, {prior} prior 97124 each, CPU ms per request, median (before -> after)")
    for name in ("total", *STAGES, "rest"):
        b, a = (statistics.median(cpu[tag][name]) * 1e3 for tag in ("before", "after"))
        print(f"  {name:18s} {b:7.3f} -> {a:7.3f}  {a / b if b else 0:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("rev", help="the git revision to compare against (before)")
    parser.add_argument("--count", type=int, default=300, help="distinct bodies per hook")
    parser.add_argument("--hooks", default="claim-prepare,order-sign")
    parser.add_argument("--prior", type=int, default=6,
                        help="prior 97124 Procedures in each body (the ordinary visit has 6)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        extract(args.rev, Path(tmp))
        sys.path.insert(0, tmp)
        before, after = Version("cds_hooks_ab", Path(tmp)), Version("cds_hooks", Path(tmp))
        for hook in args.hooks.split(","):
            compare(before, after, hook, args.count, first=9_000_000, prior=args.prior)


if __name__ == "__main__":
    main()
