"""``python -m shared.devstack run|up|sweep``: the local stack for people (``make run``, ...).

``run`` starts the stack, publishes a few camera-sweep messages seconds apart as Cloud Scheduler
would every few minutes (the dwell rules need time), prints a line per camera as its row lands in
BigQuery and a summary per sweep (detections, violations, alerts delivered, cache, latency, dead
letters), then the violations by rule (opened, closed, how long) and the alerts sent, and stops
everything.
``up`` starts the stack, prints ready-to-paste commands and waits for Ctrl-C.
``sweep`` publishes one more sweep into the stack of ``up`` and watches it the same way.
``history`` writes weeks of simulated observations into the BigQuery emulator (kept on disk in
``.stack/bigquery``, as for ``run`` and ``up``); ``forecast`` runs the forecast job on them,
prints a table per camera and saves a chart per camera in ``.stack/forecasts``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from shared.devstack.demo_alerts import AlertLog
from shared.devstack.evidence_report import save_evidence
from shared.devstack.forecast_cli import BIGQUERY_DIR, LOGS, forecast, history, start_failed
from shared.devstack.procs import StartError, port_open
from shared.devstack.stack import PROJECT, ROOT, LocalStack
from shared.devstack.start import start_all
from shared.devstack.tools import MissingToolError, read_env, write_env
from shared.devstack.violations_report import report
from shared.domain.registry import load_registry
from shared.settings import Settings

DEMO_SWEEPS = 4
DEMO_PAUSE_S = 3.0  # between sweeps (Cloud Scheduler: 300 s)
DEMO_TRACK_GAP_S = 20  # tracks unseen this long end (900 s by default): closes in the demo
DEMO_SETTINGS = {
    "CAMWATCH_TRACK_MAX_GAP_S": str(DEMO_TRACK_GAP_S),
    "CAMWATCH_MONITOR_OFFLINE_SWEEPS": "2",  # 3 by default
    "CAMWATCH_ALERT_COOLDOWN_S": "5",  # 900 by default
}
DEMO_REPAIR_BEFORE = 3  # cam-022-maintenance serves frames again from this sweep on


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def watch_sweep(
    env: dict[str, str], cameras: list[str], payload: dict[str, Any], label: str = "sweep"
) -> tuple[bool, str]:
    """Publish one sweep, print each camera as it finishes, then the summary; return whether
    all went well, and the sweep id."""
    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]
    from shared.devstack.sweep_watch import SweepWatch
    from shared.devstack.tools import read_maildir

    watch = SweepWatch(env, PROJECT, cameras)
    # The emulator numbers messages from 1 at each start (the cloud's ids are unique), and the
    # local BigQuery keeps earlier runs' rows: a sweep id of its own keeps this sweep's apart.
    sweep_id = watch.publish({"sweep_id": f"sweep-{datetime.now(UTC):%Y%m%dT%H%M%S.%f}", **payload})
    print(
        f"\n{label}: published camera-sweep message {watch.message_id} (as Cloud Scheduler "
        f"does): sweep {sweep_id}, {len(cameras)} cameras; a line per row in BigQuery",
        flush=True,
    )
    try:
        complete = watch.wait(lambda line: print(line, flush=True))
    finally:
        watch.close()
    maildir = Path(env["CAMWATCH_DEMO_MAILDIR"])

    def emails() -> list[str]:
        return [str(m["X-Camwatch-Violation-Id"]) for m in read_maildir(maildir)]

    ok = watch.summary(emails, lambda line: print(line, flush=True)) and complete
    if not ok:
        print(
            f"error: the sweep did not complete as expected (see above and the logs in {LOGS})",
            file=sys.stderr,
        )
    return ok, sweep_id


def detector_health(env: dict[str, str]) -> None:
    """A line about the inference service, when the stack runs one."""
    if url := env.get("CAMWATCH_INFERENCE_URL"):
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            health = json.loads(response.read())
        print(
            f"detector:     the inference service at {url} ({health['mode']}): "
            f"{health['images']} images in {health['batches']} batches so far, "
            f"{health['refused']} refused",
            flush=True,
        )


def _pause(n: int, sweeps: int, first_done: float) -> tuple[float, str]:
    """How long to wait before sweep ``n``, and why."""
    if n < sweeps or sweeps < 3:
        return DEMO_PAUSE_S, "dwell rules need time (stationary seconds, observations in a row)"
    wait = max(DEMO_PAUSE_S, first_done + DEMO_TRACK_GAP_S + 2 - time.monotonic())
    return wait, (
        f"tracks unseen for {DEMO_TRACK_GAP_S} s end (CAMWATCH_TRACK_MAX_GAP_S={DEMO_TRACK_GAP_S} "
        "in this demo, 900 by default): people lost since sweep 1 close their violations"
    )


def run(local: LocalStack, sweeps: int = DEMO_SWEEPS) -> int:
    """A few sweeps of every demo camera through Pub/Sub, the workers and the alert dispatcher,
    seconds apart; then the violations by rule and the alerts sent."""
    registry = load_registry(Settings().registry_path, env={**os.environ, **local.env})
    env, cameras = {**local.env, **local.backend_env()}, [c.id for c in registry.cameras]
    print(
        f"\n{sweeps} sweeps of every camera, {DEMO_PAUSE_S:g} s or more apart (Cloud Scheduler "
        "sweeps every 300 s): the dwell rules (no_standing, double_parking, block_the_box, "
        "congestion) need a road user seen over time; the clip cameras give a new frame each "
        "sweep, the snapshot cameras the same one (a cache hit, no rules)",
        flush=True,
    )
    ok, ids, first_done = True, [], 0.0
    alerts = AlertLog(env)
    for n in range(1, sweeps + 1):
        if n > 1:
            wait, why = _pause(n, sweeps, first_done)
            print(f"\nsweep {n} of {sweeps} in {wait:.0f} s: {why}", flush=True)
            time.sleep(wait)
        if n == DEMO_REPAIR_BEFORE and local.camera_server:
            local.camera_server.maintenance_over = True
            print("cam-022-maintenance: maintenance over, it serves frames again", flush=True)
        done, sweep_id = watch_sweep(env, cameras, {}, f"sweep {n} of {sweeps}")
        ticked = alerts.tick(f"after sweep {n}", lambda line: print(line, flush=True))
        ok, first_done = ok and done and ticked, first_done or time.monotonic()
        ids.append(sweep_id)
    alerts.summary(lambda line: print(line, flush=True))
    detector_health(env)
    from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client

    client = bigquery_client(PROJECT, env["CAMWATCH_BIGQUERY_ENDPOINT"])
    report(BigQueryWarehouse(client, "camwatch", "US", 10), ids, lambda s: print(s, flush=True))
    save_evidence(local, ROOT / ".stack", lambda s: print(s, flush=True))
    return 0 if ok else 1


def sweep(cameras: list[str]) -> int:
    """Publish one camera-sweep message into the stack of ``make up`` and watch it."""
    env_file = ROOT / ".stack" / "env"
    if not env_file.is_file():
        print("error: no running stack: start one with `make up` first", file=sys.stderr)
        return 2
    env = read_env(env_file)
    host = env.get("PUBSUB_EMULATOR_HOST")
    if not host or not port_open(int(host.rsplit(":", 1)[1])):
        print(
            f"error: the stack's Pub/Sub emulator ({host}) is not running: `make up`",
            file=sys.stderr,
        )
        return 2
    registry = load_registry(Settings().registry_path, env={**os.environ, **env})
    known = [c.id for c in registry.cameras]
    unknown = sorted(set(cameras) - set(known))
    if unknown:
        print(f"error: unknown cameras {unknown}; known: {known}", file=sys.stderr)
        return 2
    payload: dict[str, Any] = {"cameras": cameras} if cameras else {}
    ok, _ = watch_sweep(env, cameras or known, payload)
    ticked = AlertLog(env).tick("after make sweep", lambda line: print(line, flush=True))
    detector_health(env)
    ok = ok and ticked
    return 0 if ok else 1


def up(local: LocalStack) -> int:
    """Print how to use the running stack and wait for Ctrl-C."""
    url, forecasts = local.function_url, local.predictions_url
    bulk = json.dumps(
        {"cameras": ["cam-001-market-5th", "cam-004-mission-4th", "cam-021-offline"], "horizon": 60}
    )
    env_file = ROOT / ".stack" / "env"
    env = {**local.env, **local.backend_env()}
    write_env(env_file, env)
    print(
        f"""
