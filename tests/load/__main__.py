"""``make load``: ``process_camera`` under load as deployed, the rate limiter, redelivery storms.

1. ``--requests`` POSTs to ``process_camera`` (functions-framework's gunicorn, one worker and
   as many threads as ``var.functions.concurrency``, Cloud Run's requests per instance),
   ``--in-flight`` at once from one bounded async client on 127.0.0.1, with the stack's key
   (100,000 a minute: the limiter is not what is measured). The mix: ``--hit-ratio`` of the
   requests on warmed snapshot cameras (cache hits), the rest each on a clip camera never
   processed before (a miss: decode, detection, the row). Printed: counts by status, errors
   by kind, latency p50/p95/p99 (client side, and in the server by hit and miss), the server's
   peak RSS. Only 200, and 429/503 with Retry-After, are allowed.
2. The limiter: ``--limited`` requests at once with a key of 60 a minute (a bucket of 10): the
   rest must be 429 with Retry-After.
3. Redelivery storms: one camera job pushed ``--storm`` times at once to camera_worker, one
   violation ``--storm`` times to alert_dispatcher: exactly one row, one alert per channel.

Figures are printed, never asserted as timings; the exit status is 1 when a rule is broken.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.load.client import Summary, run_plan
from tests.load.server import (
    LIMITED_PER_MINUTE,
    LoadStack,
    RssWatch,
    cloud_run_concurrency,
    raise_fd_limit,
    start,
    write_registry,
)
from tests.load.storm import Storm, job_storm, violation_storm

MIB = 1024


@dataclass
class Report:
    """What one run found: the broken rules, and what they were read from."""

    problems: list[str] = field(default_factory=list)
    load: Summary | None = None
    misses_planned: int = 0
    limiter: Summary | None = None
    storms: list[Storm] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        print(line, flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.load", description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--hit-ratio", type=float, default=0.8)
    parser.add_argument("--limited", type=int, default=200, help="requests of the limiter run")
    parser.add_argument("--storm", type=int, default=100, help="pushes of each storm")
    parser.add_argument("--timeout", type=float, default=120.0, help="client timeout (s)")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--logs", type=Path, help="keep the stack's logs here")
    return parser.parse_args(argv)


def plan(hits: list[str], misses: list[str], requests: int, seed: int) -> list[str]:
    """The requests' cameras, shuffled: each miss camera once, the rest over the hit cameras."""
    cameras = misses + [hits[i % len(hits)] for i in range(requests - len(misses))]
    random.Random(seed).shuffle(cameras)
    return cameras


def load_run(load: LoadStack, cameras: list[str], args: argparse.Namespace, r: Report) -> None:
    with RssWatch(load.server_pid) as rss:
        key = {"X-API-Key": load.key}
        summary = run_plan(load.url, cameras, key, args.in_flight, args.timeout, r.say)
        high_water = rss.high_water_kib()
    for line in summary.lines():
        r.say(line)
    cache = summary.cache
    r.say(
        f"  mix from the answers: {cache['hit']} hits, {cache['miss']} misses "
        f"({cache['hit'] / max(1, cache['hit'] + cache['miss']):.1%} hits)"
    )
    r.load = summary
    if len(summary.results) == cache.total() and cache["miss"] != r.misses_planned:
        r.problems.append(f"{cache['miss']} misses answered, {r.misses_planned} planned")
    r.say(
        f"  server peak RSS: {rss.peak_kib / MIB:.0f} MiB (gunicorn master + worker, VmRSS "
        f"summed every 100 ms; {rss.start_kib / MIB:.0f} MiB before the load); VmHWM by "
        "process: "
        + ", ".join(f"{pid}: {kib / MIB:.0f} MiB" for pid, kib in sorted(high_water.items()))
    )
    r.problems += summary.problems()


