"""What an evidence image shows: the marks of a frame's detections (each an offender or a
bystander), the camera's zones and the caption (:func:`overlay_for`); drawn by
:mod:`shared.domain.evidence_image`.

A detection is an offender when its track id is an offending violation's, or, where either has
no track id, when its box matches the violation's (IoU >= 0.9). A congestion violation belongs
to a zone: it makes no road user an offender.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from shared.domain.detections import Detections
from shared.domain.registry import Camera
from shared.domain.schedules import time_zone
from shared.domain.timestamps import parse_timestamp
from shared.domain.violations import ViolationRecord

Role = Literal["offender", "bystander"]
Box = tuple[float, float, float, float]

MATCH_IOU = 0.9  # an untracked violation's box and its detection's box
ZONE_VIOLATION = "congestion"  # a zone's violation: no road user is its offender


@dataclass(frozen=True)
class Mark:
    """One detection to draw: its box in pixels ``(x1, y1, x2, y2)`` and its role."""

    box: Box
    class_name: str
    score: float
    track_id: str | None
    role: Role


@dataclass(frozen=True)
class ZoneOutline:
    """A zone to draw: its polygon in normalised coordinates (0..1, x right, y down)."""

    name: str
    type: str  # a ZoneType value
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Overlay:
    """Everything drawn on a frame: marks, zones and the caption banner's lines."""

    marks: tuple[Mark, ...]
    zones: tuple[ZoneOutline, ...]
    caption: tuple[str, ...]


def overlay_for(
    camera: Camera,
    detections: Detections,
    track_ids: Sequence[str | None],
    offenders: Sequence[ViolationRecord],
    event_time: str,
) -> Overlay:
    """What to draw on a camera's frame.

    A detection is an offender when its track id is an offender's, or, where the violation or
    the detection has no track id, when its box matches the violation's (IoU >= 0.9); a
    congestion violation makes no offender. Every other detection is a bystander.

    Args:
        camera: the camera (its zones, its time zone: none means UTC).
        detections: the frame's detections, boxes in the frame's pixels.
        track_ids: one per detection (None: untracked).
        offenders: the violations the frame is evidence of; none for a latest frame.
        event_time: the frame's time, RFC 3339.

    Returns:
        The overlay; its caption has a line per offender (rule, road user, score, track,
        dwell, zone), then the local time and the camera id.

    Raises:
        ValueError: ``track_ids`` is not parallel to ``detections``.
        MessageRejectedError: ``event_time`` is not an RFC 3339 date-time.
    """
    if len(track_ids) != len(detections):
        raise ValueError(f"{len(track_ids)} track ids for {len(detections)} detections")
    culprits = [o for o in offenders if o.type != ZONE_VIOLATION]
    marks = []
    for row, name, score, track in zip(
        detections.xyxy.tolist(),
        detections.class_name,
        detections.confidence.tolist(),
        track_ids,
        strict=True,
    ):
        box = (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
        role: Role = "offender" if any(_is(o, box, track) for o in culprits) else "bystander"
        marks.append(Mark(box, str(name), float(score), track, role))
    zones = tuple(
        ZoneOutline(z.name, z.type.value, tuple((float(x), float(y)) for x, y in z.polygon))
        for z in camera.zones
    )
    caption = (*(_offence(o) for o in offenders), _local_time(camera, event_time))
    return Overlay(tuple(marks), zones, (*caption, f"camera {camera.id}"))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes (0 for empty ones)."""
    inter = overlap(a, b)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def overlap(a: Sequence[float], b: Sequence[float]) -> float:
    """The area two boxes share."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(w, 0.0) * max(h, 0.0)


def _is(offender: ViolationRecord, box: Sequence[float], track: str | None) -> bool:
    """Whether a detection is this violation's road user."""
    if offender.track_id is not None and track is not None:
        return offender.track_id == track
    return iou(offender.box, box) >= MATCH_IOU


def _offence(o: ViolationRecord) -> str:
    """``bus_lane: car 0.84, track t3, dwell 42 s, zone busway``."""
    parts = [f"{o.type}: {o.class_name} {o.confidence:.2f}"]
    if o.track_id is not None:
        parts.append(f"track {o.track_id}")
    if o.dwell_s is not None:
        parts.append(f"dwell {o.dwell_s:.0f} s")
    parts.append(f"zone {o.zone}")
    return ", ".join(parts)


def _local_time(camera: Camera, event_time: str) -> str:
    """``2026-11-30 08:15:02 PST (America/Los_Angeles)``; UTC without a camera time zone."""
    name = camera.timezone or "UTC"
    local = parse_timestamp(event_time).astimezone(time_zone(name))
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({name})"
