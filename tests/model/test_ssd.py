"""The vendored SSD int8 (``shared/assets/models``) on onnxruntime: its reference detections.

No materials needed: the model ships with the repository.
"""

from __future__ import annotations

import numpy as np
import pytest

from shared.detection.inprocess import InProcessDetector
from shared.detection.model_store import sha256_file
from shared.domain.registry import ROAD_USERS, load_registry
from shared.settings import ASSETS, Settings
from tests.conftest import image
from tests.rule_sim import one_frame

pytestmark = pytest.mark.model
SETTINGS = Settings()
# ../shared/README.md: SSD int8 on pexels_double_decker_bus.jpg (INTER_AREA), score >= 0.4.
REFERENCE = [
    ("bus", 0.93, (58, 114, 467, 386)),
    ("car", 0.84, (11, 286, 61, 326)),
    ("person", 0.79, (522, 284, 539, 312)),
    ("person", 0.42, (505, 283, 523, 309)),
]


@pytest.fixture(scope="module")
def detector() -> InProcessDetector:
    return InProcessDetector(SETTINGS.model_path, SETTINGS.labels_path, "test")


def test_reference_detections_within_a_pixel(detector: InProcessDetector) -> None:
    found = detector.detect(image("pexels_double_decker_bus.jpg")).keep(ROAD_USERS, 0.4)
    assert len(found) == len(REFERENCE)
    for (name, score, box), got in zip(REFERENCE, found.to_records(), strict=True):
        assert got["class_name"] == name
        assert got["score"] == pytest.approx(score, abs=0.01)
        b = got["box"]
        assert np.abs(np.array([b["x1"], b["y1"], b["x2"], b["y2"]]) - box).max() <= 1.0


def test_model_identity(detector: InProcessDetector) -> None:
    model = detector.model
    assert model.name == "ssd_mobilenet_v2_coco_quant"
    assert model.sha256 == sha256_file(SETTINGS.model_path)
    assert len(model.sha256) == 64


def test_demo_bus_camera_has_a_car_in_its_bus_lane(detector: InProcessDetector) -> None:
    env = {"CAMWATCH_DEMO_CAMERA_URL": "http://x", "CAMWATCH_DEMO_BUCKET": "b"}
    camera = load_registry(ASSETS / "cameras.yaml", env=env).get("cam-001-market-5th")
    frame = image("pexels_double_decker_bus.jpg")
    found = detector.detect(frame).keep(["car", "bus"], 0.4)
    [violation] = one_frame(camera, found, size=(frame.shape[1], frame.shape[0]))
    assert (violation.type, violation.zone, violation.class_name) == (
        "bus_lane",
        "market-bus-lane",
        "car",
    )
    assert 0.6 < violation.score <= 0.84  # the car's score 0.84 x overlap
