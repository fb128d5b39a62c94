"""Dynamic batching, the circuit breaker and the remote detector's retries (no network)."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from shared.detection.batching import Batcher
from shared.detection.breaker import CircuitBreaker
from shared.detection.remote import _Remote
from shared.errors import DependencyUnavailableError, ModelError, OverloadedError, QueueTimeoutError


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


def test_circuit_breaker_opens_fails_fast_and_half_opens() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, open_s=30, clock=lambda: now[0])
    breaker.record(False)
    breaker.check()  # one failure: still closed
    breaker.record(False)
    with pytest.raises(DependencyUnavailableError, match="circuit open after 2 failures"):
        breaker.check()
    now[0] = 31
    breaker.check()  # half-open: one call may try
    breaker.record(True)
    breaker.check()


class Scripted(_Remote):
    """A remote whose answers are scripted: (status, payload)."""

    def __init__(self, answers: list[tuple[int, Any]], retries: int = 3) -> None:
        super().__init__(retries, CircuitBreaker(2, 30), "test service")
        self.answers, self.calls = answers, 0

    def _send(self, instances):
        self.calls += 1
        status, payload = self.answers.pop(0)
        if isinstance(payload, Exception):
            raise payload
        return status, payload, 0.0


PREDICTION = {
    "detections": [
        {
            "class_id": 2,
            "class_name": "car",
            "score": 0.9,
            "box": {"x1": 1, "y1": 2, "x2": 3, "y2": 4},
        }
    ],
    "model": {"name": "m", "version": "v", "sha256": "s"},
}
IMAGE = np.zeros((4, 4, 3), np.uint8)


def test_remote_retries_429_and_503_then_succeeds() -> None:
    remote = Scripted([(429, "busy"), (503, "warming"), (200, [PREDICTION])])
    det = remote.detect(IMAGE, b"\xff\xd8\xff fake jpeg")
    assert remote.calls == 3
    assert det.class_name.tolist() == ["car"]
    assert remote.model.sha256 == "s"  # taken from the prediction


def test_remote_down_is_dependency_unavailable_then_the_circuit_opens() -> None:
    remote = Scripted(
        [(0, ConnectionError("refused"))] * 4 + [(0, ConnectionError("x"))] * 4, retries=3
    )
    with pytest.raises(DependencyUnavailableError, match=r"answered nothing.*after 4 tries"):
        remote.detect(IMAGE)
    with pytest.raises(DependencyUnavailableError, match="answered nothing"):
        remote.detect(IMAGE)
    with pytest.raises(DependencyUnavailableError, match="circuit open"):
        remote.detect(IMAGE)  # fails fast: no call made
    assert remote.calls == 8


def test_remote_does_not_retry_a_request_the_service_refuses() -> None:
    remote = Scripted([(400, "instances[0]: not an image")])
    with pytest.raises(ModelError, match="answered 400"):
        remote.detect(IMAGE)
    assert remote.calls == 1


def test_gpu_providers_come_first_when_the_runtime_has_them(monkeypatch) -> None:
    import onnxruntime as ort

    from shared.detection.runtimes.onnxruntime import providers

    monkeypatch.setattr(
        ort,
        "get_available_providers",
        lambda: ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"],
    )
    assert providers() == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    assert providers(prefer_gpu=False) == ["CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert providers() == ["CPUExecutionProvider"]  # this machine: onnxruntime CPU


def test_service_without_credentials_for_an_id_token_is_unavailable(monkeypatch) -> None:
    from shared.detection.remote import CloudRunDetector

    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "GCE_METADATA_IP"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")  # no metadata server here
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    remote = CloudRunDetector("https://inference.example.run.app", 1, 0, CircuitBreaker(5, 30))
    with pytest.raises(DependencyUnavailableError, match="no ID token for https://inference"):
        remote.detect(IMAGE)


def test_an_answer_that_is_not_the_protocol_is_retried_then_unavailable() -> None:
    remote = Scripted([(0, KeyError("predictions")), (0, ValueError("not JSON"))], retries=1)
    with pytest.raises(DependencyUnavailableError, match="ValueError: not JSON"):
        remote.detect(IMAGE)
    assert remote.calls == 2
