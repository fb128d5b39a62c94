"""The Batcher: dynamic batching from one bounded queue, refusals and deadlines."""

from __future__ import annotations

import threading
import time

import pytest

from shared.detection.batching import Batcher
from shared.errors import OverloadedError, QueueTimeoutError


def recording(sizes: list[int], pause_s: float = 0.0):
    def run(batch: list[int]) -> list[int]:
        sizes.append(len(batch))
        time.sleep(pause_s)
        return [x * 10 for x in batch]

    return run


def test_concurrent_requests_are_gathered_into_batches() -> None:
    sizes: list[int] = []
    batcher = Batcher([recording(sizes)], max_batch=8, max_wait_ms=200, max_queue=64)
    try:
        futures = [batcher.submit(i, 5) for i in range(8)]
        assert [f.result(5) for f in futures] == [i * 10 for i in range(8)]  # in order
        assert sizes == [8]  # one run for eight requests
        assert batcher.run([1, 2, 3], 5) == [10, 20, 30]
        assert batcher.stats.batches == 2
        assert batcher.stats.items == 11
    finally:
        batcher.close()


def test_a_full_queue_refuses_at_once_and_stale_requests_do_not_run() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def blocked(batch: list[int]) -> list[int]:
        gate.wait(5)
        return recording(sizes)(batch)

    batcher = Batcher([blocked], max_batch=1, max_wait_ms=0, max_queue=2)
    try:
        first = batcher.submit(0, 5)  # taken by the worker, which blocks
        time.sleep(0.2)
        stale = batcher.submit(1, 0.05)  # will be past its deadline when its turn comes
        batcher.submit(2, 5)
        with pytest.raises(OverloadedError, match="queue full"):
            batcher.submit(3, 5)
        time.sleep(0.1)
        gate.set()
        assert first.result(5) == 0
        with pytest.raises(QueueTimeoutError):
            stale.result(5)
        assert sizes == [1, 1]
        assert batcher.stats.refused == 1
        assert batcher.stats.expired == 1
    finally:
        batcher.close()


def test_a_failed_batch_fails_each_request_and_parallel_workers_share_the_queue() -> None:
    def broken(batch: list[int]) -> list[int]:
        raise RuntimeError("session died")

    batcher = Batcher([broken], max_batch=4, max_wait_ms=10, max_queue=8)
    try:
        with pytest.raises(RuntimeError, match="session died"):
            batcher.run([1, 2], 5)
    finally:
        batcher.close()
    sizes: list[int] = []
    workers = Batcher([recording(sizes, 0.2), recording(sizes, 0.2)], 1, 0, 8)
    try:
        started = time.monotonic()
        assert workers.run([1, 2], 5) == [10, 20]
        assert time.monotonic() - started < 0.35  # two sessions ran side by side
    finally:
        workers.close()
