"""``python -m shared.devstack run|up|sweep``: the local stack for people (``make run``, ...).

``run`` starts the stack, publishes one camera-sweep message as Cloud Scheduler would, prints a
line per camera as its row lands in BigQuery, then a summary (detections, violations, alerts
delivered, cache, latency, dead letters), and stops everything.
``up`` starts the stack, prints ready-to-paste commands and waits for Ctrl-C.
``sweep`` publishes one more sweep into the stack of ``up`` and watches it the same way.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from shared.devstack.procs import StartError, port_open
from shared.devstack.stack import PROJECT, ROOT, LocalStack, start_all
from shared.devstack.tools import MissingToolError
from shared.domain.registry import load_registry
from shared.settings import Settings

LOGS = ROOT / ".stack" / "logs"


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def watch_sweep(env: dict[str, str], cameras: list[str], payload: dict[str, Any]) -> int:
    """Publish one sweep, print each camera as it finishes, then the summary; 0 if all went well."""
    os.environ["PUBSUB_EMULATOR_HOST"] = env["PUBSUB_EMULATOR_HOST"]
    from shared.devstack.sweep_watch import SweepWatch
    from shared.devstack.tools import read_maildir

    watch = SweepWatch(env, PROJECT, cameras)
    sweep_id = watch.publish(payload)
    print(
        f"\npublished camera-sweep message {watch.message_id} (as Cloud Scheduler does): "
        f"sweep {sweep_id}, {len(cameras)} cameras; a line per row in BigQuery",
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
    if url := env.get("CAMWATCH_INFERENCE_URL"):
        with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
            health = json.loads(response.read())
        print(
            f"detector:     the inference service at {url} ({health['mode']}): "
            f"{health['images']} images in {health['batches']} batches so far, "
            f"{health['refused']} refused",
            flush=True,
        )
    if not ok:
        print(
            f"error: the sweep did not complete as expected (see above and the logs in {LOGS})",
            file=sys.stderr,
        )
    return 0 if ok else 1


def run(local: LocalStack) -> int:
    """One sweep of every demo camera through Pub/Sub, the workers and the alert dispatcher."""
    registry = load_registry(Settings().registry_path, env={**os.environ, **local.env})
    return watch_sweep({**local.env, **local.backend_env()}, [c.id for c in registry.cameras], {})


def sweep(cameras: list[str]) -> int:
    """Publish one camera-sweep message into the stack of ``make up`` and watch it."""
    env_file = ROOT / ".stack" / "env"
    if not env_file.is_file():
        print("error: no running stack: start one with `make up` first", file=sys.stderr)
        return 2
    env = dict(
        line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
    )
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
    return watch_sweep(env, cameras or known, payload)


def up(local: LocalStack) -> int:
    """Print how to use the running stack and wait for Ctrl-C."""
    url = local.function_url
    env_file = ROOT / ".stack" / "env"
    env = {**local.env, **local.backend_env()}
    env_file.write_text("".join(f"export {k}={v}\n" for k, v in sorted(env.items())))
    print(
        f"""
camwatch local stack is up (logs in {LOGS}); Ctrl-C stops everything.

  curl -s -X POST {url}/process/camera/cam-001-market-5th | python3 -m json.tool
  curl -s -X POST {url}/process/camera/cam-013-civic-center-plaza-north | python3 -m json.tool
  curl -s -X POST {url}/process/camera/cam-021-offline          # 502: unreachable camera
  curl -s -X POST {url}/process/camera/no-such-camera           # 404
  curl -s {url}/status | python3 -m json.tool
  curl -s {url}/metrics | grep camwatch_
  curl -s {local.inference_url}/health | python3 -m json.tool    # the inference service
  make sweep                                   # publish a sweep, as Cloud Scheduler would
  make sweep CAMERAS="cam-001-market-5th cam-007-harrison-8th"
  curl -s {local.env["CAMWATCH_WEBHOOK_URL"].rsplit("/", 1)[0]}/deliveries | python3 -m json.tool
  ls {local.maildir}/new                       # alert emails (HIGH) received by the SMTP sink

environment of the stack (for your own scripts): source {env_file}
""",
        flush=True,
    )
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
    print(
        "starting the local stack: Redis, the BigQuery, Cloud Storage and Pub/Sub emulators, "
        "camera server, webhook receiver, SMTP sink, functions ...",
        flush=True,
    )
    started = time.perf_counter()
    try:
        local = start_all(LOGS, function=args.command == "up", events=True, inference=True)
    except (MissingToolError, StartError) as exc:
        print(f"error: {exc}", file=sys.stderr)
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
        return run(local) if args.command == "run" else up(local)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        local.stop()
        print("local stack stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
