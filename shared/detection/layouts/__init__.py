"""Model layouts: how an image becomes an input tensor, and raw outputs become detections.

Three real layouts, each a preprocessing spec and a vectorised decoder:

* ``ssd``: TF-style post-processed SSD (boxes ``[B,K,4]`` as ymin,xmin,ymax,xmax in 0..1,
  classes, scores, count); uint8 NHWC RGB, stretched to the input size.
* ``nanodet``: per stride (8/16/32) class scores ``[B,N,C]`` (sigmoid applied) and distance
  regression ``[B,N,4*(R+1)]`` (softmax expectation of R+1 bins, times the stride, from the
  anchor centre ``(i + 0.5) * stride``); float NCHW BGR with mean/std, stretched. No NMS in graph.
* ``ultralytics``: YOLOv8/YOLO11 export ``[B, 4+C, N]`` (cx, cy, w, h in input pixels, then
  class scores); float NCHW RGB / 255, letterboxed with grey 114. No NMS in graph.

Decoders return boxes in input pixels; :class:`~.preprocess.Transform` maps them back to the
original image exactly (the inverse of the resize and padding that preprocessing applied).

Modules: :mod:`.preprocess` (input specs, images to tensors, the way back), one decoder per
layout (:mod:`.ssd`, :mod:`.nanodet`, :mod:`.ultralytics`), :mod:`.nms` (class-aware
suppression) and :mod:`.labels` (COCO-80 names).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
Raw = tuple[FloatArray, FloatArray, npt.NDArray[np.int64]]  # xyxy (input px), scores, class ids


class Layout(StrEnum):
    """The output layouts camwatch decodes."""

    SSD = "ssd"
    NANODET = "nanodet"
    ULTRALYTICS = "ultralytics"
