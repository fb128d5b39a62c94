"""Preprocessing: per layout, how a BGR image becomes the model's input, and the way back."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from shared.detection.layouts import FloatArray, Layout


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
    Layout.SSD: InputSpec(0, 0, nchw=False, dtype=np.uint8, rgb=True, interpolation=cv2.INTER_AREA),
    Layout.NANODET: InputSpec(
        0,
        0,
        nchw=True,
        dtype=np.float32,
        rgb=False,
        mean=(103.53, 116.28, 123.675),
        std=(57.375, 57.12, 58.395),
    ),
    Layout.ULTRALYTICS: InputSpec(
        0, 0, nchw=True, dtype=np.float32, rgb=True, letterbox=True, std=(255.0, 255.0, 255.0)
    ),
}


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
                resized,
                pad_y,
                spec.height - new_h - pad_y,
                pad_x,
                spec.width - new_w - pad_x,
                cv2.BORDER_CONSTANT,
                value=(spec.pad_value,) * 3,
            )
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
