"""The PyTorch runtime against onnxruntime on real graphs: NanoDet, the SSDs, a YOLOv8 export.

NanoDet and the float SSD are the project's materials (``../shared/models``): without them
those tests skip, saying so. The GPU path is the same code on another device; here it runs on
the CPU (``torch_device`` ``cpu``), which is what CI has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from shared.detection.inprocess import InProcessDetector
from shared.detection.runtimes.torch.ops import OPS
from shared.detection.runtimes.torch.session import TorchSession
from shared.errors import ModelError
from shared.settings import Settings
from tests.bench.yolo_like import yolo_like
from tests.conftest import image as load_image
from tests.conftest import materials

pytestmark = pytest.mark.model
RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def nanodet() -> Path:
    return materials("nanodet_coco_416.onnx")


@pytest.fixture(scope="module")
def ssd_float() -> Path:
    return materials("ssd_mobilenet_v2_coco_float.onnx")


@pytest.mark.materials
@pytest.mark.parametrize("channels_last", [False, True])  # True: the GPU's memory format
def test_the_real_nanodet_matches_onnxruntime_and_batches(
    nanodet: Path, channels_last: bool
) -> None:
    session = TorchSession(nanodet, "cpu", channels_last=channels_last)
    assert session.batch_note.startswith("checked free")
    assert session.get_inputs()[0].shape == ["batch", 3, 416, 416]
    assert [o.shape[1:] for o in session.get_outputs()][:2] == [[169, 80], [169, 44]]
    reference = ort.InferenceSession(str(nanodet), providers=["CPUExecutionProvider"])
    name = reference.get_inputs()[0].name
    x = RNG.standard_normal((3, 3, 416, 416)).astype(np.float32)
    batch = session.run(None, {name: x})  # one run of three
    for i in range(3):
        expected = reference.run(None, {name: x[i : i + 1]})
        for got, want in zip(batch, expected, strict=True):
            np.testing.assert_allclose(got[i : i + 1], want, rtol=1e-4, atol=1e-5)


@pytest.mark.materials
@pytest.mark.parametrize("image", ["pexels_double_decker_bus.jpg", "vtest_f300.jpg"])
def test_nanodet_detections_are_the_same_on_both_runtimes(nanodet: Path, image: str) -> None:
    picture = load_image(image)
    want = InProcessDetector(nanodet, None, "v").detect(picture)
    got = InProcessDetector(nanodet, None, "v", runtime="torch", torch_device="cpu").detect(picture)
    assert len(want.xyxy) >= 2
    assert got.class_name.tolist() == want.class_name.tolist()
    np.testing.assert_allclose(got.xyxy, want.xyxy, atol=0.5)
    np.testing.assert_allclose(got.confidence, want.confidence, atol=1e-4)


@pytest.mark.materials
def test_a_batch_of_images_decodes_like_single_images(nanodet: Path) -> None:
    detector = InProcessDetector(nanodet, None, "v", runtime="torch", torch_device="cpu")
    pictures = [load_image(n) for n in ("car1.jpg", "pexels_double_decker_bus.jpg")]
    together = detector.detect_batch(pictures)
    for picture, found in zip(pictures, together, strict=True):
        alone = detector.detect(picture)
        assert found.class_name.tolist() == alone.class_name.tolist()
        np.testing.assert_allclose(found.xyxy, alone.xyxy, atol=0.05)
    assert detector.runtime == "torch:cpu:float32"


def test_unsupported_operators_fail_at_load_naming_them() -> None:
    quantized = Settings().model_path  # the vendored SSD int8: the same file as ../shared's
    wanted = r"does not support \['DequantizeLinear', 'QuantizeLinear'\].*use its float export"
    with pytest.raises(ModelError, match=wanted):
        TorchSession(quantized, "cpu")
    assert "QuantizeLinear" not in OPS


@pytest.mark.materials
@pytest.mark.parametrize("image", ["pexels_double_decker_bus.jpg", "vtest_f300.jpg", "car1.jpg"])
def test_the_float_ssd_with_its_nms_in_graph_matches_onnxruntime(
    ssd_float: Path, image: str
) -> None:
    picture = load_image(image)
    want = InProcessDetector(ssd_float, None, "v").detect(picture)
    detector = InProcessDetector(ssd_float, None, "v", runtime="torch", torch_device="cpu")
    got = detector.detect(picture)
    assert detector.signature.fixed_batch == 1  # its post-processing is written for one image
    assert got.class_name.tolist() == want.class_name.tolist()
    assert len(want.xyxy) >= 1
    np.testing.assert_allclose(got.xyxy, want.xyxy, atol=0.01)
    np.testing.assert_allclose(got.confidence, want.confidence, atol=1e-5)


def test_a_yolov8_architecture_export_runs_with_free_batch_and_size(tmp_path: Path) -> None:
    # PyTorch's own export of the YOLOv8 architecture (random weights, a narrow 320 px one to
    # keep the test quick): dynamic batch, height and width, anchors from Shape/Range ops.
    path = yolo_like(tmp_path / "yolo.onnx", size=320, width=0.125)
    session = TorchSession(path, "cpu")
    assert session.get_inputs()[0].shape == ["batch", 3, "height", "width"]
    assert session.get_outputs()[0].shape == ["batch", 84, 2100]  # 40² + 20² + 10² anchors
    reference = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = RNG.random((2, 3, 96, 128), dtype=np.float32)  # another size than the export's
    want = reference.run(None, {"images": x})[0]
    got = session.run(None, {"images": x})[0]
    assert got.shape == want.shape == (2, 84, 12 * 16 + 6 * 8 + 3 * 4)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=0.02)  # boxes: within 0.02 px
    frame_ = load_image("pexels_double_decker_bus.jpg")
    on_ort = InProcessDetector(path, None, "v").detect(frame_)
    on_torch = InProcessDetector(path, None, "v", runtime="torch", torch_device="cpu").detect(
        frame_
    )
    assert len(on_ort.xyxy) > 0  # the batch-norm calibration leaves real candidates

    def ordered(d: Any) -> tuple[list[str], np.ndarray]:  # equal scores may swap places
        names = np.asarray(d.class_name, dtype=str)
        order = np.lexsort((d.xyxy[:, 1].round(1), d.xyxy[:, 0].round(1), names))
        return names[order].tolist(), d.xyxy[order]

    (torch_names, torch_boxes), (ort_names, ort_boxes) = ordered(on_torch), ordered(on_ort)
    assert torch_names == ort_names
    np.testing.assert_allclose(torch_boxes, ort_boxes, atol=0.05)
