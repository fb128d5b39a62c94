"""Per-camera detection filters, as Frigate has them: per-class minimum score, box area bounds
(a share of the frame) and ignore masks (a detection anchored inside a mask is dropped).

Applied after the camera's classes and ``min_score`` (:meth:`Detections.keep`), before tracks
and zones see the detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from shared.domain.detections import Detections
from shared.domain.registry import CameraRules
from shared.domain.zones import Anchor


def polygon_mask(polygon: list[list[float]], frame_size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """A filled ``(H, W)`` mask of a normalised polygon (edge pixels included)."""
    width, height = frame_size
    points = np.round(np.array(polygon) * [width, height]).astype(np.int32)
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [points], 1)
    return mask


@dataclass(frozen=True)
class CameraFilter:
    """The filters of one camera's rules; :meth:`apply` is pure."""

    rules: CameraRules

    def apply(self, detections: Detections, frame_size: tuple[int, int]) -> Detections:
        """The detections that pass every filter of the rules (the others dropped)."""
        width, height = frame_size
        if len(detections) == 0 or width <= 0 or height <= 0:
            return detections
        keep = np.ones(len(detections), bool)
        for name, score in (self.rules.min_scores or {}).items():
            keep &= ~((detections.class_name == name) & (detections.confidence < score))
        xyxy = detections.xyxy
        area = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]) / (width * height)
        if self.rules.min_area is not None:
            keep &= area >= self.rules.min_area
        if self.rules.max_area is not None:
            keep &= area <= self.rules.max_area
        if self.rules.masks:
            masked = np.zeros((height, width), np.uint8)
            for polygon in self.rules.masks:
                masked |= polygon_mask(polygon, frame_size)
            pts = Anchor.BOTTOM_CENTER.points(xyxy)
            x = np.clip(np.floor(pts[:, 0]).astype(int), 0, width - 1)
            y = np.clip(np.floor(pts[:, 1]).astype(int), 0, height - 1)
            keep &= ~masked[y, x].astype(bool)
        return detections if keep.all() else detections.filter(keep)


def camera_filter(rules: CameraRules) -> CameraFilter:
    """The filter of a camera's rules."""
    return CameraFilter(rules)
