"""The ``ssd`` layout's decoder: TF-style post-processed SSD outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shared.detection.layouts import Raw
from shared.detection.layouts.preprocess import InputSpec


def decode_ssd(outputs: list[npt.NDArray[Any]], b: int, spec: InputSpec) -> Raw:
    """Image ``b`` of TF-style post-processed SSD outputs (already suppressed in graph)."""
    boxes, classes, scores, count = outputs
    n = int(np.asarray(count).reshape(-1)[b])
    yx = boxes[b].reshape(-1, 4)[:n].astype(np.float32)
    size = np.array([spec.width, spec.height, spec.width, spec.height], np.float32)
    xyxy = yx[:, [1, 0, 3, 2]] * size
    return (
        xyxy,
        scores[b].reshape(-1)[:n].astype(np.float32),
        classes[b].reshape(-1)[:n].astype(np.int64),
    )
