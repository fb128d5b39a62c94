"""``make bench``: the inference service under load. Figures, not pass/fail; one run, one machine.

The service (functions-framework, gunicorn, as deployed) is started once per configuration and
driven by 1, 8 and 32 concurrent clients, each POSTing one JPEG per request for a fixed number
of requests. It reports throughput, p50/p95 latency and refusals (429/503), and each
configuration's throughput as a ratio of the first.

The vendored SSD graph has a fixed batch of one, so "batching" here means the service's answer
for such graphs: parallel sessions gathering from one queue. Dynamic batches need a graph with a
free batch dimension (see docs/benchmarks.md: the GPU runtime is where they pay).
"""

from __future__ import annotations

import argparse
import base64
import functools
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from shared.devstack.procs import Stack, free_port
from shared.devstack.stack import LocalStack
from shared.devstack.tools import http_ok
from shared.settings import ASSETS
from tests.bench.bench_process import pct
from tests.bench.synthetic import synthetic_yolo

CONFIGS = {
    "1 session (2 intra-op threads), no batching": {
        "CAMWATCH_BATCHING": "false",
        "CAMWATCH_INFERENCE_WORKERS": "1",
        "CAMWATCH_INTRA_OP_THREADS": "2",
    },
    "2 parallel sessions (1 thread each), one queue": {
        "CAMWATCH_BATCHING": "true",
        "CAMWATCH_INFERENCE_WORKERS": "2",
        "CAMWATCH_INTRA_OP_THREADS": "1",
    },
}
DYNAMIC = {
    "batch 1 (one session, no batching)": {
        "CAMWATCH_BATCHING": "false",
        "CAMWATCH_INFERENCE_WORKERS": "1",
    },
    "dynamic batching (up to 8, 5 ms wait)": {
        "CAMWATCH_BATCHING": "true",
        "CAMWATCH_MAX_BATCH_SIZE": "8",
        "CAMWATCH_MAX_WAIT_MS": "5",
    },
}
CLIENTS = (1, 8, 32)


def drive(url: str, clients: int, requests_total: int, body: Any) -> dict[str, float]:
    """``requests_total`` predictions from ``clients`` threads; throughput and latency."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=clients)
    session.mount("http://", adapter)

    def one(_: int) -> tuple[int, float]:
        start = time.perf_counter()
        response = session.post(f"{url}/predict", json=body, timeout=60)
        return response.status_code, (time.perf_counter() - start) * 1000

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(clients)))  # warm the connections
        started = time.perf_counter()
        results = list(pool.map(one, range(requests_total)))
        elapsed = time.perf_counter() - started
    ok = [ms for code, ms in results if code == 200]
    return {
        "rate": len(ok) / elapsed,
        "p50": pct(ok, 50),
        "p95": pct(ok, 95),
        "refused": sum(code in (429, 503) for code, _ in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    image = (ASSETS / "images" / "pexels_double_decker_bus.jpg").read_bytes()
    body = {"instances": [{"b64": base64.b64encode(image).decode()}]}
    cores = len(os.sched_getaffinity(0))
    print(
        f"\n== inference service: SSD int8, {cores} cores, {args.requests} requests per level, "
        "one 546x413 JPEG per request =="
    )
    with tempfile.TemporaryDirectory() as tmp:
        report(run_configs(CONFIGS, Path(tmp), args.requests, body))
        synthetic = str(synthetic_yolo(Path(tmp) / "synthetic.onnx"))
        print(
            f"\n== the same, a synthetic YOLO-layout CNN with a free batch dimension "
            f"(random weights, 320x320, {args.requests} requests per level) =="
        )
        model = {"CAMWATCH_MODEL_PATH": synthetic, "CAMWATCH_MODEL_VERSION": "synthetic"}
        dynamic = {name: {**env, **model} for name, env in DYNAMIC.items()}
        report(run_configs(dynamic, Path(tmp), args.requests, body))


def run_configs(
    configs: dict[str, dict[str, str]], tmp: Path, n: int, body: Any
) -> dict[str, dict[int, dict[str, float]]]:
    """Each configuration's figures at each client count."""
    figures: dict[str, dict[int, dict[str, float]]] = {}
    for name, env in configs.items():
        local = LocalStack(Stack(tmp / f"logs-{len(figures)}-{name.split()[0]}"))
        try:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            local.start_function(
                "inference", "http", env, port, functools.partial(http_ok, f"{url}/health")
            )
            figures[name] = {c: drive(url, c, n, body) for c in CLIENTS}
        finally:
            local.stop()
    return figures


def report(figures: dict[str, dict[int, dict[str, float]]]) -> None:
    """A table; each configuration's throughput as a ratio of the first one's."""
    base = next(iter(figures))
    print(
        f"{'configuration':<48}{'clients':>8}{'img/s':>8}{'p50 ms':>8}{'p95 ms':>8}"
        f"{'refused':>8}{'ratio':>7}"
    )
    for name, by_clients in figures.items():
        for clients, f in by_clients.items():
            ratio = f["rate"] / figures[base][clients]["rate"]
            print(
                f"{name:<48}{clients:>8}{f['rate']:>8.1f}{f['p50']:>8.1f}{f['p95']:>8.1f}"
                f"{f['refused']:>8.0f}{ratio:>7.2f}"
            )
    best = max(f["rate"] for by in figures.values() for f in by.values())
    print(
        f"best throughput {best:.1f} images/s; median p50 across runs "
        f"{statistics.median(f['p50'] for by in figures.values() for f in by.values()):.1f} ms"
    )


if __name__ == "__main__":
    main()
