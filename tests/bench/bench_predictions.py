"""Predictions benchmark: a bulk request answered from BigQuery, from Redis, and one query per
camera as the baseline. Figures, not pass/fail; all from this one run and machine.

Run as ``python -m tests.bench.bench_predictions`` (``--cameras 100 --repeat 5``). It starts
Redis and the BigQuery emulator (in memory), stores one forecast run for N cameras (every
metric, 24 h of points), and times ``PredictionService.bulk`` for all N cameras, in process:

* **cold**: every camera a miss, read in one query (the design);
* **warm**: every camera a hit, one ``MGET`` (the second call of the same request);
* **per camera**: the same misses read with one query per camera (what the seed did): the
  baseline the one-query read is compared with.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
import yaml

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.bootstrap import redis_cache
from shared.devstack.procs import Stack
from shared.devstack.stack import LocalStack
from shared.domain.forecasts import METRICS
from shared.domain.registry import parse_registry
from shared.domain.timestamps import iso_utc
from shared.service_layer.predictions import PredictionService
from shared.settings import Settings


def store_run(warehouse: BigQueryWarehouse, cameras: Sequence[str], now: datetime) -> int:
    """One forecast run for ``cameras``: a status row and 24 h of points per metric; rows."""
    trained = now - timedelta(minutes=10)
    run = f"run-bench-{uuid.uuid4().hex[:6]}"
    model = {
        "model_name": "local.statsforecast.mstl_autoarima",
        "model_version": "bench",
        "backend": "local",
        "trained_at": iso_utc(trained),
        "run_id": run,
    }
    status, points = [], []
    start = int(now.timestamp()) // 3600 * 3600
    for camera in cameras:
        for metric in METRICS.values():
            status.append(
                {
                    "camera_id": camera,
                    "metric": metric.name,
                    "status": "forecast",
                    "reason": "",
                    **model,
                }
            )
            for i in range(86_400 // metric.bucket_s):
                points.append(
                    {
                        "camera_id": camera,
                        "metric": metric.name,
                        "forecast_timestamp": iso_utc(start + i * metric.bucket_s),
                        "forecast_value": 5.0 + i % 7,
                        "standard_error": 1.0,
                        "prediction_interval_lower_bound": 3.04 + i % 7,
                        "prediction_interval_upper_bound": 6.96 + i % 7,
                        "confidence_level": 0.95,
                        **model,
                    }
                )
    warehouse.insert_rows(
        "forecast_status", status, [f"{r['camera_id']}{r['metric']}" for r in status]
    )
    for at in range(0, len(points), 2000):
        chunk = points[at : at + 2000]
        ids = [f"{p['camera_id']}{p['metric']}{p['forecast_timestamp']}" for p in chunk]
        warehouse.insert_rows("forecasts", chunk, ids)
    return len(status) + len(points)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall milliseconds of ``repeat`` calls, without ``bench_process.timed``'s two warm-up
    calls: a call here costs up to half a minute, and the cold calls are the figure."""
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1000)
    return runs


def line(name: str, runs: list[float], base: float | None = None) -> str:
    """One row: median, min and max, and the ratio to ``base``."""
    med = statistics.median(runs)
    ratio = f"{base / med:8.1f}x" if base else " " * 9
    return f"  {name:<28} {med:9.1f} {min(runs):9.1f} {max(runs):9.1f} {ratio}"


def main(argv: Sequence[str] | None = None) -> None:
    """Start the stores, store a run, time the three reads."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cameras", type=int, default=100, help="cameras per bulk request")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per figure")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as logs:
        local = LocalStack(Stack(Path(logs)))
        try:
            local.start_redis()
            local.start_bigquery()
            settings = Settings(
                redis_port=int(local.env["CAMWATCH_REDIS_PORT"]),
                redis_password=local.env["CAMWATCH_REDIS_PASSWORD"],
                bigquery_endpoint=local.env["CAMWATCH_BIGQUERY_ENDPOINT"],
            )
            run(settings, args.cameras, args.repeat)
        finally:
            local.stop()


def run(settings: Settings, n: int, repeat: int) -> None:
    """The three figures for ``n`` cameras."""
    cameras = [f"cam-{i:04d}" for i in range(n)]
    registry = parse_registry(
        yaml.safe_dump(
            {
                "cameras": [
                    {
                        "id": c,
                        "name": c,
                        "source": f"http://c/{c}.jpg",
                        "location": {"lat": 0.0, "lon": 0.0},
                    }
                    for c in cameras
                ]
            }
        )
    )
    dataset = f"bench_{uuid.uuid4().hex[:6]}"
    warehouse = BigQueryWarehouse(
        bigquery_client(settings.project_id, settings.bigquery_endpoint), dataset, "US", 60, 300
    )
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    rows = store_run(warehouse, cameras, now)
    print(f"predictions: {n} cameras, {rows:,} rows stored in {time.perf_counter() - t0:.1f} s")
    cache = redis_cache(settings, 2.0)
    service = PredictionService(registry, cache, warehouse, settings.project_id, dataset, 1440)
    body = {"cameras": cameras, "horizon": 60}
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    # Before each cold call.
    flush = redis.Redis(settings.redis_host, settings.redis_port, password=password).flushdb

    def cold() -> object:
        flush()
        answer = service.bulk(body)
        assert answer.misses == n, answer.misses
        return answer

    def warm() -> object:
        answer = service.bulk(body)
        assert answer.hits == n, answer.hits
        return answer

    def per_camera() -> object:
        return [service.read((c,), 60) for c in cameras]

    cold()  # first query: the emulator's own warm-up
    runs = {"cold (one query)": timed(cold, repeat)}
    runs["warm (Redis MGET)"] = timed(warm, repeat)
    runs["one query per camera"] = timed(per_camera, max(1, repeat // 2))
    base = statistics.median(runs["one query per camera"])
    print(
        f"  {'bulk of ' + str(n) + ' cameras, ms':<28} {'median':>9} {'min':>9} {'max':>9} "
        f"{'vs per-camera':>9}"
    )
    for name, times in runs.items():
        print(line(name, times, base), flush=True)
    ratio = statistics.median(runs["cold (one query)"]) / statistics.median(
        runs["warm (Redis MGET)"]
    )
    print(f"  the cache answers {ratio:.0f}x faster than the one query")


if __name__ == "__main__":
    main()
