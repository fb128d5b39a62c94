"""The inference service under functions-framework, and the adapters that call it.

The Vertex AI adapter talks to a local server that speaks the endpoint's REST protocol
(``POST /v1/{endpoint}:predict``) and forwards the instances to the same container, as
Vertex AI does.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests

from shared.detection.breaker import CircuitBreaker
from shared.detection.inprocess import InProcessDetector
from shared.detection.model_store import sha256_file
from shared.detection.remote import CloudRunDetector, VertexDetector
from shared.devstack.procs import free_port
from shared.devstack.stack import LocalStack
from shared.domain.detections import Detections
from shared.errors import DependencyUnavailableError
from shared.settings import Settings
from tests.conftest import ROOT, image, jpeg, materials
from tests.unit.fakes import TEST_KEYS, keyed

pytestmark = pytest.mark.integration
ENDPOINT = "projects/camwatch-local/locations/us-central1/endpoints/123"
SOURCE = str(ROOT / "functions" / "process_camera" / "main.py")


@pytest.fixture(scope="module")
def service_url(local_stack: LocalStack) -> str:
    return local_stack.start_inference()


@pytest.fixture(scope="module")
def vertex(service_url: str) -> Iterator[str]:
    """A stand-in for the Vertex AI endpoint API in front of the container."""

    class Endpoint(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if urlsplit(self.path).path != f"/v1/{ENDPOINT}:predict":  # the client adds ?$alt=
                self.send_response(404)
                self.end_headers()
                return
            inner = requests.post(f"{service_url}/predict", json=body, timeout=30)
            out = {"predictions": inner.json().get("predictions", []), "deployedModelId": "1"}
            data = json.dumps(
                out if inner.ok else {"error": {"code": inner.status_code, "message": inner.text}}
            ).encode()
            self.send_response(inner.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def in_process() -> InProcessDetector:
    s = Settings()
    return InProcessDetector(s.model_path, s.labels_path, s.model_version)


def test_health_reports_the_warm_model(service_url: str) -> None:
    health = requests.get(f"{service_url}/health", timeout=5).json()
    assert health["ready"] is True
    assert health["model"]["sha256"] == sha256_file(Settings().model_path)
    assert (
        health["mode"] == "CPUExecutionProvider, 2 worker(s), batches of up to 1"
    )  # SSD: a fixed batch of one


@pytest.mark.parametrize("backend", ["service", "vertex"])
def test_remote_detections_match_in_process(backend: str, service_url: str, vertex: str) -> None:
    breaker = CircuitBreaker(5, 30)
    remote = (
        CloudRunDetector(service_url, 10, 2, breaker, auth=False)
        if backend == "service"
        else VertexDetector(ENDPOINT, vertex, 10, 2, breaker)
    )
    frame = image("pexels_double_decker_bus.jpg")
    local = in_process().detect(frame)
    found = remote.detect(frame, jpeg("pexels_double_decker_bus.jpg"))
    assert found.class_name.tolist() == local.class_name.tolist()
    np.testing.assert_allclose(found.xyxy, local.xyxy, atol=0.051)  # records round to 0.1 px
    assert remote.model == in_process().model
    # A frame without bytes of its own (video) goes as a lossless PNG: the same boxes.
    np.testing.assert_allclose(remote.detect(frame).xyxy, local.xyxy, atol=0.051)


@pytest.mark.parametrize("backend", ["service", "vertex"])
def test_a_burst_goes_as_one_request_of_several_instances(
    backend: str, service_url: str, vertex: str, monkeypatch
) -> None:
    breaker = CircuitBreaker(5, 30)
    remote = (
        CloudRunDetector(service_url, 10, 2, breaker, auth=False)
        if backend == "service"
        else VertexDetector(ENDPOINT, vertex, 10, 2, breaker)
    )
    sizes: list[int] = []
    send = remote._send

    def counted(instances):
        sizes.append(len(instances))
        return send(instances)

    monkeypatch.setattr(remote, "_send", counted)
    names = ["pexels_double_decker_bus.jpg", "car1.jpg", "pexels_double_decker_bus.jpg"]
    frames = [image(n) for n in names]
    found = remote.detect_many(frames, [jpeg(n) for n in names])
    assert sizes == [3]  # one request for the burst
    local = in_process()
    for got, frame in zip(found, frames, strict=True):
        want = local.detect(frame)
        assert got.class_name.tolist() == want.class_name.tolist()
        np.testing.assert_allclose(got.xyxy, want.xyxy, atol=0.051)
    assert found[0].class_name.tolist() != found[1].class_name.tolist()  # in order


def test_bad_requests_and_routes(service_url: str) -> None:
    bad = requests.post(f"{service_url}/predict", json={"instances": [{"b64": "!!"}]}, timeout=5)
    assert bad.status_code == 400
    assert "not base64" in bad.json()["message"]
    html = requests.post(
        f"{service_url}/predict", timeout=5, json={"instances": [{"b64": "PGh0bWw+"}]}
    )
    assert html.status_code == 400
    assert "instances[0]" in html.json()["message"]
    assert requests.post(f"{service_url}/predict", json={}, timeout=5).status_code == 400
    assert requests.get(f"{service_url}/predict", timeout=5).status_code == 405
    assert requests.get(f"{service_url}/nope", timeout=5).status_code == 404


def test_a_service_that_is_down_is_dependency_unavailable() -> None:
    remote = CloudRunDetector(
        f"http://127.0.0.1:{free_port()}", 1, 1, CircuitBreaker(2, 30), auth=False
    )
    frame = np.zeros((8, 8, 3), np.uint8)
    for _ in range(2):
        with pytest.raises(
            DependencyUnavailableError, match=r"inference unavailable.*after 2 tries"
        ):
            remote.detect(frame)
    with pytest.raises(DependencyUnavailableError, match="circuit open"):
        remote.detect(frame)


def test_a_gs_model_is_fetched_once_and_checked(local_stack: LocalStack, tmp_path) -> None:
    from shared.adapters.blobstore import GcsBlobStore, storage_client
    from shared.detection.factory import inprocess_detector
    from shared.errors import ModelError

    s = Settings()
    blobs = GcsBlobStore(storage_client(s.project_id, s.storage_emulator_host))
    bucket = local_stack.env["CAMWATCH_DEMO_BUCKET"]
    blobs.write(bucket, "models/ssd.onnx", s.model_path.read_bytes(), "application/octet-stream")
    digest = sha256_file(s.model_path)
    uri = f"gs://{bucket}/models/ssd.onnx"
    remote = inprocess_detector(
        Settings(model_uri=uri, model_cache_dir=tmp_path, model_sha256=digest)
    )
    found = remote.detect(image("pexels_double_decker_bus.jpg"))
    assert remote.model.sha256 == digest
    assert found.class_name.tolist()[0] == "bus"
    assert len(list(tmp_path.rglob("ssd.onnx"))) == 1  # the local copy, fetched once
    wrong = inprocess_detector(
        Settings(model_uri=uri, model_cache_dir=tmp_path, model_sha256="0" * 64)
    )
    with pytest.raises(ModelError, match=f"has sha256 {digest}, want"):
        wrong.load()
    missing = inprocess_detector(
        Settings(model_uri=f"gs://{bucket}/models/none.onnx", model_cache_dir=tmp_path)
    )
    with pytest.raises(ModelError, match="cannot fetch model gs://"):
        missing.load()


def dynamic_batch_graph(path) -> None:
    """An Ultralytics-layout graph with a free batch dimension: every image gets known rows."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tests.graphs import yolo_outputs

    rows = yolo_outputs()  # [1, 84, 5]: a car at (270, 295)-(370, 345) in input pixels
    nodes = [
        helper.make_node("Shape", ["images"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Concat", ["batch", "one", "one"], ["repeats"], axis=0),
        helper.make_node("Tile", ["rows", "repeats"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([0], np.int64), "zero"),
        numpy_helper.from_array(np.array([1], np.int64), "one"),
        numpy_helper.from_array(rows, "rows"),
    ]
    graph = helper.make_graph(
        nodes,
        "dynamic",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 84, 5])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def start_service(local_stack: LocalStack, env: dict[str, str]) -> str:
    import functools

    from shared.devstack.tools import http_ok

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    local_stack.start_function(
        "inference", "http", env, port, functools.partial(http_ok, f"{url}/health")
    )
    return url


def post_concurrently(url: str, name: str, count: int) -> list[requests.Response]:
    import base64
    from concurrent.futures import ThreadPoolExecutor

    body = {"instances": [{"b64": base64.b64encode(jpeg(name)).decode()}]}
    with ThreadPoolExecutor(count) as pool:
        return list(
            pool.map(lambda _: requests.post(f"{url}/predict", json=body, timeout=60), range(count))
        )


def test_concurrent_requests_run_as_batches(local_stack: LocalStack, tmp_path) -> None:
    model = tmp_path / "dynamic.onnx"
    dynamic_batch_graph(model)
    url = start_service(
        local_stack,
        {
            "CAMWATCH_MODEL_PATH": str(model),
            "CAMWATCH_MAX_BATCH_SIZE": "8",
            "CAMWATCH_MAX_WAIT_MS": "50",
            "CAMWATCH_MODEL_VERSION": "dynamic",
        },
    )
    assert requests.get(f"{url}/health", timeout=5).json()["mode"] == (
        "CPUExecutionProvider, 2 worker(s), batches of up to 8"
    )
    answers = post_concurrently(url, "car1.jpg", 16)
    assert all(a.status_code == 200 for a in answers)
    boxes = {json.dumps(a.json()["predictions"][0]["detections"][0]["box"]) for a in answers}
    assert len(boxes) == 1  # every image of every batch decoded the same
    health = requests.get(f"{url}/health", timeout=5).json()
    assert health["images"] == 16
    assert health["batches"] < 16
    text = requests.get(f"{url}/metrics", timeout=5).text
    served = re.search(r'^camwatch_predict_seconds_count\{code="200"\} (\S+)$', text, re.M)
    runs = re.search(r"^camwatch_batch_size_count (\S+)$", text, re.M)
    assert served
    assert float(served[1]) == 16
    assert runs
    assert float(runs[1]) == health["batches"]


@pytest.mark.materials
def test_the_torch_runtime_batches_the_real_nanodet(local_stack: LocalStack) -> None:
    nanodet = materials("nanodet_coco_416.onnx")
    url = start_service(
        local_stack,
        {
            "CAMWATCH_MODEL_PATH": str(nanodet),
            "CAMWATCH_RUNTIME": "torch",
            "CAMWATCH_TORCH_DEVICE": "cpu",
            "CAMWATCH_MAX_BATCH_SIZE": "4",
            "CAMWATCH_MAX_WAIT_MS": "50",
            "CAMWATCH_MODEL_VERSION": "nanodet-m-416",
        },
    )
    # A fixed-batch export, batched anyway: the runtime checked that its batch is free.
    assert requests.get(f"{url}/health", timeout=5).json()["mode"] == (
        "torch:cpu:float32, 2 worker(s), batches of up to 4"
    )
    answers = post_concurrently(url, "pexels_double_decker_bus.jpg", 8)
    assert all(a.status_code == 200 for a in answers)
    health = requests.get(f"{url}/health", timeout=5).json()
    assert health["images"] == 8
    assert health["batches"] < 8
    local = InProcessDetector(nanodet, None, "nanodet-m-416").detect(
        image("pexels_double_decker_bus.jpg")
    )  # onnxruntime, in process
    for answer in answers:
        found = answer.json()["predictions"][0]
        assert found["model"]["sha256"] == sha256_file(nanodet)
        remote = Detections.from_records(found["detections"])
        assert remote.class_name.tolist() == local.class_name.tolist()
        np.testing.assert_allclose(remote.xyxy, local.xyxy, atol=0.2)  # records: 0.1 px


def test_status_of_process_camera_reports_the_inference_service(
    local_stack: LocalStack, service_url: str
) -> None:
    import os

    from shared import bootstrap
    from shared.settings import get_settings

    saved = dict(os.environ)
    try:
        os.environ.update(
            {
                "CAMWATCH_DETECTOR_BACKEND": "service",
                "CAMWATCH_INFERENCE_URL": service_url,
                "CAMWATCH_INFERENCE_AUTH": "false",
                "CAMWATCH_API_KEYS": TEST_KEYS,
            }
        )
        get_settings.cache_clear()
        bootstrap.reset()
        from functions_framework import create_app

        client = keyed(create_app("process_camera", SOURCE, "http").test_client())
        status = client.get("/status").get_json()
        assert status["dependencies"]["inference"]["ok"] is True
        found = client.post("/process/camera/cam-004-mission-4th").get_json()
        assert found["model"]["sha256"] == sha256_file(Settings().model_path)
        os.environ["CAMWATCH_INFERENCE_URL"] = f"http://127.0.0.1:{free_port()}"
        get_settings.cache_clear()
        bootstrap.reset()
        client = keyed(create_app("process_camera", SOURCE, "http").test_client())
        down = client.get("/status")
        assert down.status_code == 503
        assert down.get_json()["dependencies"]["inference"]["ok"] is False
        failed = client.post("/process/camera/cam-004-mission-4th")  # nothing lost: retry later
        assert failed.status_code == 503
        assert failed.get_json()["dependency"] == "inference"
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        bootstrap.reset()
