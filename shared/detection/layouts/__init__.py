"""Model layouts: how an image becomes an input tensor, and raw outputs become detections.

Three real layouts, each a preprocessing spec and a vectorised decoder:

* ``ssd``: TF-style post-processed SSD (boxes ``[B,K,4]`` as ymin,xmin,ymax,xmax in 0..1,
  classes, scores, count); uint8 NHWC RGB, stretched to the input size.
* ``nanodet``: per stride (8/16/32) class scores ``[B,N,C]`` (sigmoid applied) and distance
  regression ``[B,N,4*(R+1)]`` (softmax expectation of R+1 bins, times the stride, from the
  anchor centre ``(i + 0.5) * stride``); float NCHW BGR with mean/std, stretched. No NMS in graph.
* ``ultralytics``: YOLOv8/YOLO11 export ``[B, 4+C, N]`` (cx, cy, w, h in input pixels, then
  class scores); float NCHW RGB / 255, letterboxed with grey 114. No NMS in graph.

Decoders return boxes in input pixels; :class:`Transform` maps them back to the original image
exactly (the inverse of the resize and padding that preprocessing applied).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from shared.errors import ModelError

FloatArray = npt.NDArray[np.float32]
Raw = tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]  # xyxy (input px), scores, class ids
NANODET_STRIDES = (8, 16, 32, 64)

# COCO-80 in training order (NanoDet and Ultralytics); SSD uses its own label file.
COCO80 = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant "
    "stop_sign parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe "
    "backpack umbrella handbag tie suitcase frisbee skis snowboard sports_ball kite "
    "baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass cup fork "
    "knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake "
    "chair couch potted_plant bed dining_table toilet tv laptop mouse remote keyboard "
    "cell_phone microwave oven toaster sink refrigerator book clock vase scissors teddy_bear "
    "hair_drier toothbrush"
).split()
COCO80 = [name.replace("_", " ") for name in COCO80]


class Layout(StrEnum):
    """The output layouts camwatch decodes."""

    SSD = "ssd"
    NANODET = "nanodet"
    ULTRALYTICS = "ultralytics"


@dataclass(frozen=True)
class InputSpec:
    """How to turn a BGR image into the model's input tensor."""

    width: int
    height: int
    nchw: bool
    dtype: type[np.generic]
    rgb: bool
    letterbox: bool = False
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)  # float input = (pixel - mean) / std
    pad_value: int = 114
    # What the model was trained with: SSD's reference results use INTER_AREA; NanoDet's and
    # Ultralytics' own pipelines resize with INTER_LINEAR (about 10x cheaper).
    interpolation: int = cv2.INTER_LINEAR


_SPECS = {
    Layout.SSD: InputSpec(0, 0, nchw=False, dtype=np.uint8, rgb=True,
                          interpolation=cv2.INTER_AREA),
    Layout.NANODET: InputSpec(0, 0, nchw=True, dtype=np.float32, rgb=False,
                              mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395)),
    Layout.ULTRALYTICS: InputSpec(0, 0, nchw=True, dtype=np.float32, rgb=True, letterbox=True,
                                  std=(255.0, 255.0, 255.0)),
}  # fmt: skip


def input_spec(layout: Layout, width: int, height: int) -> InputSpec:
    """The layout's preprocessing for a model input of ``width`` x ``height``."""
    return replace(_SPECS[layout], width=width, height=height)


@dataclass(frozen=True)
class Transform:
    """Original pixel = (input pixel - pad) / scale, per axis; clipped to the image."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    width: int
    height: int

    def to_original(self, xyxy: FloatArray) -> FloatArray:
        """Boxes in input pixels -> boxes in the original image's pixels."""
        pad = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        scale = np.array([self.scale_x, self.scale_y, self.scale_x, self.scale_y], np.float32)
        limit = np.array([self.width, self.height, self.width, self.height], np.float32)
        return ((xyxy - pad) / scale).clip(0, limit).astype(np.float32)


