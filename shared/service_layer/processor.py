"""Processing one camera: fetch, decode, dedup through the cache, detect, record.

The same code serves the HTTP function and (later) the Pub/Sub camera worker.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from shared import metrics
from shared.adapters.bus import EventBus
from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse
from shared.detection.port import Detector
from shared.domain.detections import Detections
from shared.domain.frames import FrameSource, RawFrame, bytes_hash, decode_frame
from shared.domain.registry import ROAD_USERS, Camera, Registry
from shared.domain.zones import find_violations
from shared.errors import FrameError
from shared.service_layer.idempotency import row_id, write_once
from shared.settings import Settings

log = logging.getLogger(__name__)
ALERT_DEDUP_S = 24 * 3600  # violation:camera:{id}:type:{type}: one alert per ongoing violation


class EvidenceStore(Protocol):
    """Where evidence frames go (the blob store)."""

    def write(self, bucket: str, name: str, data: bytes, content_type: str) -> str:
        """Store the bytes; return their ``gs://`` URI."""
        ...


@dataclass(frozen=True)
class _Seen:
    """What the cache (and, on a miss, the decoder) knows about a fetched frame."""

    cached: dict[str, Any] | None
    since_ms: int
    digest: str
    size: tuple[int, int]
    image: npt.NDArray[np.uint8] | None
    bytes_digest: str | None


class _Stopwatch:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = round((now - self._last) * 1000, 3)
        self._last = now

    def total(self) -> float:
        return round((time.perf_counter() - self._start) * 1000, 3)