camwatch local stack is up (logs in {LOGS}); Ctrl-C stops everything.

Its functions want an API key (docs/auth.md); this stack's two are in {env_file}:
  source {env_file}    # CAMWATCH_DEMO_API_KEY (every scope), CAMWATCH_DEMO_FORECASTS_KEY
  KEY="X-API-Key: $CAMWATCH_DEMO_API_KEY"

  curl -s -X POST -H "$KEY" {url}/process/camera/cam-001-market-5th | python3 -m json.tool
  curl -s -X POST -H "$KEY" {url}/process/camera/cam-021-offline   # 502: unreachable camera
  curl -s -X POST -H "$KEY" {url}/process/camera/no-such-camera    # 404
  curl -s -X POST {url}/process/camera/cam-001-market-5th          # 401: the accepted schemes
  curl -s -X POST -H "Authorization: Bearer $CAMWATCH_DEMO_FORECASTS_KEY" \\
    {url}/process/camera/cam-001-market-5th                        # 403: no process scope
  curl -s -H "$KEY" {url}/status | python3 -m json.tool
  curl -s -H "$KEY" {url}/metrics | grep camwatch_
  curl -s {url}/health                                             # open: no key
  curl -s {local.inference_url}/health | python3 -m json.tool    # the inference service
  make sweep                                   # publish a sweep, as Cloud Scheduler would
  make sweep CAMERAS="cam-001-market-5th cam-007-harrison-8th"
  curl -s {local.env["CAMWATCH_WEBHOOK_URL"].rsplit("/", 1)[0]}/deliveries | python3 -m json.tool
  ls {local.maildir}/new                       # alert emails (HIGH) received by the SMTP sink

