"""Simulated camera history: what ``make history`` writes and the forecast benchmark fits.

Each camera sees Poisson counts of road users every sweep (5 minutes) around a rate that has a
daily shape (weekday rush hours for vehicles, a midday peak for people), a weaker weekend, a
camera's own level, and slow noise. Outages leave failed sweeps (no counts), incidents multiply
the rate for a while (a crash, congestion), and violations open at a rate that follows traffic.
Pure numpy and a seed: the same arguments give the same history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

SWEEP_S = 300
VEHICLE_SPLIT = {"car": 0.80, "truck": 0.09, "bus": 0.05, "motorcycle": 0.06}
CLASSES = ("person", "bicycle", "car", "motorcycle", "bus", "truck")


@dataclass(frozen=True)
class Incident:
    """The rates multiplied by ``factor`` from ``start_s`` for ``duration_s`` (epoch seconds)."""

    start_s: int
    duration_s: int
    factor: float = 3.0


@dataclass(frozen=True)
class Profile:
    """One camera's character: levels, how often it fails, and its rule types."""

    camera_id: str
    vehicles: float = 8.0  # mean vehicles in view at the weekday peak
    persons: float = 3.0  # mean people in view at midday
    bicycles: float = 0.6
    outage_rate_per_day: float = 0.15  # outages (1 to 6 h) per day
    down_share: float = 0.0  # extra: share of sweeps that fail at random (a flaky camera)
    history_days: float | None = None  # None: the whole span; else only the last days
    violation_types: tuple[str, ...] = ()
    violations_per_vehicle_hour: float = 0.02
    incidents: tuple[Incident, ...] = ()


@dataclass
class History:
    """A camera's simulated sweeps: times, which produced a frame, counts per class, violations."""

    camera_id: str
    times: np.ndarray  # epoch seconds, int64, one per sweep
    ok: np.ndarray  # bool per sweep
    counts: dict[str, np.ndarray]  # class -> int64 per sweep (0 where not ok)
    violations: list[tuple[int, str]] = field(default_factory=list)  # (epoch s, type)


def _bump(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A smooth daily bump (wrapped around midnight)."""
    d = np.minimum(np.abs(hours - centre), 24 - np.abs(hours - centre))
    bump: np.ndarray = np.exp(-0.5 * (d / width) ** 2)
    return bump


def rates(profile: Profile, times: np.ndarray, tz: ZoneInfo) -> dict[str, np.ndarray]:
    """The expected count per class at each time (before noise, outages and incidents)."""
    local = [datetime.fromtimestamp(int(t), tz) for t in times]
    hours = np.array([d.hour + d.minute / 60 for d in local])
    weekend = np.array([d.weekday() >= 5 for d in local])
    rush = (
        0.25
        + _bump(hours, 8.25, 1.3)
        + 0.9 * _bump(hours, 17.5, 1.6)
        + 0.45 * _bump(hours, 12.5, 2.5)
    )
    relaxed = 0.2 + 0.75 * _bump(hours, 13.5, 3.5)
    night = 0.15 + 0.85 * (1 - _bump(hours, 3.5, 2.0))
    vehicles = profile.vehicles * np.where(weekend, 0.75 * relaxed, rush) * night
    people = profile.persons * (0.15 + _bump(hours, 12.75, 3.0)) * np.where(weekend, 1.25, 1.0)
    bikes = profile.bicycles * (0.1 + _bump(hours, 8.5, 1.2) + _bump(hours, 17.75, 1.2))
    return {"vehicles": vehicles, "person": people, "bicycle": bikes}


def simulate(profile: Profile, end_s: int, days: float, tz: str = "UTC", seed: int = 0) -> History:
    """``days`` of sweeps ending at ``end_s`` (a multiple of 300 s), as :class:`History`."""
    rng = np.random.default_rng([seed, *profile.camera_id.encode()])
    span = days if profile.history_days is None else min(days, profile.history_days)
    n = int(span * 86_400 // SWEEP_S)
    times = (end_s - SWEEP_S * np.arange(n)[::-1]).astype(np.int64)
    expected = rates(profile, times, ZoneInfo(tz))
    drift = np.exp(np.cumsum(rng.normal(0, 0.01, n)) * 0.3)  # slow wander of the level
    factor = np.ones(n)
    for incident in profile.incidents:
        inside = (times >= incident.start_s) & (times < incident.start_s + incident.duration_s)
        factor[inside] *= incident.factor
    ok = rng.random(n) >= profile.down_share
    for _ in range(rng.poisson(profile.outage_rate_per_day * span)):
        start = rng.integers(0, n)
        ok[start : start + rng.integers(12, 72)] = False
    vehicles = rng.poisson(expected["vehicles"] * drift * factor)
    counts = {name: np.zeros(n, dtype=np.int64) for name in CLASSES}
    for name, share in VEHICLE_SPLIT.items():
        counts[name] = rng.binomial(vehicles, share) if name != "car" else vehicles
    counts["car"] = vehicles - counts["truck"] - counts["bus"] - counts["motorcycle"]
    counts["person"] = rng.poisson(expected["person"] * drift * np.sqrt(factor))
    counts["bicycle"] = rng.poisson(expected["bicycle"] * drift)
    for name in CLASSES:
        counts[name] = np.where(ok, counts[name], 0)
    history = History(profile.camera_id, times, ok, counts)
    if profile.violation_types:
        per_sweep = profile.violations_per_vehicle_hour * vehicles * (SWEEP_S / 3600)
        opened = rng.poisson(np.where(ok, per_sweep, 0))
        for i in np.flatnonzero(opened):
            for _ in range(int(opened[i])):
                kind = profile.violation_types[int(rng.integers(len(profile.violation_types)))]
                history.violations.append((int(times[i]) + int(rng.integers(SWEEP_S)), kind))
    return history


def vehicles(history: History) -> np.ndarray:
    """Vehicles in view per sweep (cars, buses, trucks, motorcycles)."""
    return sum((history.counts[c] for c in VEHICLE_SPLIT), np.zeros(len(history.times), np.int64))


def bucket_means(
    times: np.ndarray, values: np.ndarray, ok: np.ndarray, bucket_s: int = 900
) -> tuple[np.ndarray, np.ndarray]:
    """15-minute averages of the sweeps that produced a frame, as the counts view computes them:
    ``(bucket starts, means)`` for buckets with at least one frame."""
    buckets = (times // bucket_s) * bucket_s
    keep = ok.astype(bool)
    starts, inverse = np.unique(buckets[keep], return_inverse=True)
    sums = np.bincount(inverse, weights=values[keep].astype(float))
    frames = np.bincount(inverse)
    return starts, sums / frames
