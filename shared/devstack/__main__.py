"""``python -m shared.devstack run|up``: the local stack for people (``make run``, ``make up``).

``run`` starts the stack, processes every demo camera through the HTTP function (twice, to
show the frame cache), prints a summary table and the rows in BigQuery, and stops everything.
``up`` starts the stack, prints ready-to-paste commands and waits for Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from types import FrameType
from typing import Any

import requests

from shared.devstack.procs import StartError, port_open
from shared.devstack.stack import PROJECT, ROOT, LocalStack, MissingTool, start_all
from shared.registry import ROAD_USERS, load_registry
from shared.settings import Settings

LOGS = ROOT / ".stack" / "logs"
SHORT = {"person": "ped", "bicycle": "bike", "car": "car", "motorcycle": "moto", "bus": "bus",
         "truck": "truck"}  # fmt: skip


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _post(url: str) -> tuple[int, dict[str, Any], float]:
    start = time.perf_counter()
    response = requests.post(url, timeout=60)
    elapsed = (time.perf_counter() - start) * 1000
    try:
        body = response.json()
    except ValueError:
        body = {"error": "not_json", "message": response.text[:200]}
    return response.status_code, body, elapsed


def _summary_row(camera_id: str, first: tuple[int, dict[str, Any], float],
                 second: tuple[int, dict[str, Any], float]) -> str:  # fmt: skip
    code, body, ms = first
    if code != 200:
        cause = f"{body.get('error')}: {body.get('message', '')}"[:70]
        return f"{camera_id:<34} {code:>4}  {cause}"
    counts = " ".join(f"{body['counts'][c]:>{len(SHORT[c])}}" for c in ROAD_USERS)
    code2, body2, ms2 = second
    cache2 = body2.get("cache", str(code2))
    return (f"{camera_id:<34} {code:>4}  {counts}  {body['cache']:<5}{ms:>7.1f}"
            f"  {cache2:<5}{ms2:>7.1f}  {body['frame']['source_kind']}")  # fmt: skip


def run(local: LocalStack) -> int:
    """Process every demo camera twice and print the summary; 0 if all went as expected."""
    assert local.function_url
    registry = load_registry(Settings().registry_path, env={**os.environ, **local.env})
    cameras = [c.id for c in registry.cameras]
    print(f"\nprocessing {len(cameras)} demo cameras through {local.function_url} ...", flush=True)
    results: dict[str, list[tuple[int, dict[str, Any], float]]] = {}
    for n, camera_id in enumerate(cameras, 1):
        first = _post(f"{local.function_url}/process/camera/{camera_id}")
        results[camera_id] = [first]
        code, body, ms = first
        what = body.get("cache") or body.get("error")
        print(
            f"  [{n:>2}/{len(cameras)}] {camera_id:<34} {code} {what:<12} {ms:7.1f} ms", flush=True
        )
    print("second pass (an unchanged frame is answered from the Redis cache) ...", flush=True)
    for camera_id in cameras:
        results[camera_id].append(_post(f"{local.function_url}/process/camera/{camera_id}"))

    header = " ".join(SHORT[c] for c in ROAD_USERS)
    print(
        f"\n{'camera':<34} {'http':>4}  {header}  "
        f"{'cache':<5}{'ms':>7}  {'2nd':<5}{'ms':>7}  source"
    )
    print("-" * 110)
    for camera_id in cameras:
        print(_summary_row(camera_id, *results[camera_id]))
    ok = [r[0] for r in results.values() if r[0][0] == 200]
    misses = [r[2] for r in ok if r[1]["cache"] == "miss"]
    second_pass = [r[1] for r in results.values()]
    hits = [ms for code, body, ms in second_pass if code == 200 and body.get("cache") == "hit"]
    totals = {c: sum(r[1]["counts"][c] for r in ok) for c in ROAD_USERS}
    failed = {cid: r[0][1].get("error") for cid, r in results.items() if r[0][0] != 200}
    print("-" * 110)
    print(f"cameras: {len(cameras)}, processed: {len(ok)}, failed: {len(failed)} {failed}")
    print("detections: " + ", ".join(f"{c} {n}" for c, n in totals.items()))
    found = [v for r in ok for v in r[1]["violations"]]
    kinds = sorted({(v["type"], v["class_name"]) for v in found})
    print(f"violations: {len(found)} recorded, {sum(v['alerted'] for v in found)} published "
          f"for alerting (one per camera and type in 24 h); {kinds}")  # fmt: skip
    if misses:
        print(f"first pass (cache miss) client latency ms: p50 {statistics.median(misses):.1f}, "
              f"max {max(misses):.1f}")  # fmt: skip
    if hits:
        print(f"second pass cache hits: {len(hits)}, client latency ms: p50 "
              f"{statistics.median(hits):.1f}, max {max(hits):.1f}")  # fmt: skip
    rows = _rows_in_bigquery(local)
    print(f"rows in BigQuery {PROJECT}.camwatch.observations: {rows}")
    print("query them (make up keeps the stack running):\n  SELECT camera_id, event_time, "
          "frame_status, counts.car, counts.person, cache_status FROM "
          f"`{PROJECT}.camwatch.observations` ORDER BY event_time DESC")  # fmt: skip
    expected_failures = {"cam-021-offline", "cam-022-maintenance"}
    return 0 if set(failed) == expected_failures and len(ok) == len(cameras) - 2 else 1


def _rows_in_bigquery(local: LocalStack) -> dict[str, int]:
    from shared.warehouse import BigQueryWarehouse, bigquery_client

    client = bigquery_client(PROJECT, local.env["CAMWATCH_BIGQUERY_ENDPOINT"])
    warehouse = BigQueryWarehouse(client, "camwatch", "US", 10)
    rows = warehouse.query(
        f"SELECT frame_status, COUNT(*) AS n FROM `{PROJECT}.camwatch.observations` "
        "GROUP BY frame_status ORDER BY frame_status"
    )
    return {r["frame_status"]: r["n"] for r in rows}


def sweep(cameras: list[str]) -> int:
    """Publish one camera-sweep message into the stack of ``make up``, as Cloud Scheduler does."""
    env_file = ROOT / ".stack" / "env"
    if not env_file.is_file():
        print("error: no running stack: start one with `make up` first", file=sys.stderr)
        return 2
    env = dict(
        line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
    )
    host = env.get("PUBSUB_EMULATOR_HOST")
    if not host or not port_open(int(host.rsplit(":", 1)[1])):
        print(f"error: the stack's Pub/Sub emulator ({host}) is not running: `make up`",
              file=sys.stderr)  # fmt: skip
        return 2
    os.environ["PUBSUB_EMULATOR_HOST"] = host
    from shared.bus import PubSubBus

    payload: dict[str, Any] = {"cameras": cameras} if cameras else {}
    [message_id] = PubSubBus(PROJECT).publish("camera-sweep", "camera_sweep", [payload])
    print(f"published camera-sweep message {message_id} ({len(cameras) or 'all'} cameras); "
          f"watch: tail -f {LOGS}/camera_worker.log")  # fmt: skip
    return 0


def up(local: LocalStack) -> int:
    """Print how to use the running stack and wait for Ctrl-C."""
    url = local.function_url
    env_file = ROOT / ".stack" / "env"
    env_file.write_text("".join(f"export {k}={v}\n" for k, v in sorted(local.env.items())))
    print(f"""