def limiter_run(load: LoadStack, cameras: list[str], args: argparse.Namespace, r: Report) -> None:
    key = {"X-API-Key": load.limited_key}
    summary = run_plan(load.url, cameras, key, args.in_flight, args.timeout, r.say)
    for line in summary.lines():
        r.say(line)
    r.limiter = summary
    r.problems += [f"limiter run: {p}" for p in summary.problems()]
    limited = sum(1 for x in summary.results if x.status == 429 and x.retry_after)
    if not limited:
        r.problems.append("limiter run: no 429 with Retry-After")


def storms(load: LoadStack, camera_id: str, n: int, r: Report) -> None:
    found: list[Storm] = []
    r.say(f"\n== redelivery storm 1: one camera job ({camera_id}) pushed {n} times ==")
    found.append(job_storm(load, camera_id, n))
    for line in found[-1].lines():
        r.say(line)
    r.say(f"\n== redelivery storm 2: one HIGH violation of {camera_id} pushed {n} times ==")
    found.append(violation_storm(load, camera_id, n))
    for line in found[-1].lines():
        r.say(line)
    r.storms = found
    for storm in found:
        r.problems += storm.problems()


def _quiet(line: str) -> None:
    pass


def run(args: argparse.Namespace) -> Report:
    """Start the stack, run the three parts, stop it; the report."""
    r = Report()
    soft, hard = raise_fd_limit()
    threads = cloud_run_concurrency()
    misses = round(args.requests * (1 - args.hit_ratio))
    r.misses_planned = misses
    with tempfile.TemporaryDirectory() as tmp:
        logs = args.logs or Path(tmp) / "logs"
        cameras = write_registry(Path(tmp) / "cameras.yaml", misses)
        began = time.monotonic()
        load = start(logs, Path(tmp) / "cameras.yaml", threads)
        try:
            r.say(f"stack up in {time.monotonic() - began:.1f} s; logs in {logs}")
            began = time.monotonic()
            for camera_id in cameras.hits:  # warm: model loaded, every hit camera cached
                run_plan(load.url, [camera_id], {"X-API-Key": load.key}, 1, args.timeout, _quiet)
            r.say(
                f"warmed in {time.monotonic() - began:.1f} s: the model loaded, "
                f"{len(cameras.hits)} hit cameras cached"
            )
            r.say(
                f"\n== load: {args.requests} x POST /process/camera/{{id}}, {args.in_flight} in "
                f"flight, one async client on 127.0.0.1 (RLIMIT_NOFILE {soft}/{hard}) =="
            )
            r.say(
                f"  served as deployed: functions-framework -> gunicorn, 1 worker x {threads} "
                f"threads (terraform var.functions.concurrency = {threads}, Cloud Run's "
                "requests per instance). The rest wait in gunicorn's accept queue, as requests "
                "wait in Cloud Run's queue for a free slot."
            )
            r.say(
                f"  planned mix: {args.requests - misses} hits ({args.hit_ratio:.0%}) over "
                f"{len(cameras.hits)} warmed snapshot cameras, {misses} misses: each on its "
                "own clip camera, never processed before (decode, detection, a row)"
            )
            load_run(load, plan(cameras.hits, cameras.misses, args.requests, args.seed), args, r)
            r.say(
                f"\n== the rate limiter: {args.limited} requests, {args.in_flight} in flight, "
                f"with a key of {LIMITED_PER_MINUTE}/min (a bucket of "
                f"{LIMITED_PER_MINUTE // 6}) =="
            )
            hits = [cameras.hits[i % len(cameras.hits)] for i in range(args.limited)]
            limiter_run(load, hits, args, r)
            storms(load, cameras.storm, args.storm, r)
        finally:
            load.stop()
    return r


def main(argv: list[str] | None = None) -> int:
    report = run(parse(argv))
    if report.problems:
        report.say("\nFAILED:")
        for problem in report.problems:
            report.say(f"  - {problem}")
        return 1
    report.say(
        "\nOK: only 200 and 429/503 with Retry-After; the limiter limits; each storm "
        "gave one row and one alert per channel"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