@dataclass
class CameraProcessor:
    """Processes cameras with the adapters it is given (see ``shared.bootstrap``)."""

    settings: Settings
    registry: Registry
    frames: FrameSource
    detector: Detector
    cache: Cache
    warehouse: Warehouse
    evidence: EvidenceStore
    bus: EventBus
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="record"), repr=False
    )

    def process(
        self, camera_id: str, request_id: str = "", sweep_id: str | None = None
    ) -> dict[str, Any]:
        """Process one camera now and return the result (see schemas/process_camera_response).

        On demand (no ``sweep_id``) a repeated frame adds no row. A sweep records every camera
        once per sweep, cache hit or not: analysts need a sample per camera per sweep.

        Raises:
            CameraNotFound: the id is not registered.
            FrameError: the camera gave no usable frame (a health row is recorded first).
            DependencyUnavailable: Redis, BigQuery or storage is down; nothing was lost.
        """
        camera = self.registry.get(camera_id)
        event_time = datetime.now(UTC)
        now_ms = int(event_time.timestamp() * 1000)
        stale_after = camera.rules.stale_after_s or self.settings.stale_after_s
        watch = _Stopwatch()
        try:
            raw = self.frames.fetch(camera.source)
            watch.lap("fetch")
            seen = self._resolve(camera.id, raw, now_ms, 2 * stale_after, watch)
        except FrameError as exc:
            self._record_failure(camera, event_time, exc, request_id, sweep_id)
            raise
        cached, since_ms, digest, image = seen.cached, seen.since_ms, seen.digest, seen.image
        width, height = seen.size
        bytes_digest = seen.bytes_digest
        stale_for_s = round(max(0, now_ms - since_ms) / 1000, 3)
        stale = stale_for_s > stale_after
        if cached is not None:
            metrics.CACHE.labels("hit").inc()
            detections = Detections.from_records(cached["detections"])
            model = cached["model"]
        else:
            metrics.CACHE.labels("miss").inc()
            classes = camera.rules.classes or ROAD_USERS
            min_score = (
                camera.rules.min_score
                if camera.rules.min_score is not None
                else self.settings.score_threshold
            )
            assert image is not None
            detections = self.detector.detect(image, raw.data).keep(classes, min_score)
            model = self.detector.model.as_dict()
            watch.lap("detect")
        if stale:
            metrics.STALE_FRAMES.inc()
            log.warning(
                "camera is stale", extra={"camera_id": camera.id, "stale_for_s": stale_for_s}
            )
        status = "stale" if stale else "ok"
        observation_id = row_id(camera.id, digest, status, *([sweep_id] if sweep_id else []))
        result: dict[str, Any] = {
            "camera_id": camera.id,
            "request_id": request_id,
            "sweep_id": sweep_id,
            "event_time": event_time.isoformat(),
            "observation_id": observation_id,
            "cache": "hit" if cached is not None else "miss",
            "frame": {
                "hash": digest,
                "width": width,
                "height": height,
                "source_kind": raw.source_kind,
                "status": status,
                "stale_for_s": stale_for_s,
            },
            "counts": detections.counts(),
            "detections": detections.to_records(),
            "model": model,
        }
        result["violations"] = (
            self._record_violations(camera, result, detections, raw, image)
            if image is not None
            else []
        )
        if image is not None:
            watch.lap("violations")
        # On demand, a repeated frame was recorded when first processed (a stale one once more).
        recorded = False
        if cached is None or stale or sweep_id:
            latency = {**watch.ms, "total": watch.total()}
            recorded = self._write_once(
                "observations", observation_id, _observation_row(result, latency)
            )
            watch.lap("warehouse")
        if cached is None:
            # Cached only once the row is written: a failed write leaves a miss to retry.
            self.cache.store(
                camera.id,
                digest,
                {"detections": result["detections"], "model": model, "size": [width, height]},
                self.settings.cache_ttl_s,
                bytes_digest,
            )
            watch.lap("cache_store")
        result["recorded"] = recorded
        latency_ms = {**watch.ms, "total": watch.total()}
        result["latency_ms"] = latency_ms
        metrics.observe_stages(latency_ms)
        log.info(
            "camera processed",
            extra={
                "camera_id": camera.id,
                "cache": result["cache"],
                "counts": result["counts"],
                "latency_ms": latency_ms,
            },
        )
        return result

    def _record_violations(
        self,
        camera: Camera,
        result: dict[str, Any],
        detections: Detections,
        raw: RawFrame,
        image: npt.NDArray[np.uint8],
    ) -> list[dict[str, Any]]:
        """Write every violation of a new frame; publish (alert) the first of each ongoing one.

        Each violation is a ``violations`` row (idempotent by its id). The Redis key
        ``violation:camera:{id}:type:{type}`` (24 h) lets only the first of an ongoing
        violation reach the ``violations`` topic; a failure releases it so the retry alerts.
        The evidence upload and the rows run side by side; the alerts go out once all are in.
        """
        frame = result["frame"]
        found = find_violations(detections, camera.zones, (frame["width"], frame["height"]))
        if not found:
            return []
        name, data, content_type = _evidence(camera.id, frame["hash"], raw, image)
        bucket = self.settings.evidence_bucket
        records: list[dict[str, Any]] = []
        claims: list[str | None] = []
        for v in found:
            vid = row_id(camera.id, frame["hash"], v.type, v.zone, v.class_name, repr(v.box))
            records.append({
                "violation_id": vid, "camera_id": camera.id, "event_time": result["event_time"],
                "type": v.type, "zone": v.zone, "class_name": v.class_name,
                "confidence": v.confidence,
                "box": dict(zip(("x1", "y1", "x2", "y2"), v.box, strict=True)),
                "observation_id": result["observation_id"],
                "evidence_uri": f"gs://{bucket}/{name}",
            })  # fmt: skip
            dedup = f"violation:camera:{camera.id}:type:{v.type}"
            claims.append(dedup if self.cache.claim(dedup, ALERT_DEDUP_S) else None)
        pending = list(claims)
        try:
            jobs: list[Future[Any]] = [
                self._pool.submit(self.evidence.write, bucket, name, data, content_type)
            ]
            jobs += [self._pool.submit(self._write_once, "violations", r["violation_id"],
                                       {**r, "alerted": c is not None})
                     for r, c in zip(records, claims, strict=True)]  # fmt: skip
            errors = [e for e in (job.exception() for job in jobs) if e is not None]
            if errors:
                raise errors[0]
            for i, (record, claim) in enumerate(zip(records, claims, strict=True)):
                if claim:
                    self.bus.publish(
                        "violations", "violation", [{**record, "sweep_id": result["sweep_id"]}],
                        camera_id=camera.id, type=record["type"],
                    )  # fmt: skip
                    pending[i] = None  # published: the claim stays
        except BaseException:
            for claim in pending:
                if claim:
                    self.cache.release(claim)
            raise
        return [{**r, "alerted": c is not None} for r, c in zip(records, claims, strict=True)]

    def _resolve(
        self, camera_id: str, raw: RawFrame, now_ms: int, history_s: int, watch: _Stopwatch
    ) -> _Seen:
        """The frame's hash, size and cached result; decodes only what the cache does not know.

        Fast path: these exact bytes were decoded before, so the alias gives their frame hash
        and the cached result its size, and nothing is decoded.
        """
        bytes_digest = bytes_hash(raw.data) if raw.data else None
        digest = self.cache.resolve(camera_id, bytes_digest) if bytes_digest else None
        if digest:
            cached, since_ms = self.cache.lookup(camera_id, digest, now_ms, history_s)
            cached = self._current(cached)
            if cached is not None and "size" in cached:  # older entries lack the size
                watch.lap("cache")
                width, height = cached["size"]
                return _Seen(cached, since_ms, digest, (width, height), None, bytes_digest)
        frame = decode_frame(raw, self.settings.max_frame_bytes, self.settings.max_frame_pixels)
        watch.lap("decode")
        cached, since_ms = self.cache.lookup(camera_id, frame.hash, now_ms, history_s)
        cached = self._current(cached)
        watch.lap("cache")
        return _Seen(cached, since_ms, frame.hash, frame.size, frame.image, bytes_digest)

    def _current(self, cached: dict[str, Any] | None) -> dict[str, Any] | None:
        """A cached result of the model in use, else None: a new model invalidates the cache."""
        if cached is None:
            return None
        made_by = (cached.get("model") or {}).get("sha256")
        return cached if made_by == self.detector.model.sha256 else None

    def _record_failure(
        self,
        camera: Camera,
        event_time: datetime,
        exc: FrameError,
        request_id: str,
        sweep_id: str | None,
    ) -> None:
        metrics.FRAME_ERRORS.labels(exc.kind).inc()
        log.warning(
            "camera gave no frame",
            extra={"camera_id": camera.id, "kind": exc.kind, "error": exc.message},
        )
        observation_id = row_id(camera.id, exc.kind, event_time.isoformat())
        row: dict[str, Any] = {
            "observation_id": observation_id,
            "camera_id": camera.id,
            "event_time": event_time.isoformat(),
            "frame_status": exc.kind,
            "error": exc.message,
            "source_kind": camera.source.split("://", 1)[0] if "://" in camera.source else "file",
            "counts": dict.fromkeys(ROAD_USERS, 0),
            "detections": [],
            "request_id": request_id,
            "sweep_id": sweep_id,
        }
        self._write_once("observations", observation_id, row)

    def _write_once(self, table: str, rid: str, row: dict[str, Any]) -> bool:
        return write_once(self.cache, self.warehouse, table, rid, row)


