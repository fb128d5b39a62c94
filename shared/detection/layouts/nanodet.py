"""The ``nanodet`` layout's decoder: per-stride class scores and distance-bin regressions."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from shared.detection.layouts import Raw
from shared.detection.layouts.nms import suppressed
from shared.detection.layouts.preprocess import InputSpec
from shared.errors import ModelError

NANODET_STRIDES = (8, 16, 32, 64)


def decode_nanodet(
    outputs: list[npt.NDArray[Any]],
    b: int,
    spec: InputSpec,
    min_score: float,
    iou: float,
    max_detections: int,
    classes: int,
) -> Raw:
    """Image ``b`` of NanoDet's per-stride class scores and distance-bin regressions."""
    boxes, scores, ids = [], [], []
    for stride, cls, reg in nanodet_heads(outputs, spec, classes):
        score = cls[b]
        best = score.max(axis=1)
        take = np.flatnonzero(best >= min_score)
        if not len(take):
            continue
        grid_w = -(-spec.width // stride)
        cx = (take % grid_w + 0.5) * stride
        cy = (take // grid_w + 0.5) * stride
        bins = reg[b][take].reshape(len(take), 4, -1).astype(np.float32)
        bins = np.exp(bins - bins.max(axis=2, keepdims=True))
        dist = (bins / bins.sum(axis=2, keepdims=True)) @ np.arange(bins.shape[2], dtype=np.float32)
        dist *= stride
        boxes.append(
            np.stack(
                [cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1
            ).astype(np.float32)
        )
        scores.append(best[take].astype(np.float32))
        ids.append(score[take].argmax(axis=1).astype(np.int64))
    return suppressed(boxes, scores, ids, iou, max_detections)


def nanodet_heads(
    outputs: list[npt.NDArray[Any]], spec: InputSpec, classes: int
) -> list[tuple[int, npt.NDArray[Any], npt.NDArray[Any]]]:
    """Pair each stride's class-score and regression outputs by anchor count and width."""
    by_n: dict[int, dict[str, npt.NDArray[Any]]] = {}
    for out in outputs:
        kind = "cls" if out.shape[-1] == classes else "reg"
        by_n.setdefault(out.shape[1], {})[kind] = out
    heads = []
    for stride in NANODET_STRIDES:
        n = -(-spec.width // stride) * -(-spec.height // stride)
        if n in by_n and len(by_n[n]) == 2:
            heads.append((stride, by_n[n]["cls"], by_n[n]["reg"]))
    if len(heads) * 2 != len(outputs):
        raise ModelError(
            f"nanodet outputs do not pair into strides {NANODET_STRIDES} for "
            f"input {spec.width}x{spec.height}"
        )
    return heads
