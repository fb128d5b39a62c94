"""Processing one camera: fetch, decode, dedup through the cache, detect, record.

The same code serves the HTTP function (on demand) and the Pub/Sub camera worker (sweeps).
A camera with a burst fetches several frames; the last one is processed as a lone frame is,
and when it is new the earlier ones are decoded, detected with it in one batch and applied to
the tracks first, each at its own time (see docs/design/detection.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from shared import metrics
from shared.adapters.bursts import BurstFrame
from shared.adapters.cache import Cache
from shared.adapters.frame_sources import FrameSource
from shared.adapters.warehouse import Warehouse
from shared.detection.port import Detector
from shared.domain.detections import Detections
from shared.domain.filters import camera_filter
from shared.domain.frames import Frame, FramePolicy, RawFrame, bytes_hash
from shared.domain.observations import CachedResult, FrameFailure, FrameInfo, Observation
from shared.domain.registry import ROAD_USERS, Camera, Registry
from shared.errors import FrameError
from shared.service_layer.bursts import decode_earlier, fetch_camera, offset_ms
from shared.service_layer.idempotency import (
    bytes_key,
    frame_key,
    last_frame_key,
    row_id,
    write_once,
)
from shared.service_layer.tracking import CameraTracker
from shared.service_layer.violations import ViolationRecorder
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Seen:
    """What the cache (and, on a miss, the decoder) knows about a fetched frame."""

    cached: CachedResult | None
    since_ms: int
    digest: str
    size: tuple[int, int]
    image: npt.NDArray[np.uint8] | None  # None: a cache hit that needed no decoding
    bytes_digest: str | None


class _Stopwatch:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = round((now - self._last) * 1000, 3)
        self._last = now

    def so_far(self) -> dict[str, float]:
        return {**self.ms, "total": round((time.perf_counter() - self._start) * 1000, 3)}


@dataclass
class CameraProcessor:
    """Processes cameras with the adapters it is given (see ``shared.bootstrap``)."""

    settings: Settings
    registry: Registry
    frames: FrameSource
    detector: Detector
    cache: Cache
    warehouse: Warehouse
    violations: ViolationRecorder
    tracks: CameraTracker | None = None  # None: from the cache and the settings

    def __post_init__(self) -> None:
        if self.tracks is None:
            self.tracks = CameraTracker.from_settings(self.cache, self.settings)

    def process(
        self, camera_id: str, request_id: str = "", sweep_id: str | None = None
    ) -> Observation:
        """Process one camera now (its HTTP answer: ``Observation.as_answer``).

        On demand (no ``sweep_id``) a repeated frame adds no row. A sweep records every camera
        once per sweep, cache hit or not: analysts need a sample per camera per sweep.

        Raises:
            CameraNotFoundError: the id is not registered.
            FrameError: the camera gave no usable frame (a health row is recorded first).
            DependencyUnavailableError: Redis, BigQuery or storage is down; nothing was lost.
        """
        camera = self.registry.get(camera_id)
        # A sweep job's message id owns its claims (its redelivery may take them back).
        owner = request_id if sweep_id else ""
        event_time = datetime.now(UTC)
        now_ms = int(event_time.timestamp() * 1000)
        stale_after = camera.rules.stale_after_s or self.settings.stale_after_s
        watch = _Stopwatch()
        try:
            fetched = fetch_camera(self.frames, camera)
            raw = fetched.raw
            watch.lap("fetch")
            seen = self._resolve(camera.id, raw, now_ms, 2 * stale_after, watch)
        except FrameError as exc:
            self._record_failure(camera, event_time, exc, request_id, sweep_id, owner)
            raise
        frame = self._frame_info(camera, raw, seen, now_ms, stale_after)
        # A burst's earlier frames with their detections (only when the last frame is new).
        before: list[tuple[Frame, BurstFrame, Detections]] = []
        if seen.cached is not None:
            metrics.CACHE.labels("hit").inc()
            detections, model = seen.cached.detections, seen.cached.model
        else:
            metrics.CACHE.labels("miss").inc()
            decoded = decode_earlier(self._policy, camera.id, fetched.earlier)
            assert seen.image is not None  # a miss was decoded
            images = [f.image for f, _ in decoded] + [seen.image]
            each = self._detect(camera, images, [b.raw.data for _, b in decoded] + [raw.data])
            before = [(f, b, d) for (f, b), d in zip(decoded, each, strict=False)]
            detections, model = each[-1], self.detector.model
            watch.lap("detect")
        # Before anything is recorded: a failure leaves a miss to retry, and the retry (the same
        # frame again) moves no track. A hit of the last frame keeps its tracks alive.
        assert self.tracks is not None
        for then, item, found_then in before:
            self.tracks.observe(camera.id, then.hash, found_then, now_ms + offset_ms(item))
        tracked = self.tracks.observe(camera.id, frame.hash, detections, now_ms + fetched.at_ms)
        watch.lap("tracks")
        observation = Observation(
            # A sweep: one row per camera, whatever frame a retry sees. On demand: per frame.
            observation_id=row_id(camera.id, "sweep", sweep_id)
            if sweep_id
            else row_id(camera.id, frame.hash, frame.status),
            camera_id=camera.id,
            request_id=request_id,
            sweep_id=sweep_id,
            event_time=event_time.isoformat(),
            cache="hit" if seen.cached else "miss",
            frame=frame,
            detections=detections,
            model=model,
            track_ids=tracked.track_ids,
            burst_frames=len(before) + 1,
        )
        if seen.cached is None and seen.image is not None:  # a new frame: look for violations
            found = self.violations.record(
                camera, observation, raw, seen.image, tracked, now_ms + fetched.at_ms, owner
            )
            observation = replace(observation, violations=found)
            watch.lap("violations")
        # On demand, a repeated frame was recorded when first processed (a stale one once more).
        if seen.cached is None or frame.status == "stale" or sweep_id:
            observation = replace(observation, latency_ms=watch.so_far())
            written = write_once(self.cache, self.warehouse, observation, owner)
            observation = replace(observation, recorded=written)
            watch.lap("warehouse")
        if seen.cached is None:
            # Cached only once the row is written: a failed write leaves a miss to retry.
            self._remember(camera.id, seen, observation)
            watch.lap("cache_store")
        observation = replace(observation, latency_ms=watch.so_far())
        metrics.observe_stages(observation.latency_ms)
        log.info(
            "camera processed",
            extra={
                "camera_id": camera.id,
                "cache": observation.cache,
                "counts": detections.counts(),
                "latency_ms": observation.latency_ms,
            },
        )
        return observation

    def _frame_info(
        self, camera: Camera, raw: RawFrame, seen: _Seen, now_ms: int, stale_after: int
    ) -> FrameInfo:
        """The frame as reported; stale when the camera has served it over ``stale_after``."""
        stale_for_s = round(max(0, now_ms - seen.since_ms) / 1000, 3)
        status: Literal["ok", "stale"] = "stale" if stale_for_s > stale_after else "ok"
        if status == "stale":
            metrics.STALE_FRAMES.inc()
            log.warning(
                "camera is stale", extra={"camera_id": camera.id, "stale_for_s": stale_for_s}
            )
        width, height = seen.size
        return FrameInfo(seen.digest, width, height, raw.source_kind, status, stale_for_s)

    def _detect(
        self,
        camera: Camera,
        images: list[npt.NDArray[np.uint8]],
        encoded: list[bytes | None],
    ) -> list[Detections]:
        """The road users the camera's rules keep (classes, scores, box areas, masks), per
        image; several images (a burst) go to the detector in one batch."""
        rule = camera.rules.min_score
        min_score = rule if rule is not None else self.settings.score_threshold
        if len(images) == 1:
            found = [self.detector.detect(images[0], encoded[0])]
        else:
            found = self.detector.detect_many(images, encoded)
        keep = camera_filter(camera.rules)
        return [
            keep.apply(f.keep(camera.rules.classes or ROAD_USERS, min_score), _size(image))
            for f, image in zip(found, images, strict=True)
        ]

    def _remember(self, camera_id: str, seen: _Seen, observation: Observation) -> None:
        """Cache the result, and the alias from the frame's bytes to its hash."""
        aliases = {}
        if seen.bytes_digest:
            aliases[bytes_key(camera_id, seen.bytes_digest)] = seen.digest
        self.cache.store(
            frame_key(camera_id, seen.digest),
            CachedResult(observation.detections, observation.model, seen.size),
            self.settings.cache_ttl_s,
            aliases,
        )

    def _resolve(
        self, camera_id: str, raw: RawFrame, now_ms: int, history_s: int, watch: _Stopwatch
    ) -> _Seen:
        """The frame's hash, size and cached result; decodes only what the cache does not know.

        Fast path: these exact bytes were decoded before, so the alias gives their frame hash
        and the cached result its size, and nothing is decoded.
        """
        bytes_digest = bytes_hash(raw.data) if raw.data else None
        digest = self.cache.get(bytes_key(camera_id, bytes_digest)) if bytes_digest else None
        if digest:
            cached, since_ms = self._lookup(camera_id, digest, now_ms, history_s)
            if cached is not None and cached.size is not None:  # older entries lack the size
                watch.lap("cache")
                return _Seen(cached, since_ms, digest, cached.size, None, bytes_digest)
        frame = self._policy.decode(raw)
        watch.lap("decode")
        cached, since_ms = self._lookup(camera_id, frame.hash, now_ms, history_s)
        watch.lap("cache")
        return _Seen(cached, since_ms, frame.hash, frame.size, frame.image, bytes_digest)

    @property
    def _policy(self) -> FramePolicy:
        """Camera frames: the configured byte, pixel, minimum-side and concurrency limits."""
        s = self.settings
        return FramePolicy(
            s.max_frame_bytes, s.max_frame_pixels, s.min_frame_side, s.max_concurrent_decodes
        )

    def _lookup(
        self, camera_id: str, digest: str, now_ms: int, history_s: int
    ) -> tuple[CachedResult | None, int]:
        """The cached result of the model in use (a new model invalidates the cache)."""
        cached, since_ms = self.cache.lookup(
            frame_key(camera_id, digest), last_frame_key(camera_id), digest, now_ms, history_s
        )
        if cached is not None and cached.model.sha256 != self.detector.model.sha256:
            cached = None
        return cached, since_ms

    def _record_failure(
        self,
        camera: Camera,
        event_time: datetime,
        exc: FrameError,
        request_id: str,
        sweep_id: str | None,
        owner: str,
    ) -> None:
        metrics.FRAME_ERRORS.labels(exc.kind).inc()
        log.warning(
            "camera gave no frame",
            extra={"camera_id": camera.id, "kind": exc.kind, "error": exc.message},
        )
        failure = FrameFailure(
            observation_id=row_id(camera.id, exc.kind, event_time.isoformat()),
            camera_id=camera.id,
            event_time=event_time.isoformat(),
            kind=exc.kind,
            error=exc.message,
            source_kind=camera.source.split("://", 1)[0] if "://" in camera.source else "file",
            request_id=request_id,
            sweep_id=sweep_id,
        )
        write_once(self.cache, self.warehouse, failure, owner)


def _size(image: npt.NDArray[np.uint8]) -> tuple[int, int]:
    """``(width, height)`` of an image."""
    height, width = image.shape[:2]
    return width, height