def preprocess(
    images: list[npt.NDArray[np.uint8]], spec: InputSpec
) -> tuple[npt.NDArray[Any], list[Transform]]:
    """BGR images -> one input batch and, per image, the transform back to its pixels."""
    planes, transforms = [], []
    for image in images:
        height, width = image.shape[:2]
        if spec.letterbox:
            scale = min(spec.width / width, spec.height / height)
            new_w, new_h = round(width * scale), round(height * scale)
            resized = cv2.resize(image, (new_w, new_h), interpolation=spec.interpolation)
            pad_x, pad_y = (spec.width - new_w) // 2, (spec.height - new_h) // 2
            resized = cv2.copyMakeBorder(
                resized, pad_y, spec.height - new_h - pad_y, pad_x, spec.width - new_w - pad_x,
                cv2.BORDER_CONSTANT, value=(spec.pad_value,) * 3,
            )  # fmt: skip
            transforms.append(Transform(new_w / width, new_h / height, pad_x, pad_y, width, height))
        else:
            resized = cv2.resize(image, (spec.width, spec.height), interpolation=spec.interpolation)
            transforms.append(
                Transform(spec.width / width, spec.height / height, 0, 0, width, height)
            )
        planes.append(resized)
    if spec.dtype is np.float32 and spec.nchw:
        # (pixel - mean) / std, channel swap and NCHW in one C++ pass (twice numpy's speed)
        blob = cv2.dnn.blobFromImagesWithParams(planes, _blob_params(spec))
        return np.asarray(blob, np.float32), transforms
    if spec.rgb:
        planes = [cv2.cvtColor(plane, cv2.COLOR_BGR2RGB) for plane in planes]
    batch = np.stack(planes)  # B, H, W, 3 uint8
    if spec.dtype is not np.uint8:
        mean = np.array(spec.mean, np.float32)
        inv_std = np.array([1.0 / s for s in spec.std], np.float32)
        batch = (batch.astype(np.float32) - mean) * inv_std
    if spec.nchw:
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
    return batch.astype(spec.dtype, copy=False), transforms


def _blob_params(spec: InputSpec) -> Any:
    params = cv2.dnn.Image2BlobParams()
    params.scalefactor = (*(1.0 / s for s in spec.std), 0.0)
    params.mean = (*spec.mean, 0.0)
    params.size = (spec.width, spec.height)
    params.swapRB = spec.rgb
    params.ddepth = cv2.CV_32F
    return params


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


def decode_ssd(outputs: list[npt.NDArray[Any]], b: int, spec: InputSpec) -> Raw:
    """Image ``b`` of TF-style post-processed SSD outputs (already suppressed in graph)."""
    boxes, classes, scores, count = outputs
    n = int(np.asarray(count).reshape(-1)[b])
    yx = boxes[b].reshape(-1, 4)[:n].astype(np.float32)
    size = np.array([spec.width, spec.height, spec.width, spec.height], np.float32)
    xyxy = yx[:, [1, 0, 3, 2]] * size
    return (xyxy, scores[b].reshape(-1)[:n].astype(np.float32),
            classes[b].reshape(-1)[:n].astype(np.int64))  # fmt: skip


def decode_nanodet(
    outputs: list[npt.NDArray[Any]], b: int, spec: InputSpec, min_score: float, iou: float,
    max_detections: int, classes: int,
) -> Raw:  # fmt: skip
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
        boxes.append(np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2],
                               cy + dist[:, 3]], axis=1).astype(np.float32))  # fmt: skip
        scores.append(best[take].astype(np.float32))
        ids.append(score[take].argmax(axis=1).astype(np.int64))
    return _suppressed(boxes, scores, ids, iou, max_detections)


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
    return _suppressed([xyxy], [best[take].astype(np.float32)], [ids], iou, max_detections)


def _suppressed(
    boxes: list[FloatArray], scores: list[FloatArray], ids: list[npt.NDArray[np.int64]],
    iou: float, max_detections: int,
) -> Raw:  # fmt: skip
    if not boxes:
        return np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64)
    xyxy, score, cid = np.concatenate(boxes), np.concatenate(scores), np.concatenate(ids)
    keep = nms(xyxy, score, cid, iou, max_detections)
    return xyxy[keep], score[keep], cid[keep]


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
        raise ModelError(f"nanodet outputs do not pair into strides {NANODET_STRIDES} for "
                         f"input {spec.width}x{spec.height}")  # fmt: skip
    return heads
