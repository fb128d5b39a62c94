"""The three layout decoders against hand-built ONNX graphs with known outputs.

Each graph ignores its image and returns constants (``tests/graphs.py``), so the expected boxes
are worked out by hand: from the raw outputs, through the decoder and NMS, back to
original-image pixels. The real NanoDet is in ``tests/model/test_nanodet.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto

from shared.detection.inprocess import InProcessDetector
from shared.detection.layouts import Layout
from shared.detection.layouts.nms import nms
from shared.detection.layouts.preprocess import input_spec, preprocess
from shared.errors import ModelError
from tests.graphs import constant_graph, frame, yolo_outputs

# --- Ultralytics: [1, 4+C, N] rows of cx, cy, w, h (input px) and class scores -----------------


def test_ultralytics_letterbox_boxes_map_back_exactly(tmp_path: Path) -> None:
    path = constant_graph(
        tmp_path / "yolo.onnx", [1, 3, 640, 640], TensorProto.FLOAT, {"output0": yolo_outputs()}
    )
    det = InProcessDetector(path, None, "v").detect(frame(1280, 720))
    # 1280x720 -> scale 0.5 -> 640x360, padded by 140 above and below.
    # car (270, 295, 370, 345) in input px -> ((x - 0) / 0.5, (y - 140) / 0.5)
    assert det.class_name.tolist() == ["car", "person"]
    np.testing.assert_allclose(det.xyxy[0], [540, 310, 740, 410])
    np.testing.assert_allclose(det.confidence, [0.9, 0.7], rtol=1e-6)


def test_ultralytics_names_and_size_come_from_metadata(tmp_path: Path) -> None:
    rows = yolo_outputs(classes=3)
    names = "{0: 'person', 1: 'bicycle', 2: 'car'}"
    path = constant_graph(
        tmp_path / "yolo3.onnx",
        ["batch", 3, "height", "width"],
        TensorProto.FLOAT,
        {"output0": rows},
        {"names": names, "imgsz": "[640, 640]"},
    )
    detector = InProcessDetector(path, None, "v")
    det = detector.detect(frame(640, 640))
    assert detector.signature.layout is Layout.ULTRALYTICS
    assert det.class_name.tolist() == ["car", "person"]
    np.testing.assert_allclose(det.xyxy[0], [270, 295, 370, 345])  # no padding at 640x640


def test_ultralytics_class_count_must_match_the_labels(tmp_path: Path) -> None:
    path = constant_graph(
        tmp_path / "yolo.onnx",
        [1, 3, 640, 640],
        TensorProto.FLOAT,
        {"output0": yolo_outputs(classes=3)},
    )
    with pytest.raises(ModelError, match="output has 7 rows, want 4 \\+ 80 classes"):
        InProcessDetector(path, None, "v").load()


# --- NanoDet: per stride, class scores [1,N,C] and 4 x 11 distance bins [1,N,44] --------------


def nanodet_outputs(size: int = 416) -> dict[str, np.ndarray]:
    out = {}
    for stride in (8, 16, 32):
        n = (size // stride) ** 2
        out[f"cls_{stride}"] = np.zeros((1, n, 80), np.float32)
        out[f"reg_{stride}"] = np.full((1, n, 44), -1e4, np.float32)
        out[f"reg_{stride}"][0, :, 0::11] = 0.0  # every side: all weight on bin 0
    grid = size // 8
    k = 10 * grid + 20  # stride 8, row 10, column 20: centre (20.5 * 8, 10.5 * 8) = (164, 84)
    out["cls_8"][0, k, 2] = 0.9  # a car
    bins = np.full((4, 11), -1e4, np.float32)
    for side, d in enumerate((2, 3, 4, 5)):  # left, top, right, bottom: bins 2..5 x stride 8
        bins[side, d] = 0.0
    out["reg_8"][0, k] = bins.reshape(-1)
    out["cls_8"][0, k + 1, 2] = 0.6  # its neighbour, the same car: suppressed
    out["reg_8"][0, k + 1] = bins.reshape(-1)
    return out


def test_nanodet_distance_bins_and_strides_map_back_exactly(tmp_path: Path) -> None:
    path = constant_graph(
        tmp_path / "nanodet.onnx", [1, 3, 416, 416], TensorProto.FLOAT, nanodet_outputs()
    )
    detector = InProcessDetector(path, None, "v")
    det = detector.detect(frame(832, 832))
    assert detector.signature.layout is Layout.NANODET
    # input box (164 - 16, 84 - 24, 164 + 32, 84 + 40) = (148, 60, 196, 124); x2 back to 832 px
    assert det.class_name.tolist() == ["car"]
    np.testing.assert_allclose(det.xyxy[0], [296, 120, 392, 248], atol=1e-3)
    np.testing.assert_allclose(det.confidence, [0.9], rtol=1e-6)


def test_nanodet_with_unpaired_outputs_is_refused(tmp_path: Path) -> None:
    outputs = nanodet_outputs()
    outputs["reg_8"] = np.zeros((1, 2704, 40), np.float32)  # 40 is not the other widths' 44
    path = constant_graph(tmp_path / "bad.onnx", [1, 3, 416, 416], TensorProto.FLOAT, outputs)
    with pytest.raises(ModelError, match="nanodet outputs want 80 class scores"):
        InProcessDetector(path, None, "v", layout="nanodet").load()


def test_a_configured_layout_that_does_not_match_is_refused(tmp_path: Path) -> None:
    path = constant_graph(
        tmp_path / "yolo.onnx", [1, 3, 640, 640], TensorProto.FLOAT, {"output0": yolo_outputs()}
    )
    with pytest.raises(ModelError, match="does not have the nanodet layout"):
        InProcessDetector(path, None, "v", layout="nanodet").load()


# --- preprocessing and NMS ---------------------------------------------------------------------


def test_preprocessing_per_layout() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[..., 0], image[..., 2] = 10, 250  # B=10, R=250
    yolo = input_spec(Layout.ULTRALYTICS, 64, 64)
    batch, [t] = preprocess([image, image][:1], yolo)
    assert batch.shape == (1, 3, 64, 64)
    assert batch.dtype == np.float32
    assert (t.pad_x, t.pad_y, t.scale_x) == (0, 16, 0.32)  # 200x100 -> 64x32 + 16 px bands
    assert batch[0, 0, 32, 32] == pytest.approx(250 / 255)  # RGB: red first
    assert batch[0, 0, 0, 0] == pytest.approx(114 / 255)  # the grey band
    nano = input_spec(Layout.NANODET, 32, 32)
    batch, _ = preprocess([image, image], nano)
    assert batch.shape == (2, 3, 32, 32)  # a batch of two, BGR, (x - mean) / std
    assert batch[1, 0, 5, 5] == pytest.approx((10 - 103.53) / 57.375, rel=1e-5)
    ssd = input_spec(Layout.SSD, 30, 30)
    batch, _ = preprocess([image], ssd)
    assert batch.shape == (1, 30, 30, 3)
    assert batch.dtype == np.uint8
    assert batch[0, 0, 0, 0] == 250


def test_nms_is_per_class_and_best_first() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.5, 0.9, 0.8, 0.3], np.float32)
    ids = np.array([1, 1, 2, 1], np.int64)
    assert nms(boxes, scores, ids, 0.5, 10).tolist() == [1, 2, 3]  # 0 loses to 1 (same class)
    assert nms(boxes, scores, ids, 0.5, 2).tolist() == [1, 2]


def test_batches_give_the_same_detections_as_single_frames(tmp_path: Path) -> None:
    path = constant_graph(
        tmp_path / "yolo.onnx", [1, 3, 640, 640], TensorProto.FLOAT, {"output0": yolo_outputs()}
    )
    detector = InProcessDetector(path, None, "v")
    one = detector.detect(frame(1280, 720))
    many = detector.detect_batch([frame(1280, 720), frame(640, 640)])  # fixed batch 1: two runs
    np.testing.assert_allclose(many[0].xyxy, one.xyxy)
    np.testing.assert_allclose(many[1].xyxy[0], [270, 295, 370, 345])
