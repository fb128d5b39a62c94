"""``make bench``: the torch runtime under load, batch 1 against dynamic batching.

Meant for a GPU machine (it runs on the CPU too, which is what ``make bench`` has here). It
drives the service's own :class:`~shared.detection.batching.Batcher` and detector in process, as the
service's request threads do once a request is parsed: each client thread decodes its JPEG
and prepares its input tensor, the batch workers stack tensors and run the model, and the
client thread decodes its own detections (``prepare``/``infer``/``finish``, as the service).
No HTTP, so it needs only PyTorch, onnx, OpenCV, numpy and pydantic on the GPU machine.

Printed per configuration and client count: images/s, p50/p95 latency, mean images per model
run, GPU utilisation (``nvidia-smi`` sampled every 100 ms, when there is one), and each
throughput as a ratio of batch 1 at the same client count. Then the latency of one 8-frame
batch, end to end (preprocess, model, decode) and the model alone.

    .venv/bin/python -m tests.bench.bench_gpu [--dtype float16] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from shared.detection.batching import Batcher
from shared.detection.inprocess import InProcessDetector
from shared.detection.layouts.preprocess import preprocess
from shared.settings import ASSETS
from tests.bench.bench_process import SHARED_MODELS, pct
from tests.bench.synthetic import synthetic_yolo

FRAMES = ("pexels_double_decker_bus.jpg", "vtest_f300.jpg", "car1.jpg", "motion_original.jpg")


class GpuSampler:
    """``nvidia-smi`` utilisation samples (every 100 ms) while a load runs; none without one."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> GpuSampler:
        if shutil.which("nvidia-smi"):
            self._proc = subprocess.Popen(
                [
                    "nvidia-smi",
                    "--query-gpu=utilization.gpu",
                    "--format=csv,noheader,nounits",
                    "-lms",
                    "100",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                self.samples.append(float(line.split(",")[0]))
            except ValueError:
                continue

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)

    def mean(self) -> str:
        return f"{statistics.fmean(self.samples):.0f}%" if self.samples else "n/a"


def load(
    batcher: Batcher[Any, Any],
    detector: InProcessDetector,
    jpegs: list[bytes],
    clients: int,
    seconds: float,
) -> dict[str, Any]:
    """``clients`` threads sending one frame at a time for ``seconds``."""
    latencies: list[float] = []
    refused = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    before = (batcher.stats.batches, batcher.stats.items)

    def client(index: int) -> None:
        nonlocal refused
        mine, n = [], index
        while time.monotonic() < stop:
            data = np.frombuffer(jpegs[n % len(jpegs)], np.uint8)
            n += 1
            start = time.perf_counter()
            image: Any = cv2.imdecode(data, cv2.IMREAD_COLOR)
            prepared = detector.prepare(image)
            try:
                [outputs] = batcher.run([prepared.tensor], 30.0)
                detector.finish(outputs, prepared.transform)
            except (
                Exception
            ):  # OverloadedError / QueueTimeoutError: counted, as a client would see them
                with lock:
                    refused += 1
                continue
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)

    with GpuSampler() as gpu:
        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    batches = batcher.stats.batches - before[0]
    images = batcher.stats.items - before[1]
    return {
        "rate": len(latencies) / elapsed,
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "per_run": images / max(batches, 1),
        "gpu": gpu.mean(),
        "refused": refused,
    }


def batch_latency(
    detector: InProcessDetector, jpegs: list[bytes], size: int = 8, runs: int = 20
) -> tuple[list[float], list[float]]:
    """Milliseconds for one ``size``-frame batch: end to end, and the model alone."""
    images: list[Any] = [
        cv2.imdecode(np.frombuffer(jpegs[i % len(jpegs)], np.uint8), cv2.IMREAD_COLOR)
        for i in range(size)
    ]
    session = detector.load()
    tensor, _ = preprocess(images, detector.signature.spec)
    name = session.get_inputs()[0].name
    whole, model = [], []
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect_batch(images)
        whole.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        session.run(None, {name: tensor})  # returns host arrays: the GPU work is done
        model.append((time.perf_counter() - start) * 1000)
    return whole, model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=SHARED_MODELS / "nanodet_coco_416.onnx")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--seconds", type=float, default=4.0, help="per load point")
    parser.add_argument("--clients", default="1,8,32,64")
    parser.add_argument("--max-batch", default="8,32", help="dynamic batching configurations")
    parser.add_argument("--workers", type=int, default=2, help="batcher threads (dynamic)")
    parser.add_argument("--wait-ms", type=float, default=2.0)
    args = parser.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model if args.model.is_file() else synthetic_yolo(Path(tmp) / "syn.onnx")
        detector = InProcessDetector(
            model, None, "bench", runtime="torch", torch_device=args.device, torch_dtype=args.dtype
        )
        session: Any = detector.load()
        jpegs = [
            (ASSETS / "images" / n).read_bytes()
            for n in FRAMES
            if (ASSETS / "images" / n).is_file()
        ]
        device = detector.runtime
        gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
        print(
            f"\n== torch runtime: {model.name} on {device} ({gpu}), torch {torch.__version__}, "
            f"{len(os.sched_getaffinity(0))} cores; batch {session.batch_note} =="
        )
        sizes = [int(b) for b in args.max_batch.split(",")]
        blank = np.zeros(
            (detector.signature.spec.height, detector.signature.spec.width, 3), np.uint8
        )
        for size in range(1, max(sizes) + 1):  # every shape once, as the service
            detector.detect_batch([blank] * size)
        configs = {"batch 1 (one worker)": (1, 1)}
        if detector.signature.fixed_batch != 1:
            for size in sizes:
                configs[f"dynamic, up to {size} ({args.workers} workers, {args.wait_ms:g} ms)"] = (
                    size,
                    args.workers,
                )
        clients = [int(c) for c in args.clients.split(",")]
        print(
            f"{'configuration':<40}{'clients':>8}{'img/s':>9}{'p50 ms':>8}{'p95 ms':>8}"
            f"{'img/run':>8}{'GPU':>6}{'refused':>8}{'ratio':>7}"
        )
        base: dict[int, float] = {}
        for name, (size, workers) in configs.items():
            batcher: Batcher[Any, Any] = Batcher(
                [detector.infer] * workers, size, args.wait_ms, 4096
            )
            try:
                for c in clients:
                    f = load(batcher, detector, jpegs, c, args.seconds)
                    base.setdefault(c, f["rate"])
                    print(
                        f"{name:<40}{c:>8}{f['rate']:>9.1f}{f['p50']:>8.1f}{f['p95']:>8.1f}"
                        f"{f['per_run']:>8.1f}{f['gpu']:>6}{f['refused']:>8}"
                        f"{f['rate'] / base[c]:>7.2f}"
                    )
            finally:
                batcher.close()
        whole, alone = batch_latency(detector, jpegs)
        print(
            f"one 8-frame batch: end to end p50 {pct(whole, 50):.1f} ms, p95 "
            f"{pct(whole, 95):.1f} ms; model alone p50 {pct(alone, 50):.1f} ms"
        )


if __name__ == "__main__":
    main()
