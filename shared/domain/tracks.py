"""Tracks: one road user followed across a camera's frames, by box overlap (IoU).

Frames are minutes apart (one per sweep), so there is no motion model: a detection continues
the open track of its class whose last box it overlaps most, in the one-to-one assignment of
largest total IoU (``scipy.optimize.linear_sum_assignment``). A track left unmatched survives
``max_gap_s`` (a missed detection, a bus passing in front) and then ends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from shared.domain.detections import Detections
from shared.domain.records import Box, rounded_box

_FORBIDDEN = 0.0  # a pair that may not match (other class, too little overlap) adds nothing


@dataclass(frozen=True)
class TrackConfig:
    """How detections are associated into tracks.

    Attributes:
        min_iou: least IoU of a detection with a track's last box to continue it (0.3).
        stationary_iou: IoU with the previous box above which the road user has not moved
            (0.85: a few pixels of box jitter on a car).
        max_gap_s: how long a track survives unseen before it ends (900 s: two missed
            5-minute sweeps, or a bus hiding a parked car for a few minutes). A track unseen
            longer ends before the frame is associated, so it is never continued.
    """

    min_iou: float = 0.3
    stationary_iou: float = 0.85
    max_gap_s: float = 900.0


@dataclass(frozen=True)
class Track:
    """One road user followed across frames; times are Unix epoch milliseconds."""

    track_id: str
    class_name: str
    box: Box  # the last matched box
    first_seen_ms: int
    last_seen_ms: int  # last matched (or shown again in a repeated frame)
    stationary_since_ms: int | None = None  # since when it has not moved (see Tracker._seen)
    misses: int = 0  # frames in a row without it
    box_seen_ms: int | None = None  # when ``box`` was observed in a new frame (None: first_seen)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form kept in Redis."""
        return {
            "id": self.track_id,
            "class_name": self.class_name,
            "box": list(self.box),
            "first_seen_ms": self.first_seen_ms,
            "last_seen_ms": self.last_seen_ms,
            "stationary_since_ms": self.stationary_since_ms,
            "misses": self.misses,
            "box_seen_ms": self.box_seen_ms,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Track:
        """Inverse of :meth:`as_dict`."""
        x1, y1, x2, y2 = (float(v) for v in data["box"])
        since = data.get("stationary_since_ms")
        box_seen = data.get("box_seen_ms")
        return cls(
            str(data["id"]),
            str(data["class_name"]),
            (x1, y1, x2, y2),
            int(data["first_seen_ms"]),
            int(data["last_seen_ms"]),
            None if since is None else int(since),
            int(data.get("misses", 0)),
            None if box_seen is None else int(box_seen),
        )


@dataclass(frozen=True)
class CameraTracks:
    """A camera's open tracks and the frame they were last updated with."""

    frame_hash: str
    tracks: tuple[Track, ...] = ()

    def to_json(self) -> str:
        """The JSON document kept in Redis."""
        return json.dumps({"frame": self.frame_hash, "tracks": [t.as_dict() for t in self.tracks]})

    @classmethod
    def from_json(cls, text: str | None) -> CameraTracks:
        """Inverse of :meth:`to_json`; nothing stored is no tracks."""
        if not text:
            return cls("")
        data = json.loads(text)
        return cls(str(data["frame"]), tuple(Track.from_dict(t) for t in data["tracks"]))


@dataclass(frozen=True)
class TrackUpdate:
    """The result of one frame: open tracks, each detection's track id, the tracks that ended."""

    state: CameraTracks
    track_ids: tuple[str, ...]  # parallel to the frame's detections
    ended: tuple[Track, ...]


def iou_matrix(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """IoU of every box of ``a`` ``(N, 4)`` with every box of ``b`` ``(M, 4)``: ``(N, M)``."""
    a = np.asarray(a, np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, np.float64).reshape(-1, 4)[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    out: npt.NDArray[np.float64] = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return out


def assign(iou: npt.NDArray[np.float64], allowed: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The one-to-one pairs (row, column) of largest total IoU among the allowed ones."""
    if iou.size == 0:
        return []
    cost = np.where(allowed, -iou, _FORBIDDEN)
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if allowed[r, c]]


@dataclass(frozen=True)
class Tracker:
    """Associates a frame's detections with a camera's open tracks (pure; ids injected)."""

    config: TrackConfig
    new_id: Callable[[], str]

    def update(
        self, state: CameraTracks, frame_hash: str, detections: Detections, now_ms: int
    ) -> TrackUpdate:
        """The tracks after a frame seen at ``now_ms``.

        A frame equal to the last one applied (the camera repeats it, or a retry) moves nothing:
        the tracks it shows are kept alive (``last_seen_ms``) and their stationary time is not
        judged, since an identical frame says nothing about motion.
        """
        repeated = bool(frame_hash) and frame_hash == state.frame_hash
        gap_ms = self.config.max_gap_s * 1000
        ended = [t for t in state.tracks if now_ms - t.last_seen_ms > gap_ms]
        tracks = [t for t in state.tracks if now_ms - t.last_seen_ms <= gap_ms]
        boxes = np.asarray(detections.xyxy, np.float64).reshape(-1, 4)
        names = [str(n) for n in detections.class_name]
        iou = iou_matrix(np.array([t.box for t in tracks]).reshape(-1, 4), boxes)
        same_class = np.array(
            [[t.class_name == n for n in names] for t in tracks], dtype=bool
        ).reshape(len(tracks), len(names))
        pairs = assign(iou, same_class & (iou >= self.config.min_iou))
        ids: list[str | None] = [None] * len(names)
        kept: list[Track] = []
        matched = dict(pairs)
        for i, track in enumerate(tracks):
            if i in matched:
                j = matched[i]
                ids[j] = track.track_id
                kept.append(self._seen(track, rounded_box(boxes[j]), iou[i, j], now_ms, repeated))
            else:
                kept.append(replace(track, misses=track.misses + 1))
        for j, name in enumerate(names):
            if ids[j] is None:
                track = Track(self.new_id(), name, rounded_box(boxes[j]), now_ms, now_ms)
                ids[j] = track.track_id
                kept.append(track)
        return TrackUpdate(
            CameraTracks(frame_hash, tuple(kept)),
            tuple(i for i in ids if i is not None),
            tuple(ended),
        )

    def _seen(self, track: Track, box: Box, iou: float, now_ms: int, repeated: bool) -> Track:
        """A track matched again: moved, stayed, or shown again in a repeated frame.

        It has stayed since the new frame that last showed its box there (it was already in
        place then), unless that frame is over ``max_gap_s`` old (a camera frozen a long time
        in between says nothing of the time between): then since now.
        """
        if repeated:
            return replace(track, last_seen_ms=now_ms, misses=0)
        still = iou > self.config.stationary_iou
        placed = track.first_seen_ms if track.box_seen_ms is None else track.box_seen_ms
        if track.stationary_since_ms is not None:
            placed = track.stationary_since_ms
        elif now_ms - placed > self.config.max_gap_s * 1000:
            placed = now_ms
        since = placed if still else None
        return replace(
            track,
            box=box,
            last_seen_ms=now_ms,
            stationary_since_ms=since,
            misses=0,
            box_seen_ms=now_ms,
        )


def counter_ids(prefix: str = "t") -> Callable[[], str]:
    """Ids ``t1``, ``t2``, ...: deterministic, for tests."""
    n = 0

    def new_id() -> str:
        nonlocal n
        n += 1
        return f"{prefix}{n}"

    return new_id
