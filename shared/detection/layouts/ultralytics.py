"""The ``ultralytics`` layout's decoder: YOLOv8/YOLO11 exports, ``[B, 4+C, N]``."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shared.detection.layouts import Raw
from shared.detection.layouts.nms import suppressed


def decode_ultralytics(
    outputs: list[npt.NDArray[Any]], b: int, min_score: float, iou: float, max_detections: int
) -> Raw:
    """Image ``b`` of a YOLOv8/YOLO11 export: ``[B, 4+C, N]`` rows of cx, cy, w, h, scores."""
    rows = outputs[0][b]
    class_scores = rows[4:]
    best = class_scores.max(axis=0)
    take = np.flatnonzero(best >= min_score)
    cx, cy, w, h = rows[:4, take].astype(np.float32)
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    ids = class_scores[:, take].argmax(axis=0).astype(np.int64)
    return suppressed([xyxy], [best[take].astype(np.float32)], [ids], iou, max_detections)
