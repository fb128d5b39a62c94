"""The detections container, the SSD decoder and the in-process detector's refusals.

The vendored SSD against its reference detections is in ``tests/model/test_ssd.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from shared.detection.inprocess import SSD_LABELS, InProcessDetector
from shared.detection.layouts import Layout
from shared.detection.layouts.preprocess import Transform, input_spec
from shared.detection.layouts.ssd import decode_ssd
from shared.detection.model_store import load_labels
from shared.domain.detections import Detections
from shared.errors import ModelError
from shared.settings import Settings

SETTINGS = Settings()
LABELS = np.array(["person", "bicycle", "car", "motorcycle", "airplane", "bus"], dtype=object)


def test_model_is_not_loaded_at_construction(tmp_path: Path) -> None:
    lazy = InProcessDetector(tmp_path / "missing.onnx", SETTINGS.labels_path, "v")
    with pytest.raises(ModelError, match="not found"):
        lazy.detect(np.zeros((10, 10, 3), np.uint8))


def test_a_graph_without_the_ssd_layout_is_refused_at_load(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 300, 300])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 300, 300])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "id", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "identity.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match=r"cannot tell its layout .*outputs \[\('y', \[1, 3"):
        InProcessDetector(path, SETTINGS.labels_path, "v").load()
    with pytest.raises(ModelError, match="does not have the ssd layout"):
        InProcessDetector(path, SETTINGS.labels_path, "v", layout="ssd").load()


def test_ssd_decoder_maps_normalised_boxes_to_pixels() -> None:
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.2, 1.0], [0, 0, 0, 0]]], np.float32)
    classes = np.array([[5, 99, 0]], np.float32)  # 99: outside the label map
    scores = np.array([[0.9, 0.5, 0.1]], np.float32)
    spec = input_spec(Layout.SSD, 300, 300)
    xyxy, score, ids = decode_ssd([boxes, classes, scores, np.array([2.0])], 0, spec)
    back = Transform(300 / 200, 300 / 100, 0, 0, 200, 100)  # a 200x100 frame stretched
    det = Detections.from_raw(back.to_original(xyxy), score, ids, LABELS)
    assert len(det) == 2  # count limits the rows
    np.testing.assert_allclose(det.xyxy[0], [40, 10, 120, 50])  # (ymin,xmin,..) -> x1,y1,x2,y2
    np.testing.assert_allclose(det.xyxy[1], [0, 0, 200, 100])  # clipped to the image
    assert det.class_name.tolist() == ["bus", "unknown"]


def test_keep_counts_and_records_round_trip() -> None:
    det = Detections(
        np.array([[0, 0, 10, 10], [1, 1, 5, 5], [2, 2, 8, 8]], np.float32),
        np.array([0.9, 0.3, 0.6], np.float32),
        np.array([2, 2, 0], np.int64),
        np.array(["car", "car", "person"], dtype=object),
    )
    kept = det.keep(["car"], 0.5)
    assert len(kept) == 1
    assert kept.counts()["car"] == 1
    assert kept.counts()["person"] == 0
    assert det.counts() == {
        "person": 1,
        "bicycle": 0,
        "car": 2,
        "motorcycle": 0,
        "bus": 0,
        "truck": 0,
    }
    back = Detections.from_records(det.to_records())
    np.testing.assert_allclose(back.xyxy, det.xyxy)
    assert back.class_name.tolist() == det.class_name.tolist()
    assert len(Detections.merge([det, kept])) == 4
    assert len(Detections.from_records([])) == 0
    assert Detections.empty().counts()["bus"] == 0


def test_parallel_arrays_are_enforced() -> None:
    with pytest.raises(ValueError, match="parallel"):
        Detections(
            np.zeros((2, 4), np.float32),
            np.zeros(1, np.float32),
            np.zeros(2, np.int64),
            np.zeros(2, dtype=object),
        )


def test_labels_file(tmp_path: Path) -> None:
    labels = load_labels(SSD_LABELS)
    assert labels[0] == "person"
    assert labels[5] == "bus"
    assert labels[11] == "unknown"
    bad = tmp_path / "bad.txt"
    bad.write_text("x person\n")
    with pytest.raises(ModelError, match="cannot read labels"):
        load_labels(bad)
