"""cds_hooks/card_batches.py: issued cards leave the request path, and none is lost or uncounted."""
from __future__ import annotations

import threading

from cds_hooks.card_batches import CardBatches


class Store:
    def __init__(self, fail: bool = False):
        self.batches: list[list[dict]] = []
        self.fail = fail
        self.wrote = threading.Event()

    def write(self, rows: list[dict]) -> None:
        if self.fail:
            raise RuntimeError("database is locked")
        self.batches.append(rows)
        self.wrote.set()


def rows(n: int, start: int = 0) -> list[dict]:
    return [{"card_uuid": f"c{i}"} for i in range(start, start + n)]


def test_queued_cards_are_written_in_one_batch_by_the_thread():
    store = Store()
    batches = CardBatches(store.write, max_wait=0.05)
    batches.put(rows(2))
    batches.put(rows(3, 2))
    assert store.wrote.wait(5)
    batches.close()
    assert [r["card_uuid"] for batch in store.batches for r in batch] == [f"c{i}" for i in range(5)]
    assert batches.recorded == 5 and batches.failed == 0


def test_close_writes_what_is_left_and_later_cards_are_written_at_once():
    store = Store()
    batches = CardBatches(store.write, max_wait=60)   # the thread would not write for a minute
    batches.put(rows(4))
    batches.close()
    assert sum(map(len, store.batches)) == 4
    batches.put(rows(1, 4))                              # a request finishing during shutdown
    assert sum(map(len, store.batches)) == 5 and batches.recorded == 5


def test_a_full_batch_is_written_without_waiting():
    store = Store()
    batches = CardBatches(store.write, max_rows=3, max_wait=60)
    batches.put(rows(3))
    assert store.wrote.wait(5)
    batches.close()
    assert batches.recorded == 3


def test_a_refused_batch_is_counted_and_the_service_goes_on():
    batches = CardBatches(Store(fail=True).write, max_wait=60)
    batches.put(rows(2))
    batches.close()
    assert (batches.recorded, batches.failed) == (0, 2)
