"""Hand-built ONNX graphs with known outputs, shared by the tiers (no model, no download).

``constant_graph`` writes a graph that ignores its image and returns constants, so a test can
work out the expected boxes by hand: from the raw outputs, through the decoder and NMS, back to
original-image pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_graph(
    path: Path,
    input_shape: list[int | str],
    input_type: int,
    outputs: dict[str, np.ndarray],
    metadata: dict[str, str] | None = None,
) -> Path:
    """A graph whose outputs are ``outputs`` whatever the image (the input is only declared)."""
    nodes = [
        helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))
        for name, value in outputs.items()
    ]
    graph = helper.make_graph(
        nodes,
        "known",
        [helper.make_tensor_value_info("images", input_type, input_shape)],
        [
            helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape))
            for n, v in outputs.items()
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def frame(width: int, height: int) -> np.ndarray:
    """A flat grey BGR frame."""
    return np.full((height, width, 3), 80, np.uint8)


# --- Ultralytics: [1, 4+C, N] rows of cx, cy, w, h (input px) and class scores -----------------


def yolo_outputs(classes: int = 80) -> np.ndarray:
    """Five anchors: a car, its shifted duplicate, a person on it, a weak bus, nothing."""
    rows = np.zeros((1, 4 + classes, 5), np.float32)
    # anchor 0: a car (class 2) at (320, 320), 100 x 50, score 0.9
    rows[0, :4, 0], rows[0, 4 + 2, 0] = [320, 320, 100, 50], 0.9
    # anchor 1: the same car, a little shifted, lower score: suppressed by NMS (IoU ~0.82)
    rows[0, :4, 1], rows[0, 4 + 2, 1] = [324, 320, 100, 50], 0.8
    # anchor 2: a person overlapping the car: another class, kept
    rows[0, :4, 2], rows[0, 4 + 0, 2] = [320, 320, 100, 50], 0.7
    # anchor 3: a bus (or the last class) below the decoder's minimum score: dropped
    rows[0, :4, 3], rows[0, 4 + min(5, classes - 1), 3] = [100, 100, 20, 20], 0.1
    return rows  # anchor 4: all zeros


def known_yolo(path: Path) -> Path:
    """A 640 px Ultralytics-layout graph that always finds ``yolo_outputs()``: a car, a person."""
    return constant_graph(path, [1, 3, 640, 640], TensorProto.FLOAT, {"output0": yolo_outputs()})
