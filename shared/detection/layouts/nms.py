"""Class-aware non-maximum suppression for the decoders of layouts without NMS in graph."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from shared.detection.layouts import FloatArray, Raw


def nms(
    xyxy: FloatArray,
    scores: FloatArray,
    class_id: npt.NDArray[np.int64],
    iou: float,
    max_detections: int,
) -> npt.NDArray[np.int64]:
    """Class-aware non-maximum suppression (OpenCV's batched NMS); kept indices, best first."""
    if len(xyxy) == 0:
        return np.empty(0, np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
    kept = cv2.dnn.NMSBoxesBatched(  # OpenCV's stubs say Sequence; numpy arrays are taken
        xywh.astype(np.float64),  # type: ignore[arg-type]
        scores.astype(np.float64),  # type: ignore[arg-type]
        class_id.astype(np.int32),  # type: ignore[arg-type]
        0.0,
        iou,
    )
    keep = np.asarray(kept, np.int64).reshape(-1)
    best_first: npt.NDArray[np.int64] = keep[np.argsort(-scores[keep], kind="stable")]
    return best_first[:max_detections]


def suppressed(
    boxes: list[FloatArray],
    scores: list[FloatArray],
    ids: list[npt.NDArray[np.int64]],
    iou: float,
    max_detections: int,
) -> Raw:
    """Candidates in parts (per stride, say) -> the kept boxes, scores and ids, best first."""
    if not boxes:
        return np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64)
    xyxy, score, cid = np.concatenate(boxes), np.concatenate(scores), np.concatenate(ids)
    keep = nms(xyxy, score, cid, iou, max_detections)
    return xyxy[keep], score[keep], cid[keep]
