"""What processing one camera produces: an observation of a frame, or a failure to get one.

Each is one ``observations`` row; an :class:`Observation` is also the HTTP answer of
``POST /process/camera/{id}`` (``schemas/process_camera_response.schema.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from shared.domain.detections import Detections, ModelInfo
from shared.domain.registry import ROAD_USERS
from shared.domain.violations import ViolationRecord

ROW_LATENCY_STAGES = ("fetch", "decode", "cache", "detect", "total")


@dataclass(frozen=True)
class FrameInfo:
    """A decoded frame as reported: its hash, size, source and freshness."""

    hash: str
    width: int
    height: int
    source_kind: str
    status: Literal["ok", "stale"]
    stale_for_s: float

    def as_dict(self) -> dict[str, Any]:
        """The ``frame`` object of the HTTP answer."""
        return {
            "hash": self.hash,
            "width": self.width,
            "height": self.height,
            "source_kind": self.source_kind,
            "status": self.status,
            "stale_for_s": self.stale_for_s,
        }


@dataclass(frozen=True)
class CachedResult:
    """What the cache keeps of a processed frame (``vision:camera:{id}:frame:{hash}``)."""

    detections: Detections
    model: ModelInfo
    size: tuple[int, int] | None  # (width, height); None in entries of older versions

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in Redis."""
        body: dict[str, Any] = {
            "detections": self.detections.to_records(),
            "model": self.model.as_dict(),
        }
        if self.size is not None:
            body["size"] = list(self.size)
        return body

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CachedResult:
        """Inverse of :meth:`as_dict`."""
        size = data.get("size")
        return cls(
            Detections.from_records(data["detections"]),
            ModelInfo.from_dict(data.get("model") or {"name": "", "version": "", "sha256": ""}),
            (int(size[0]), int(size[1])) if size else None,
        )


@dataclass(frozen=True)
class Observation:
    """One processed frame of one camera."""

    table: ClassVar[str] = "observations"

    observation_id: str
    camera_id: str
    request_id: str
    sweep_id: str | None
    event_time: str  # ISO 8601, UTC
    cache: Literal["hit", "miss"]
    frame: FrameInfo
    detections: Detections
    model: ModelInfo
    violations: tuple[ViolationRecord, ...] = ()
    recorded: bool = False
    track_ids: tuple[str, ...] = ()  # parallel to the detections (empty: not tracked)
    burst_frames: int = 1  # frames of the camera's burst that were detected (this one last)
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def row_id(self) -> str:
        """The row's id."""
        return self.observation_id

    def as_row(self) -> dict[str, Any]:
        """The ``observations`` row (its latency is what it was when the row was written)."""
        return {
            "observation_id": self.observation_id,
            "camera_id": self.camera_id,
            "event_time": self.event_time,
            "frame_hash": self.frame.hash,
            "frame_status": self.frame.status,
            "source_kind": self.frame.source_kind,
            "frame_width": self.frame.width,
            "frame_height": self.frame.height,
            "cache_status": self.cache,
            "stale_for_s": self.frame.stale_for_s,
            "counts": self.detections.counts(),
            "detections": self.detections.to_records(),
            "latency_ms": {f"{k}_ms": self.latency_ms.get(k) for k in ROW_LATENCY_STAGES},
            "model": self.model.as_dict(),
            "request_id": self.request_id,
            "sweep_id": self.sweep_id,
        }

    def as_answer(self) -> dict[str, Any]:
        """The HTTP answer (``schemas/process_camera_response.schema.json``)."""
        return {
            "camera_id": self.camera_id,
            "request_id": self.request_id,
            "sweep_id": self.sweep_id,
            "event_time": self.event_time,
            "observation_id": self.observation_id,
            "cache": self.cache,
            "frame": self.frame.as_dict(),
            "counts": self.detections.counts(),
            "detections": self._tracked_records(),
            "model": self.model.as_dict(),
            "violations": [v.as_row() for v in self.violations],
            "recorded": self.recorded,
            "burst_frames": self.burst_frames,
            "latency_ms": self.latency_ms,
        }

    def _tracked_records(self) -> list[dict[str, Any]]:
        """The detections, each with its ``track_id`` when the frame was tracked."""
        records = self.detections.to_records()
        if len(self.track_ids) == len(records):
            for record, track_id in zip(records, self.track_ids, strict=True):
                record["track_id"] = track_id
        return records


@dataclass(frozen=True)
class FrameFailure:
    """A camera that gave no usable frame: a camera-health ``observations`` row."""

    table: ClassVar[str] = "observations"

    observation_id: str
    camera_id: str
    event_time: str
    kind: str  # the FrameError kind, e.g. ``timeout``
    error: str
    source_kind: str
    request_id: str
    sweep_id: str | None

    @property
    def row_id(self) -> str:
        """The row's id."""
        return self.observation_id

    def as_row(self) -> dict[str, Any]:
        """The health row: no frame, zero counts."""
        return {
            "observation_id": self.observation_id,
            "camera_id": self.camera_id,
            "event_time": self.event_time,
            "frame_status": self.kind,
            "error": self.error,
            "source_kind": self.source_kind,
            "counts": dict.fromkeys(ROAD_USERS, 0),
            "detections": [],
            "request_id": self.request_id,
            "sweep_id": self.sweep_id,
        }
