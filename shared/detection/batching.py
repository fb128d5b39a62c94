"""Dynamic batching: concurrent requests are gathered into batches and run together.

Each of ``workers`` threads takes the oldest waiting request, gathers more until it has
``max_batch`` or ``max_wait_ms`` has passed, and runs them as one batch. A graph with a fixed
batch of one gets ``max_batch=1`` and several workers instead, each with its own session.
The queue is bounded: a full queue refuses at once (:class:`OverloadedError`, HTTP 429) rather than
letting latency grow without end; a request whose deadline passes while queued is dropped
(:class:`QueueTimeoutError`, HTTP 503) without running.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared import metrics
from shared.errors import OverloadedError, QueueTimeoutError

In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Item(Generic[In, Out]):
    value: In
    deadline: float
    future: Future[Out]


@dataclass
class BatchStats:
    """Counters for /metrics and the benchmarks."""

    batches: int = 0
    items: int = 0
    refused: int = 0
    expired: int = 0


class Batcher(Generic[In, Out]):
    """Runs ``run_batch`` on gathered requests; one ``run_batch`` per worker thread."""

    def __init__(
        self,
        run_batch: Sequence[Callable[[list[In]], list[Out]]],
        max_batch: int,
        max_wait_ms: float,
        max_queue: int,
    ) -> None:
        if max_batch < 1 or max_queue < 1 or not run_batch:
            raise ValueError("max_batch, max_queue and workers must be at least 1")
        self._max_batch = max_batch
        self._max_wait = max_wait_ms / 1000
        self._queue: queue.Queue[_Item[In, Out]] = queue.Queue(max_queue)
        self.stats = BatchStats()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, args=(run,), name=f"batcher-{i}", daemon=True)
            for i, run in enumerate(run_batch)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, value: In, timeout_s: float) -> Future[Out]:
        """Queue one request; raise :class:`OverloadedError` at once when the queue is full."""
        item: _Item[In, Out] = _Item(value, time.monotonic() + timeout_s, Future())
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.stats.refused += 1
            raise OverloadedError(f"inference queue full ({self._queue.maxsize} waiting)") from None
        return item.future

    def run(self, values: list[In], timeout_s: float) -> list[Out]:
        """Submit every value and wait for all (each within ``timeout_s``)."""
        futures = [self.submit(v, timeout_s) for v in values]
        deadline = time.monotonic() + timeout_s
        out = []
        for future in futures:
            try:
                out.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except TimeoutError:
                raise QueueTimeoutError(f"no result within {timeout_s} s") from None
        return out

    def depth(self) -> int:
        """Requests waiting."""
        return self._queue.qsize()

    def close(self) -> None:
        """Stop the workers (queued requests fail)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _work(self, run_batch: Callable[[list[In]], list[Out]]) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            items = [first]
            gather_until = time.monotonic() + self._max_wait
            while len(items) < self._max_batch:
                left = gather_until - time.monotonic()
                try:
                    items.append(
                        self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                    )
                except queue.Empty:
                    break
            now = time.monotonic()
            live = []
            for item in items:
                if item.deadline < now:
                    self.stats.expired += 1
                    item.future.set_exception(QueueTimeoutError("deadline passed while queued"))
                elif item.future.set_running_or_notify_cancel():
                    live.append(item)
            if not live:
                continue
            metrics.BATCH_SIZE.observe(len(live))
            try:
                results = run_batch([item.value for item in live])
            except Exception as exc:  # the batch failed: every request in it gets the error
                for item in live:
                    item.future.set_exception(exc)
                continue
            self.stats.batches += 1
            self.stats.items += len(live)
            for item, result in zip(live, results, strict=True):
                item.future.set_result(result)
