"""The real NanoDet (``../shared/models``, not vendored) on onnxruntime, in process."""

from __future__ import annotations

import numpy as np
import pytest

from shared.detection.inprocess import InProcessDetector
from shared.detection.layouts import Layout
from shared.detection.layouts.labels import COCO80
from tests.conftest import image, materials

pytestmark = [pytest.mark.model, pytest.mark.materials]


def test_real_nanodet_finds_the_bus_and_car() -> None:
    detector = InProcessDetector(materials("nanodet_coco_416.onnx"), None, "v")
    det = detector.detect(image("pexels_double_decker_bus.jpg")).keep(["bus", "car"], 0.4)
    assert detector.signature.layout is Layout.NANODET
    assert len(COCO80) == 80  # the graph carries no names: the COCO list labels it
    assert "bus" in det.class_name.tolist()
    bus = det.xyxy[det.class_name.tolist().index("bus")]
    # the SSD reference bus is (58, 114, 467, 386): another model, the same bus
    np.testing.assert_allclose(bus[[0, 2, 3]], [58, 467, 386], atol=25)
