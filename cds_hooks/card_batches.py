"""Issued-card rows written off the request path, in batches, by one thread per worker process.

A hook answers as soon as its cards are queued; a background thread writes what is queued every
`max_wait` seconds (or at once when `max_rows` are waiting) in one transaction. On a clean
shutdown (interpreter exit, gunicorn's worker_exit) `close()` writes what is left. Every row is
counted: `recorded` once written, `failed` when the database refused its batch (logged; the
clinician had the cards, only the feedback report misses them).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger("cpt97124.feedback")


class CardBatches:
    def __init__(self, write: Callable[[list[dict]], None], max_rows: int = 500, max_wait: float = 0.2):
        self._write, self.max_rows, self.max_wait = write, max_rows, max_wait
        self._rows: list[dict] = []
        self._lock = threading.Lock()        # guards _rows and the thread
        self._writing = threading.Lock()     # one batch at a time
        self._due = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.recorded = 0
        self.failed = 0
        atexit.register(self.close)

    def put(self, rows: list[dict]) -> None:
        """Queue rows; never blocks on the database."""
        if not rows:
            return
        with self._lock:
            self._rows.extend(rows)
            if not self._closed:
                self._start()
            full = len(self._rows) >= self.max_rows
        if self._closed:
            self.flush()   # a request finishing during shutdown: written right here
        elif full:
            self._due.set()

    def _start(self) -> None:
        if self._pid != os.getpid():   # forked (gunicorn worker): the parent's thread is not ours
            self._pid, self._thread = os.getpid(), None
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="issued-cards", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Write every max_wait seconds while cards come; stop when none did (put starts it again)."""
        while True:
            self._due.wait(self.max_wait)
            self._due.clear()
            self.flush()
            with self._lock:
                if self._closed or not self._rows:
                    self._thread = None
                    return

    def flush(self) -> None:
        """Write everything queued now (the caller waits)."""
        with self._writing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return
            try:
                self._write(rows)
                self.recorded += len(rows)
            except Exception as error:  # noqa: BLE001 - the database's error, whatever its driver
                self.failed += len(rows)
                log.warning(json.dumps({"event": "cards-not-recorded", "count": len(rows),
                                        "error": type(error).__name__}))

    def close(self) -> None:
        """Stop the thread and write what is left; logs the counts. Safe to call twice."""
        self._closed = True
        self._due.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread() and self._pid == os.getpid():
            thread.join(timeout=5)
        self.flush()
        if self.recorded or self.failed:
            log.info(json.dumps({"event": "issued-cards-at-exit", "recorded": self.recorded, "failed": self.failed}))