forecasts (after `make history && make forecast`; docs/predictions.md):
  curl -s -H "$KEY" '{forecasts}/predictions/cam-001-market-5th?horizon=60&confidence=0.9'
  curl -s -X POST -H "$KEY" {forecasts}/predictions/bulk -H 'Content-Type: application/json' \\
    -d '{bulk}' | python3 -m json.tool
  curl -s -H "$KEY" '{forecasts}/predictions/no-such-camera?horizon=60'    # 404
  curl -s -H "$KEY" '{forecasts}/predictions/cam-001-market-5th?horizon=9999'  # 400: the reason

environment of the stack (for your own scripts): source {env_file}
""",
        flush=True,
    )
    while True:  # short sleeps: a signal that lands just before a long sleep waits for it
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m shared.devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "up", "sweep", "history", "forecast"])
    parser.add_argument("cameras", nargs="*", help="sweep: only these camera ids")
    parser.add_argument(
        "--sweeps", type=int, default=DEMO_SWEEPS, help="run: how many sweeps (default 4)"
    )
    parser.add_argument("--weeks", type=float, default=4, help="history: weeks (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="history: random seed (default 0)")
    parser.add_argument("--project", help="forecast: a real project (BigQuery ML, no emulator)")
    parser.add_argument("--dataset", default="camwatch", help="forecast: its dataset")
    args = parser.parse_args(argv)
    if args.command == "sweep":
        return sweep(args.cameras)
    # Own handlers even where the parent left SIGINT ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    if args.command in ("history", "forecast"):
        try:
            if args.command == "history":
                return history(args.weeks, args.seed)
            return forecast(args.project, args.dataset)
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
    print(
        "starting the local stack: Redis, the BigQuery, Cloud Storage and Pub/Sub emulators, "
        "camera server, webhook receiver, SMTP sink, functions ...",
        flush=True,
    )
    started = time.perf_counter()
    try:
        local = start_all(
            LOGS,
            function=args.command == "up",
            events=True,
            predictions=args.command == "up",
            inference=True,
            settings=DEMO_SETTINGS if args.command == "run" else None,
            # `up` shares the data of `history` and `forecast`; `run` is a demo of its own sweeps
            # and keeps its rows in memory (a large history on disk slows every insert).
            bigquery_dir=BIGQUERY_DIR if args.command == "up" else None,
            demo_subscribers=args.command in ("run", "up"),
            on_ready=lambda name, s: print(f"  {name:<20} ready in {s:4.1f} s", flush=True),
        )
    except (MissingToolError, StartError) as exc:
        start_failed(exc)
        return 2
    try:
        print(
            f"stack ready in {time.perf_counter() - started:.1f} s: "
            + json.dumps(
                {
                    k: v
                    for k, v in {**local.env, **local.backend_env()}.items()
                    if "HOST" in k or "URL" in k or "ENDPOINT" in k or "PORT" in k
                }
            ),
            flush=True,
        )
        return run(local, max(1, args.sweeps)) if args.command == "run" else up(local)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        local.stop()
        print("local stack stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