def _evidence(
    camera_id: str, digest: str, raw: RawFrame, image: npt.NDArray[np.uint8]
) -> tuple[str, bytes, str]:
    """Object name, bytes and type of a frame's evidence: the frame as the camera sent it
    (JPEG or PNG, unaltered); a decoded-only frame (video) is encoded as JPEG."""
    data, kind = raw.data or b"", _image_kind(raw.data or b"")
    if kind is None:
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        data, kind = (jpeg.tobytes() if ok else b""), "jpeg"
    name = f"evidence/{camera_id}/{digest}.{'jpg' if kind == 'jpeg' else kind}"
    return name, data, f"image/{kind}"


def _image_kind(data: bytes) -> str | None:
    """``jpeg`` or ``png`` by magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


def _observation_row(result: dict[str, Any], latency: dict[str, float]) -> dict[str, Any]:
    frame = result["frame"]
    return {
        "observation_id": result["observation_id"],
        "camera_id": result["camera_id"],
        "event_time": result["event_time"],
        "frame_hash": frame["hash"],
        "frame_status": frame["status"],
        "source_kind": frame["source_kind"],
        "frame_width": frame["width"],
        "frame_height": frame["height"],
        "cache_status": result["cache"],
        "stale_for_s": frame["stale_for_s"],
        "counts": result["counts"],
        "detections": result["detections"],
        "latency_ms": {
            f"{k}_ms": latency.get(k) for k in ("fetch", "decode", "cache", "detect", "total")
        },
        "model": result["model"],
        "request_id": result["request_id"],
        "sweep_id": result["sweep_id"],
    }
