"""A synthetic Ultralytics-layout CNN with a free batch dimension, for batching benchmarks.

Random weights: its detections mean nothing, but its convolutions cost real compute that
batches the way a real detector's do. ``[N,3,320,320]`` in, ``[N, 84, 1600]`` out.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def synthetic_yolo(path: Path, seed: int = 0) -> Path:
    """Write the graph to ``path`` and return it."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    channels, last = [3, 32, 64, 128], "images"
    for i, (cin, cout) in enumerate(itertools.pairwise(channels)):
        weight = (rng.standard_normal((cout, cin, 3, 3)) * 0.1).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"w{i}"))
        nodes += [
            helper.make_node("Conv", [last, f"w{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", [f"c{i}"], [f"r{i}"]),
        ]
        last = f"r{i}"
    head = (rng.standard_normal((84, channels[-1], 1, 1)) * 0.05).astype(np.float32)
    bias = np.full(84, -4.0, np.float32)  # few anchors above the decoder's minimum score
    inits += [
        numpy_helper.from_array(head, "head"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array([0, 84, -1], np.int64), "shape"),
    ]
    nodes += [
        helper.make_node("Conv", [last, "head", "bias"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probs"]),
        helper.make_node("Reshape", ["probs", "shape"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "synthetic-yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 320, 320])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 84, 1600])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.metadata_props.add(key="imgsz", value="[320, 320]")
    onnx.save(model, str(path))
    return path
