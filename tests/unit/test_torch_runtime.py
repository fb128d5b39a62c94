"""The PyTorch runtime against onnxruntime, operator by operator, on hand-built tiny graphs.

The GPU path is the same code on another device; here it runs on the CPU (``torch_device``
``cpu``), which is what CI has. Real models (NanoDet, the SSDs, a YOLOv8-architecture export)
are in ``tests/model/test_torch_runtime.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from shared.detection.inprocess import InProcessDetector
from shared.detection.runtimes.torch.session import TorchSession
from shared.errors import ModelError
from tests.bench.synthetic import synthetic_yolo
from tests.graphs import frame, known_yolo

pytestmark = pytest.mark.unit
RNG = np.random.default_rng(7)


def graph_file(
    path: Path,
    nodes: list[Any],
    shape: list[int | str],
    out_shape: list[Any] | None,
    inits: list[Any] | None = None,
    out: str = "y",
) -> Path:
    graph = helper.make_graph(
        nodes,
        "ops",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
        inits or [],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def const(name: str, value: Any, dtype: Any = np.float32) -> Any:
    return numpy_helper.from_array(np.asarray(value, dtype), name)


def weights(*shape: int) -> np.ndarray:
    return (RNG.standard_normal(shape) * 0.3).astype(np.float32)


def both(path: Path, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x})
    return expected, TorchSession(path, "cpu").run(None, {"x": x})


# Each case: nodes reading "x" [1, 4, 9, 11] and writing "y", and their initializers.
OP_CASES: dict[str, tuple[list[Any], list[Any]]] = {
    "conv_asymmetric_pads_groups": (
        [
            helper.make_node(
                "Conv",
                ["x", "w", "b"],
                ["y"],
                pads=[0, 1, 2, 1],
                strides=[2, 1],
                dilations=[1, 2],
                group=2,
            )
        ],
        [const("w", weights(6, 2, 3, 3)), const("b", weights(6))],
    ),
    "conv_same_upper": (
        [helper.make_node("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
        [const("w", weights(3, 4, 3, 2))],
    ),
    "maxpool_ceil_padded": (
        [
            helper.make_node(
                "MaxPool",
                ["x"],
                ["y"],
                kernel_shape=[3, 3],
                strides=[2, 2],
                pads=[1, 0, 0, 1],
                ceil_mode=1,
            )
        ],
        [],
    ),
    "avgpool_and_global": (
        [
            helper.make_node(
                "AveragePool",
                ["x"],
                ["a"],
                kernel_shape=[2, 2],
                strides=[2, 2],
                pads=[1, 1, 1, 1],
                count_include_pad=1,
            ),
            helper.make_node("GlobalAveragePool", ["a"], ["g"]),
            helper.make_node("Add", ["a", "g"], ["y"]),
        ],
        [],
    ),
    "batchnorm_activations": (
        [
            helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["n"], epsilon=1e-3),
            helper.make_node("LeakyRelu", ["n"], ["l"], alpha=0.1),
            helper.make_node("HardSigmoid", ["l"], ["h"]),
            helper.make_node("Clip", ["l", "lo", "hi"], ["c"]),
            helper.make_node("Mul", ["h", "c"], ["m2"]),
            helper.make_node("HardSwish", ["m2"], ["y"]),
        ],
        [
            const("s", weights(4)),
            const("bb", weights(4)),
            const("m", weights(4)),
            const("v", np.abs(weights(4)) + 0.5),
            const("lo", -0.5),
            const("hi", 0.7),
        ],
    ),
    "resize_linear_half_pixel": (
        [
            helper.make_node(
                "Resize",
                ["x", "", "scales"],
                ["y"],
                mode="linear",
                coordinate_transformation_mode="half_pixel",
            )
        ],
        [const("scales", [1, 1, 2, 2])],
    ),
    "resize_nearest_sizes": (
        [
            helper.make_node(
                "Resize",
                ["x", "", "", "sizes"],
                ["y"],
                mode="nearest",
                coordinate_transformation_mode="asymmetric",
                nearest_mode="floor",
            )
        ],
        [const("sizes", [1, 4, 18, 33], np.int64)],
    ),
    "layout_ops": (
        [
            helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 3, 1]),
            helper.make_node("Reshape", ["t", "shape"], ["r"]),
            helper.make_node("Split", ["r", "split"], ["s0", "s1"], axis=2),
            helper.make_node("Softmax", ["s1"], ["sm"], axis=-1),
            helper.make_node("Concat", ["s0", "sm"], ["c"], axis=2),
            helper.make_node("Slice", ["c", "starts", "ends", "axes", "steps"], ["y"]),
        ],
        [
            const("shape", [1, -1, 4], np.int64),
            const("split", [1, 3], np.int64),
            const("starts", [1], np.int64),
            const("ends", [1000], np.int64),
            const("axes", [1], np.int64),
            const("steps", [2], np.int64),
        ],
    ),
    "split_equal_parts": (  # no sizes: as many equal parts as outputs
        [
            helper.make_node("Split", ["x"], ["a", "b"], axis=1),
            helper.make_node("Sub", ["a", "b"], ["y"]),
        ],
        [],
    ),
    "pads_reflect_edge": (
        [
            helper.make_node("Pad", ["x", "p1"], ["a"], mode="reflect"),
            helper.make_node("Pad", ["a", "p2"], ["b"], mode="edge"),
            helper.make_node("Pad", ["b", "p3", "v"], ["y"], mode="constant"),
        ],
        [
            const("p1", [0, 0, 1, 2, 0, 0, 2, 1], np.int64),
            const("p2", [0, 0, 0, 1, 0, 0, 3, 0], np.int64),
            const("p3", [0, 1, 1, 0, 0, 0, 0, 2], np.int64),
            const("v", 0.25),
        ],
    ),
    "gemm_and_reductions": (
        [
            helper.make_node("GlobalMaxPool", ["x"], ["g"]),
            helper.make_node("Flatten", ["g"], ["f"]),
            helper.make_node("Gemm", ["f", "w", "b"], ["o"], transB=1, alpha=0.5),
            helper.make_node("ReduceMean", ["x"], ["mean"], axes=[2, 3], keepdims=0),
            helper.make_node("Sub", ["o", "mean"], ["d"]),
            helper.make_node("Exp", ["d"], ["e"]),
            helper.make_node("Div", ["e", "mean"], ["y"]),
        ],
        [const("w", weights(4, 4)), const("b", weights(4))],
    ),
    "folded_shape_arithmetic": (  # tf2onnx-style: a reshape target computed from constants
        [
            helper.make_node("Shape", ["c"], ["cs"]),
            helper.make_node("Gather", ["cs", "i1"], ["n"], axis=0),
            helper.make_node("Mul", ["n", "two"], ["n2"]),
            helper.make_node("Concat", ["one", "n2", "minus"], ["target"], axis=0),
            helper.make_node("Cast", ["target"], ["t64"], to=TensorProto.INT64),
            helper.make_node("Reshape", ["x", "t64"], ["y"]),
        ],
        [
            const("c", np.zeros((3, 2))),
            const("i1", [0], np.int64),
            const("two", [2], np.int64),
            const("one", [1], np.int64),
            const("minus", [-1], np.int64),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_operators_match_onnxruntime(case: str, tmp_path: Path) -> None:
    nodes, inits = OP_CASES[case]
    path = graph_file(tmp_path / f"{case}.onnx", nodes, [1, 4, 9, 11], None, inits)
    x = RNG.standard_normal((1, 4, 9, 11)).astype(np.float32)
    expected, got = both(path, x)
    assert got[0].shape == expected[0].shape
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-5)


def test_known_outputs_map_back_exactly_through_torch(tmp_path: Path) -> None:
    path = known_yolo(tmp_path / "yolo.onnx")
    det = InProcessDetector(path, None, "v", runtime="torch", torch_device="cpu").detect(
        frame(1280, 720)
    )
    assert det.class_name.tolist() == ["car", "person"]
    np.testing.assert_allclose(det.xyxy[0], [540, 310, 740, 410])


def test_a_declared_free_batch_stays_free(tmp_path: Path) -> None:
    path = synthetic_yolo(tmp_path / "synthetic.onnx")
    session = TorchSession(path, "cpu")
    assert session.get_inputs()[0].shape[0] == "batch"
    x = RNG.standard_normal((2, 3, 320, 320)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"images": x}
    )
    np.testing.assert_allclose(session.run(None, {"images": x})[0], expected[0], atol=1e-5)


def test_a_graph_that_mixes_the_batch_stays_at_batch_one(tmp_path: Path) -> None:
    # The mean over everything is appended along axis 0: a batch of two is not two images.
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0, axes=[1, 2, 3]),
        helper.make_node("Concat", ["m", "half"], ["y"], axis=0),
    ]
    path = graph_file(tmp_path / "mixed.onnx", nodes, [1, 4, 9, 11], [2], [const("half", [0.5])])
    session = TorchSession(path, "cpu")
    assert session.batch_note.startswith("fixed at 1")
    assert session.get_inputs()[0].shape[0] == 1  # so the detector runs it image by image
    x = RNG.standard_normal((1, 4, 9, 11)).astype(np.float32)
    expected, got = both(path, x)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)


@pytest.mark.parametrize("center", [0, 1])
def test_non_max_suppression_selects_what_onnxruntime_does(center: int, tmp_path: Path) -> None:
    # Two images, three classes, 300 boxes crowded into a small field: a class needs far more
    # than the first 64 candidates to find its 90 boxes, so the walk has to widen.
    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 80, (2, 300, 2)).astype(np.float32)
    size = rng.uniform(5, 40, (2, 300, 2)).astype(np.float32)
    if center:
        boxes = np.concatenate([corner + size / 2, size], -1)  # cx, cy, w, h
    else:
        boxes = np.concatenate([corner, corner + size], -1)[..., [1, 0, 3, 2]]  # y1 x1 y2 x2
    scores = rng.random((2, 3, 300)).astype(np.float32)
    scores[1, 2, :10] = 0.5  # equal scores: the lower index goes first
    nodes = [
        helper.make_node(
            "NonMaxSuppression",
            ["x", "scores", "most", "iou", "floor"],
            ["selected"],
            center_point_box=center,
        )
    ]
    inits = [
        const("scores", scores),
        const("most", [90], np.int64),
        const("iou", [0.3]),
        const("floor", [0.2]),
    ]
    graph = helper.make_graph(
        nodes,
        "nms",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 300, 4])],
        [helper.make_tensor_value_info("selected", TensorProto.INT64, None)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "nms.onnx"
    onnx.save(model, str(path))
    expected, got = both(path, boxes)
    assert len(expected[0]) > 200  # many kept, some classes at their quota of 90
    np.testing.assert_array_equal(got[0], expected[0])


def test_gpu_only_settings_are_refused_on_the_cpu(tmp_path: Path) -> None:
    path = synthetic_yolo(tmp_path / "synthetic.onnx")
    with pytest.raises(ModelError, match="float16 is for GPUs"):
        TorchSession(path, "cpu", "float16")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="sees no CUDA device"):
            TorchSession(path, "cuda")


def test_a_broken_or_missing_graph_is_a_model_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(ModelError, match="cannot read ONNX graph"):
        TorchSession(broken, "cpu")
    detector = InProcessDetector(tmp_path / "none.onnx", None, "v", runtime="torch")
    with pytest.raises(ModelError, match="model file not found"):
        detector.load()