camwatch local stack is up (logs in {LOGS}); Ctrl-C stops everything.

  curl -s -X POST {url}/process/camera/cam-001-market-5th | python3 -m json.tool
  curl -s -X POST {url}/process/camera/cam-013-civic-center-plaza-north | python3 -m json.tool
  curl -s -X POST {url}/process/camera/cam-021-offline          # 502: unreachable camera
  curl -s -X POST {url}/process/camera/no-such-camera           # 404
  curl -s {url}/status | python3 -m json.tool
  curl -s {url}/metrics | grep camwatch_
  make sweep                                   # publish a sweep, as Cloud Scheduler would

environment of the stack (for your own scripts): source {env_file}
""", flush=True)  # fmt: skip
    while True:  # short sleeps: a signal that lands just before a long sleep waits for it
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m shared.devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "up", "sweep"])
    parser.add_argument("cameras", nargs="*", help="sweep: only these camera ids")
    args = parser.parse_args(argv)
    if args.command == "sweep":
        return sweep(args.cameras)
    # Own handlers even where the parent left SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    print("starting the local stack: Redis, BigQuery, Cloud Storage and (make up) Pub/Sub "
          "emulators, camera server, functions ...", flush=True)  # fmt: skip
    started = time.perf_counter()
    try:
        local = start_all(LOGS, events=args.command == "up")
    except (MissingTool, StartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"stack ready in {time.perf_counter() - started:.1f} s: "
              + json.dumps({k: v for k, v in local.env.items() if "HOST" in k or "URL" in k
                            or "ENDPOINT" in k or "PORT" in k}), flush=True)  # fmt: skip
        return run(local) if args.command == "run" else up(local)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        local.stop()
        print("local stack stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
