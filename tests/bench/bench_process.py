"""``make bench``: figures, not pass/fail. All numbers come from this one run on this machine.

1. Detector, per model (the vendored SSD int8; SSD float and NanoDet from ../shared/models
   when present; YOLOv8n's architecture with random weights, see ``yolo_like.py``), in
   process on the vendored frames: bare ``cv2.imdecode``, bare ``session.run`` and the
   whole detection (JPEG bytes -> detections, p50 and p95); the
   overhead (detection p50 minus decode minus session.run) as a ratio of ``session.run``.
   Goal: under 0.15 for every model.
2. ``POST /process/camera/{id}`` through functions-framework (gunicorn) on the local stack:
   cache-miss latency p50/p95 with its per-stage breakdown (server side), and the cache-hit
   p95 (goal: under 10 ms server side), beside the client-side figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import redis
import requests

from shared.detection.inprocess import InProcessDetector
from shared.devstack.credentials import auth_headers
from shared.devstack.start import start_all
from shared.domain.registry import ROAD_USERS
from shared.settings import ASSETS, Settings
from tests.bench.yolo_like import yolo_like

SHARED_MODELS = Path(__file__).resolve().parents[3] / "shared" / "models"
FRAMES = ["pexels_double_decker_bus.jpg", "vtest_f300.jpg", "motion_original.jpg", "car1.jpg"]
HIT_CAMERAS = [
    "cam-001-market-5th",
    "cam-002-market-6th",
    "cam-003-mission-3rd",
    "cam-004-mission-4th",
]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100)."""
    return float(np.percentile(np.array(values), q))


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds of each of ``repeat`` calls, after two warm-up calls."""
    fn()
    fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _decode(buf: np.ndarray) -> np.ndarray:
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert image is not None
    return image


def _bench_frame(detector: InProcessDetector, frame: str, repeat: int) -> tuple[float, ...]:
    """Medians of decode and bare session.run; p50 and p95 of bytes -> detections (ms)."""
    session = detector.load()
    name = session.get_inputs()[0].name
    buf = np.frombuffer((ASSETS / "images" / frame).read_bytes(), np.uint8)
    image = _decode(buf)
    tensor = detector.preprocess(image)
    min_score = Settings().score_threshold

    def detect() -> object:
        return detector.detect(_decode(buf)).keep(ROAD_USERS, min_score)

    decode = statistics.median(timed(lambda: cv2.imdecode(buf, cv2.IMREAD_COLOR), repeat))
    run = statistics.median(timed(lambda: session.run(None, {name: tensor}), repeat))
    totals = timed(detect, repeat)
    return decode, run, pct(totals, 50), pct(totals, 95), image.shape[1], image.shape[0]


def models() -> list[tuple[Path, str]]:
    """The vendored SSD int8, then the project materials' models when they are beside the repo."""
    found = [(Settings().model_path, "coral-2019-int8")]
    for name, version in (
        ("ssd_mobilenet_v2_coco_float.onnx", "coral-2019-float"),
        ("nanodet_coco_416.onnx", "nanodet-m-416"),
    ):
        if (SHARED_MODELS / name).is_file():
            found.append((SHARED_MODELS / name, version))
        else:
            print(f"(skipping {name}: not in {SHARED_MODELS})")
    # No trained Ultralytics weights offline: YOLOv8n's architecture, random weights.
    yolo = Path(tempfile.gettempdir()) / "camwatch-bench" / "yolov8n_architecture.onnx"
    yolo.parent.mkdir(exist_ok=True)
    found.append((yolo_like(yolo), "random-weights"))
    return found


