"""Zones in a frame's pixels: which boxes are in them, how much of them boxes cover.

The rules that use them are in :mod:`shared.domain.rules`.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np
import numpy.typing as npt

from shared.domain.detections import Detections
from shared.domain.registry import Zone


class Anchor(Enum):
    """The point of a box that decides whether it is in a zone."""

    BOTTOM_CENTER = "bottom_center"
    CENTER = "center"

    def points(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """``(N, 2)`` anchor points of ``(N, 4)`` boxes."""
        x = (xyxy[:, 0] + xyxy[:, 2]) / 2
        y = xyxy[:, 3] if self is Anchor.BOTTOM_CENTER else (xyxy[:, 1] + xyxy[:, 3]) / 2
        return np.stack([x, y], axis=1)


class PolygonZone:
    """A registry zone in the pixels of one frame size, as a filled mask."""

    def __init__(self, zone: Zone, frame_size: tuple[int, int]) -> None:
        width, height = frame_size
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {frame_size}")
        self.zone = zone
        self.polygon = np.round(np.array(zone.polygon) * [width, height]).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [self.polygon], 1)
        self._mask = mask
        self._integral = cv2.integral(mask)  # (H+1, W+1) counts of zone pixels

    def contains(
        self, detections: Detections, anchor: Anchor = Anchor.BOTTOM_CENTER
    ) -> npt.NDArray[np.bool_]:
        """Whether each detection's anchor lies in the zone (edge pixels included)."""
        if len(detections) == 0:
            return np.zeros(0, bool)
        height, width = self._mask.shape
        pts = anchor.points(detections.xyxy)
        x = np.clip(np.floor(pts[:, 0]).astype(int), 0, width - 1)
        y = np.clip(np.floor(pts[:, 1]).astype(int), 0, height - 1)
        inside: npt.NDArray[np.bool_] = self._mask[y, x].astype(bool)
        return inside

    def overlap(self, detections: Detections) -> npt.NDArray[np.float32]:
        """Fraction (0..1) of each box's pixels that lie in the zone."""
        if len(detections) == 0:
            return np.zeros(0, np.float32)
        height, width = self._mask.shape
        box = np.round(detections.xyxy).astype(int)
        x1, x2 = np.clip(box[:, 0], 0, width), np.clip(box[:, 2], 0, width)
        y1, y2 = np.clip(box[:, 1], 0, height), np.clip(box[:, 3], 0, height)
        s = self._integral
        inside = s[y2, x2] - s[y1, x2] - s[y2, x1] + s[y1, x1]
        area = np.maximum((x2 - x1) * (y2 - y1), 1)
        share: npt.NDArray[np.float32] = (inside / area).astype(np.float32)
        return share

    def covered_share(self, xyxy: npt.NDArray[np.float32]) -> float:
        """Share (0..1) of the zone's pixels under at least one of the ``(N, 4)`` boxes."""
        zone_pixels = int(self._integral[-1, -1])
        if zone_pixels == 0 or len(xyxy) == 0:
            return 0.0
        height, width = self._mask.shape
        covered = np.zeros_like(self._mask)
        for x1, y1, x2, y2 in np.round(xyxy).astype(int):
            covered[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)] = 1
        return float(np.count_nonzero(covered & self._mask)) / zone_pixels


def confidence(
    score: npt.NDArray[np.float32], overlap: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """A finding's confidence before the time part: ``score x (0.5 + 0.5 x overlap)``, 0..1.

    ``score`` is the detection score, ``overlap`` the share of the box inside the zone (clipped
    to 0..1: a box fully inside keeps its score, one barely inside half of it). Dwell rules
    multiply it by :func:`shared.domain.lifecycle.dwell_factor`.
    """
    factor = 0.5 + 0.5 * np.clip(overlap, 0.0, 1.0)
    result: npt.NDArray[np.float32] = (score * factor).astype(np.float32)
    return result
