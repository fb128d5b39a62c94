"""``make bench``: sweep throughput. Figures, not pass/fail; all from this one run and machine.

A sweep of N cameras (default 200, snapshot cameras over the vendored frames, with the demo
zones so the violation stage runs too) goes through the real path: camera-sweep on the Pub/Sub
emulator, the sweep function, one camera-jobs message per camera pushed to the camera_worker
(functions-framework, gunicorn), Redis, the BigQuery and Cloud Storage emulators.

Throughput is cameras / (last observation row - publish), beside the ideal
(cores / model time per frame, the model time being one single-threaded ``session.run``) as a
ratio (goal: at least 0.8). The same cameras processed in process (CameraProcessor, one thread
per core, no Pub/Sub or HTTP) give a second baseline, to show what the event path costs.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.detection.inprocess import InProcessDetector
from shared.devstack.stack import PROJECT, LocalStack
from shared.devstack.start import start_all
from shared.settings import ASSETS, Settings
from tests.bench.bench_process import FRAMES, timed
from tests.snapshot_cameras import snapshot_registry


def model_ms(repeat: int) -> float:
    """Median single-threaded ``session.run`` over the vendored frames (ms)."""
    settings = Settings()
    detector = InProcessDetector(settings.model_path, settings.labels_path, "bench", 1)
    session = detector.load()
    name = session.get_inputs()[0].name
    runs = []
    for frame in FRAMES:
        image = cv2.imread(str(ASSETS / "images" / frame))
        assert image is not None
        tensor = detector.preprocess(image.astype(np.uint8, copy=False))
        runs += timed(functools.partial(session.run, None, {name: tensor}), repeat)
    return statistics.median(runs)


def bench_registry(n: int, path: Path) -> dict[str, list[str]]:
    """Snapshot cameras cycling over the demo snapshot cameras (their zones too), by group.

    Groups: ``warm`` (2, loads the model in the worker), ``sweep`` (n, the event path) and
    ``direct`` (n, the in-process baseline): distinct ids, so neither finds the other's
    results in the cache.
    """
    groups = {"warm": 2, "sweep": n, "direct": n}
    return snapshot_registry(groups, path, "bench")


def count_rows(warehouse: BigQueryWarehouse, sweep_id: str) -> int:
    [row] = warehouse.query(
        f"SELECT COUNT(*) AS n FROM `{warehouse.table_id('observations')}` WHERE sweep_id = @s",
        {"s": sweep_id},
    )
    return int(row["n"])


def sweep(local: LocalStack, cameras: list[str], sweep_id: str, timeout_s: float) -> float:
    """Publish one sweep; seconds until its last row is in BigQuery (progress every 2 s)."""
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    warehouse = BigQueryWarehouse(client, settings.bigquery_dataset, "US", 10)
    warehouse.ensure_tables()
    publisher = pubsub_v1.PublisherClient()
    topic = publisher.topic_path(PROJECT, "camera-sweep")
    data = json.dumps({"sweep_id": sweep_id, "cameras": cameras}).encode()
    start = time.perf_counter()
    publisher.publish(topic, data).result(timeout=30)
    last_print = start
    while (elapsed := time.perf_counter() - start) < timeout_s:
        done = count_rows(warehouse, sweep_id)
        if done >= len(cameras):
            return elapsed
        if time.perf_counter() - last_print > 2:
            print(f"  {done}/{len(cameras)} rows after {elapsed:.1f} s", flush=True)
            last_print = time.perf_counter()
        time.sleep(0.5)  # the count query loads the BigQuery emulator, on the same cores
    raise TimeoutError(
        f"sweep {sweep_id}: {count_rows(warehouse, sweep_id)} rows after {timeout_s} s"
    )


def cpu_seconds(local: LocalStack) -> dict[str, float]:
    """CPU time (user + system) so far of each stack process group, and of this process."""
    tick = os.sysconf("SC_CLK_TCK")
    groups = {proc.pid: name for name, proc in local.stack.procs}
    used: dict[str, float] = dict.fromkeys(groups.values(), 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pgid = int(fields[2])  # after ")": state, ppid, pgrp, ...
        if pgid in groups:
            used[groups[pgid]] += (int(fields[11]) + int(fields[12])) / tick
    times = os.times()
    used["bench (this process: camera server, polling)"] = times.user + times.system
    return used


def worker_latency(sweep_id: str) -> tuple[float, float]:
    """p50 and p95 of the per-camera total (ms) the workers recorded for a sweep."""
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    warehouse = BigQueryWarehouse(client, settings.bigquery_dataset, "US", 10)
    rows = warehouse.query(
        f"SELECT latency_ms.total_ms AS t FROM `{warehouse.table_id('observations')}` "
        "WHERE sweep_id = @s AND latency_ms.total_ms IS NOT NULL",
        {"s": sweep_id},
    )
    values = sorted(float(r["t"]) for r in rows)
    return statistics.median(values), values[int(0.95 * (len(values) - 1))]


def push_concurrency(messages: int = 40, hold_s: float = 0.1) -> int:
    """Most push requests the Pub/Sub emulator keeps in flight to one slow endpoint."""
    active = peak = done = 0
    lock = threading.Lock()

    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def do_POST(self) -> None:
            nonlocal active, peak, done
            self.rfile.read(int(self.headers["Content-Length"] or 0))
            with lock:
                active += 1
                peak = max(peak, active)
            time.sleep(hold_s)
            with lock:
                active -= 1
                done += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(PROJECT, "bench-push-probe")
        publisher.create_topic(name=topic, timeout=15)
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/"
        subscriber.create_subscription(
            request={
                "name": subscriber.subscription_path(PROJECT, "bench-push-probe"),
                "topic": topic,
                "push_config": {"push_endpoint": endpoint},
            },
            timeout=15,
        )
        for future in [publisher.publish(topic, b"{}") for _ in range(messages)]:
            future.result(timeout=30)
        deadline = time.monotonic() + 60
        while done < messages and time.monotonic() < deadline:
            time.sleep(0.05)
        return peak
    finally:
        server.shutdown()
        server.server_close()


def in_process(cameras: list[str], workers: int) -> float:
    """Seconds to process ``cameras`` with CameraProcessor directly, ``workers`` threads."""
    from shared.bootstrap import build

    services = build(Settings())
    processor = services.processor
    processor.process("bench-warm-0000", sweep_id="direct-warm")
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda c: processor.process(c, sweep_id="direct"), cameras))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    model = model_ms(args.repeat)
    ideal = cores / (model / 1000)
    print(f"\n== sweep throughput: {args.cameras} cameras, {cores} cores ==")
    print(
        f"model time per frame (single-threaded session.run, median): {model:.2f} ms; "
        f"ideal {cores} / {model:.2f} ms = {ideal:.1f} cameras/s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        registry = Path(tmp) / "cameras.yaml"
        ids = bench_registry(args.cameras, registry)
        local = start_all(Path(tmp) / "logs", function=False)
        saved = dict(os.environ)
        try:
            local.env |= {"CAMWATCH_REGISTRY_PATH": str(registry), "CAMWATCH_INTRA_OP_THREADS": "1"}
            os.environ.update(local.env)
            local.start_event_functions()
            sweep(local, ids["warm"], "bench-warm", 60)  # model loaded, connections open
            before = cpu_seconds(local)
            seconds = sweep(local, ids["sweep"], "bench-sweep", args.timeout)
            after = cpu_seconds(local)
            rate = args.cameras / seconds
            p50, p95 = worker_latency("bench-sweep")
            print(
                f"event path (Pub/Sub push -> camera_worker, gunicorn 1 worker x "
                f"{cores * 4} threads): {seconds:.2f} s, {rate:.1f} cameras/s, "
                f"ratio to ideal {rate / ideal:.2f} (goal >= 0.8)"
            )
            print(f"  per camera in the worker: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
            spent = {k: after[k] - before.get(k, 0.0) for k in after}
            print(
                f"  where the {cores} cores went during the sweep ({cores * seconds:.1f} "
                "CPU-s available):"
            )
            for name, cpu in sorted(spent.items(), key=lambda kv: -kv[1]):
                if cpu >= 0.05:
                    print(f"    {name:<48} {cpu:6.2f} CPU-s  {cpu / (cores * seconds):5.1%}")
            worker_ms = spent["camera_worker"] / args.cameras * 1000
            print(
                f"  camera_worker CPU per camera {worker_ms:.1f} ms (model {model:.1f} ms): "
                f"on cores of its own it would sweep {cores / (worker_ms / 1000):.1f} "
                f"cameras/s, ratio to ideal {model / worker_ms:.2f}"
            )
            peak = push_concurrency()
            print(
                f"  the emulator keeps at most {peak} pushes in flight per subscription "
                f"(probe: 40 messages to a 100 ms endpoint), so this path tops out near "
                f"{peak} / {p50:.1f} ms = {peak / (p50 / 1000):.1f} cameras/s "
                f"whatever the cores"
            )
            direct = in_process(ids["direct"], cores)
            direct_rate = args.cameras / direct
            print(
                f"in process (CameraProcessor, {cores} threads, same Redis/BigQuery/GCS): "
                f"{direct:.2f} s, {direct_rate:.1f} cameras/s, ratio to ideal "
                f"{direct_rate / ideal:.2f}; event path / in process "
                f"{rate / direct_rate:.2f}"
            )
        finally:
            os.environ.clear()
            os.environ.update(saved)
            local.stop()


if __name__ == "__main__":
    main()
