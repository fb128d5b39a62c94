"""Forecasting benchmark: warm-up, accuracy against seasonal naive, series per second.

Run as ``python -m tests.bench.bench_forecast`` (``--quick`` for a smoke run under a minute).
Prints figures, asserts nothing about them:

1. the first fit (imports, warm-up) timed apart from the rest;
2. a rolling-origin backtest (tests/bench/forecast_backtest.py) of the local backend's full
   model against seasonal naive, on simulated camera history (4 weeks, outages filled as the
   backend fills them) and on a real public series: pmdarima's ``load_taylor()`` (half-hourly
   electricity demand of England and Wales, June to August 2000, seasons 48 and 336), shipped
   with the package, no download; Taylor is not a count series, so it is fitted on the raw
   scale, and again on ``--transform``'s scale for comparison;
   then in-sample anomalies at 0.99 per camera per day on plain simulated history (no
   incidents: every anomaly is a false alarm), vehicles and persons;
3. fit and forecast of many simulated camera series (4 weeks of 15-minute buckets each) with the
   backend's fitting core in a process pool: series per second, total time, peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Sequence

import numpy as np

from shared.devstack.simulate import Profile, bucket_means, simulate, vehicles
from shared.forecasting.local_fit import FitSettings
from tests.bench.forecast_backtest import Series, anomalies_per_day, backtest, report

END = 1_795_000_000 // 3600 * 3600
DAYS = 28


def camera_series(n: int, days: float = DAYS, persons: bool = False) -> list[Series]:
    """``n`` simulated cameras' vehicle (or person) series (levels and outage rates varied)."""
    out = []
    for i in range(n):
        profile = Profile(
            f"cam-{i:04d}", vehicles=4.0 + (i % 7) * 2.0, outage_rate_per_day=0.05 + (i % 3) * 0.1
        )
        h = simulate(profile, END, days, seed=i)
        counts = h.counts["person"] if persons else vehicles(h)
        starts, means = bucket_means(h.times, counts, h.ok)
        out.append(Series(profile.camera_id, starts, means, 900, 96, 672))
    return out


def taylor() -> Series:
    """pmdarima's Taylor series (half-hourly, 12 weeks), on an arbitrary half-hour grid."""
    from pmdarima.datasets import load_taylor  # type: ignore[import-untyped]

    y = np.asarray(load_taylor(), dtype=float)
    return Series("taylor", 1800 * np.arange(len(y), dtype=np.int64), y, 1800, 48, 336)


def warm_up() -> float:
    """Seconds for the first fit, imports included."""
    t0 = time.perf_counter()
    from shared.forecasting.local_fit import fit_series

    s = camera_series(1, days=15)[0]
    fit_series(s.buckets_s, s.values, s.bucket_s, s.daily, s.weekly, s.daily, "full")
    return time.perf_counter() - t0


def peak_rss_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its (pool) children, MiB."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def _cpu_s() -> float:
    """User plus system CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def speed(n: int, workers: int, settings: FitSettings) -> list[str]:
    """Fit and forecast ``n`` simulated 4-week series on ``workers`` processes."""
    from shared.forecasting.local import Task, fit_many

    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    series = camera_series(n)
    made = time.perf_counter() - t0
    tasks: list[Task] = [
        (s.name, "full", s.buckets_s, s.values, 900, 96, 672, 96, settings) for s in series
    ]
    t1, cpu1 = time.perf_counter(), _cpu_s()
    outcomes = fit_many(tasks, workers)
    took, cpu = time.perf_counter() - t1, _cpu_s() - cpu1
    failed = sum(1 for o in outcomes if len(o) == 2)
    me, kids = peak_rss_mib()
    return [
        f"== speed: {n} simulated camera series, {DAYS} days of 15-minute buckets, "
        f"{workers} worker processes ==",
        f"simulating the history: {made:.1f} s (not counted)",
        f"fit + forecast (96 steps, 0.95 intervals, in-sample fit): {took:.1f} s, "
        f"{n / took:.2f} series/s, {took * workers / n:.2f} s per series per core, "
        f"{failed} failed",
        f"CPU time: {cpu / n:.2f} s per series (the figure that does not depend on what else "
        f"runs on the machine; load average before: {load:.1f})",
        f"peak RSS: {me:.0f} MiB (this process), {kids:.0f} MiB (largest worker)",
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the three parts and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a tiny run (smoke test, < 60 s)")
    parser.add_argument("--series", type=int, default=1000, help="series in the speed test")
    parser.add_argument("--cameras", type=int, default=6, help="simulated cameras backtested")
    parser.add_argument("--cutoffs", type=int, default=5, help="backtest cut-offs, a day apart")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--transform",
        default="anscombe",
        choices=("anscombe", "log1p", "none"),
        help="the scale the model is fitted on (the backend's default: anscombe)",
    )
    parser.add_argument("--skip", nargs="*", default=(), choices=("backtest", "anomalies", "speed"))
    args = parser.parse_args(argv)
    settings = FitSettings(transform=args.transform)
    if args.quick:
        args.series, args.cameras, args.cutoffs = 8, 1, 1
    print(f"transform: {args.transform}")
    print(f"first fit (imports, warm-up): {warm_up():.2f} s (statsforecast without numba)")
    t0 = time.perf_counter()
    from shared.forecasting.local_fit import fit_series

    s = camera_series(1, days=15)[0]
    fit_series(s.buckets_s, s.values, s.bucket_s, s.daily, s.weekly, s.daily, "full")
    print(f"the same fit again (warm): {time.perf_counter() - t0:.2f} s")
    if "backtest" not in args.skip:
        t0 = time.perf_counter()
        sim = backtest(camera_series(args.cameras), args.cutoffs, settings)
        title = f"simulated history, {args.cameras} cameras, {args.cutoffs} cut-offs"
        print("\n".join(report(title, sim)), f"({time.perf_counter() - t0:.0f} s)", sep="\n")
        for transform in dict.fromkeys(("none", args.transform)):  # not counts: raw, then as set
            t0 = time.perf_counter()
            real = backtest([taylor()], args.cutoffs, FitSettings(transform=transform))
            title = f"Taylor (pmdarima), half-hourly demand, {args.cutoffs} cut-offs, {transform}"
            print("\n".join(report(title, real)), f"({time.perf_counter() - t0:.0f} s)", sep="\n")
    if "anomalies" not in args.skip:
        print(
            f"== in-sample anomalies at 0.99, last 7 days, {args.cameras} cameras, no incidents =="
        )
        for label, persons in (("vehicles", False), ("persons", True)):
            rate = anomalies_per_day(
                camera_series(args.cameras, persons=persons), 7, 0.99, settings
            )
            print(f"{label}: {rate:.2f} per camera per day")
    if "speed" not in args.skip:
        print("\n".join(speed(args.series, args.workers, settings)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
