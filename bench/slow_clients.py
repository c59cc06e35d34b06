"""The evidence for the serving model: the slowloris probe of tests/integration (50 connections
trickling one header line a second for 20 s; /healthz twice a second, a hook call every 4 s)
against gunicorn with each worker class, 2 workers, the product's cds_hooks.wsgi in dev mode.

    python -m bench.slow_clients [sync gthread gevent]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.servers import service
from tests.integration.slowloris import under_slow_clients

MODELS = {"sync": ["-k", "sync"], "gthread": ["-k", "gthread", "--threads", "8"], "gevent": []}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(MODELS)
    print(f"{'worker class':<14}{'/healthz within 2 s':>22}{'hook calls 200 within 5 s':>28}")
    for name in names:
        with tempfile.TemporaryDirectory(prefix="cpt97124-slow-") as tmp:
            with service(Path(tmp), extra_args=MODELS[name], app="cds_hooks.wsgi:app") as svc:
                probe = under_slow_clients(svc.url, svc.port)
        hooks_ok = sum(status == 200 and seconds <= 5.0 for status, seconds in probe.hooks)
        print(f"{name:<14}{f'{probe.health_within_2s} of {len(probe.health)}':>22}"
              f"{f'{hooks_ok} of {len(probe.hooks)}':>28}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
