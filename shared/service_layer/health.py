"""What the workers record for the monitor, in Redis (never BigQuery): each camera's sweeps
and the detector's calls. Recording is best effort: a Redis failure is logged, never raised
(the job or the detection it describes has happened either way)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from shared.adapters.cache import Cache
from shared.detection.port import Detector
from shared.domain.detections import Detections, ModelInfo
from shared.domain.health import CameraHealth, InferenceStats
from shared.domain.observations import Observation
from shared.service_layer.idempotency import camera_health_key, inference_health_key

log = logging.getLogger(__name__)

T = TypeVar("T")
CAMERA_HEALTH_S = 24 * 3600  # a camera swept no more is forgotten after a day


def record_sweep(
    cache: Cache,
    camera_id: str,
    now: float,
    observation: Observation | None = None,
    error: tuple[str, str] | None = None,
) -> CameraHealth | None:
    """Record one sweep of a camera: a frame (``observation``) or a frame error
    (``error``: kind, message). Returns the camera's health, or None if Redis failed."""

    def change(current: str | None) -> tuple[str, CameraHealth]:
        health = CameraHealth.from_json(current)
        if observation is not None:
            health = health.after_frame(now, observation.frame.status == "stale")
        elif error is not None:
            health = health.after_error(now, *error)
        return health.to_json(), health

    try:
        return cache.update(camera_health_key(camera_id), change, CAMERA_HEALTH_S)
    except Exception as exc:  # best effort: the job's outcome stands
        log.warning(
            "camera health not recorded",
            extra={"camera_id": camera_id, "error": f"{type(exc).__name__}: {exc}"[:500]},
        )
        return None


def camera_health(cache: Cache, camera_ids: Sequence[str]) -> dict[str, CameraHealth]:
    """Each camera's recorded health (healthy when nothing is recorded); raises if Redis is
    down."""
    values = cache.get_many([camera_health_key(c) for c in camera_ids])
    return {c: CameraHealth.from_json(v) for c, v in zip(camera_ids, values, strict=True)}


def inference_stats(cache: Cache, now: float, window_s: int) -> InferenceStats:
    """The detector's calls in the last ``window_s`` (whole minutes, this one included)."""
    last = int(now) // 60
    minutes = range(last - max(1, window_s // 60) + 1, last + 1)
    stats = InferenceStats()
    for value in cache.get_many([inference_health_key(m) for m in minutes]):
        stats = stats.merge(InferenceStats.from_json(value))
    return stats


class MeteredDetector:
    """A detector that counts its calls, failures and latency in per-minute Redis buckets
    (``health:inference:{minute}``, kept for two windows)."""

    def __init__(
        self,
        inner: Detector,
        cache: Cache,
        window_s: int,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.inner = inner
        self._cache = cache
        self._ttl_s = 2 * window_s + 60
        self._clock = clock
        self._timer = timer

    @property
    def model(self) -> ModelInfo:
        """The inner detector's model."""
        return self.inner.model

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)  # ping, close: as the inner detector has them

    def detect(self, image: npt.NDArray[np.uint8], encoded: bytes | None = None) -> Detections:
        """The inner detector's, metered."""
        return self._metered(lambda: self.inner.detect(image, encoded))

    def detect_many(
        self, images: list[npt.NDArray[np.uint8]], encoded: list[bytes | None] | None = None
    ) -> list[Detections]:
        """The inner detector's, metered as one call."""
        return self._metered(lambda: self.inner.detect_many(images, encoded))

    def _metered(self, call: Callable[[], T]) -> T:
        start = self._timer()
        failed = True
        try:
            result = call()
            failed = False
            return result
        finally:
            self.record((self._timer() - start) * 1000.0, failed)

    def record(self, latency_ms: float, failed: bool) -> None:
        """Count one call in this minute's bucket; a Redis failure is logged, not raised."""
        key = inference_health_key(int(self._clock()) // 60)

        def change(current: str | None) -> tuple[str, None]:
            return InferenceStats.from_json(current).record(latency_ms, failed).to_json(), None

        try:
            self._cache.update(key, change, self._ttl_s)
        except Exception as exc:  # best effort: the detection stands
            log.warning("inference call not metered", extra={"error": str(exc)[:500]})
