"""The clients of the inference service: retries, refusals, the breaker, ID tokens (no network).

``Scripted`` answers from a script in place of HTTP, so the retry logic of ``_Remote`` (shared
by ``CloudRunDetector`` and ``VertexDetector``) runs as it does against a real service.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shared.detection.breaker import CircuitBreaker
from shared.detection.remote import _Remote
from shared.errors import DependencyUnavailableError, ModelError


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