def bench_detector(repeat: int, threads: int) -> None:
    for path, version in models():
        detector = InProcessDetector(path, None, version, threads)
        detector.load()
        print(
            f"\n== detector: {detector.model.name} ({detector.signature.layout}), onnxruntime "
            f"CPU, {threads} intra-op threads, {repeat} runs per frame =="
        )
        print(
            f"{'frame':<30}{'size':>10}{'decode':>8}{'run':>8}{'p50':>8}{'p95':>8}"
            f"{'overhead':>9}{'ratio':>7}"
        )
        ratios = []
        for frame in FRAMES:
            decode, run, p50, p95, width, height = _bench_frame(detector, frame, repeat)
            overhead = p50 - decode - run
            ratios.append(overhead / run)
            print(
                f"{frame:<30}{f'{width:.0f}x{height:.0f}':>10}{decode:>8.2f}{run:>8.2f}"
                f"{p50:>8.2f}{p95:>8.2f}{overhead:>9.2f}{overhead / run:>7.3f}"
            )
        print(
            f"overhead / session.run: median {statistics.median(ratios):.3f}, "
            f"max {max(ratios):.3f} (goal < 0.15)"
        )


def _stage_table(bodies: list[dict[str, object]]) -> None:
    stages = [
        "fetch",
        "decode",
        "cache",
        "detect",
        "violations",
        "warehouse",
        "cache_store",
        "total",
    ]
    print(f"  {'stage (server ms)':<20}{'p50':>8}{'p95':>8}")
    for stage in stages:
        values = [b["latency_ms"][stage] for b in bodies if stage in b["latency_ms"]]  # type: ignore[index, operator]
        if values:
            print(f"  {stage:<20}{pct(values, 50):>8.2f}{pct(values, 95):>8.2f}")


def bench_http(misses: int, hits: int) -> None:
    with tempfile.TemporaryDirectory() as logs:
        local = start_all(Path(logs))
        try:
            url = local.function_url
            r = redis.Redis(
                port=int(local.env["CAMWATCH_REDIS_PORT"]),
                password=local.env.get("CAMWATCH_REDIS_PASSWORD"),
            )
            session = requests.Session()
            session.headers.update(auth_headers(local.env))  # the stack's API key

            def post(camera_id: str) -> tuple[dict[str, object], float]:
                start = time.perf_counter()
                response = session.post(f"{url}/process/camera/{camera_id}", timeout=60)
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                return response.json(), elapsed

            post(HIT_CAMERAS[0])  # load the model once (cold start is not what we measure)
            miss_bodies, miss_client = [], []
            for i in range(misses):
                r.flushdb()  # forget cached frames and write marks: a full miss, row written
                body, ms = post(HIT_CAMERAS[i % len(HIT_CAMERAS)])
                assert body["cache"] == "miss"
                miss_bodies.append(body)
                miss_client.append(ms)
            for camera_id in HIT_CAMERAS:  # fill the cache for every hit camera
                post(camera_id)
            hit_bodies, hit_client = [], []
            for i in range(hits):
                body, ms = post(HIT_CAMERAS[i % len(HIT_CAMERAS)])
                assert body["cache"] == "hit"
                hit_bodies.append(body)
                hit_client.append(ms)
        finally:
            local.stop()
    miss_server = [b["latency_ms"]["total"] for b in miss_bodies]  # type: ignore[index]
    hit_server = [b["latency_ms"]["total"] for b in hit_bodies]  # type: ignore[index]
    print(
        f"\n== POST /process/camera/{{id}} via functions-framework, {len(HIT_CAMERAS)} "
        "snapshot cameras of the local camera server =="
    )
    print(
        f"cache miss ({misses} requests): server p50 {pct(miss_server, 50):.1f} ms, "
        f"p95 {pct(miss_server, 95):.1f} ms; client p50 {pct(miss_client, 50):.1f} ms, "
        f"p95 {pct(miss_client, 95):.1f} ms"
    )
    _stage_table(miss_bodies)
    print(
        f"cache hit ({hits} requests): server p50 {pct(hit_server, 50):.2f} ms, "
        f"p95 {pct(hit_server, 95):.2f} ms (goal < 10); client p50 {pct(hit_client, 50):.2f} ms, "
        f"p95 {pct(hit_client, 95):.2f} ms"
    )
    _stage_table(hit_bodies)
    print(f"hit / miss server p50 ratio: {pct(hit_server, 50) / pct(miss_server, 50):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--misses", type=int, default=60)
    parser.add_argument("--hits", type=int, default=200)
    args = parser.parse_args()
    bench_detector(args.repeat, args.threads)
    bench_http(args.misses, args.hits)


if __name__ == "__main__":
    main()
