"""``make history``: weeks of simulated 5-minute observations for the demo cameras.

The rows are those the pipeline writes (``observations``: a frame's counts, or a failed sweep as
an ``unreachable`` health row; ``violations``: ``open`` events), each marked ``simulated``, with
sweep ids ``history-...``. A rerun first deletes the simulated rows (the emulator does not
de-duplicate insertIds), so the tables hold one history. What is injected (a flaky camera, a
camera with a short history, incidents in the last day) is chosen here, per registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from shared.adapters.warehouse import BigQueryWarehouse
from shared.devstack.simulate import CLASSES, SWEEP_S, History, Incident, Profile, simulate
from shared.domain.registry import Camera
from shared.domain.rules import rules_for
from shared.service_layer.idempotency import row_id

BATCH_ROWS = 2000
DEFAULT_TZ = "America/Los_Angeles"  # the demo cameras are in San Francisco
BROKEN_MARKERS = ("offline", "maintenance")  # demo cameras that never give a frame
FLAKY_DOWN_SHARE = 0.45  # of its sweeps fail at random ...
FLAKY_OUTAGES_PER_DAY = 2.0  # ... and outages of 1 to 6 h: about 2/3 of its buckets hold data
SHORT_HISTORY_DAYS = 3.0
SIM_MODEL = {"name": "simulated", "version": "simulate.py", "sha256": ""}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Injected:
    """The demo's planted features: who is flaky, who is new, where incidents happen."""

    flaky: str | None
    short: str | None
    incidents: tuple[tuple[str, Incident], ...]
    skipped: tuple[str, ...]  # broken demo cameras: no history at all


@dataclass
class HistoryResult:
    """What one ``make history`` wrote."""

    cameras: int = 0
    observations: int = 0
    failed: int = 0
    violations: int = 0
    deleted: int = 0
    start_s: int = 0
    end_s: int = 0
    seconds: float = 0.0
    per_camera: dict[str, int] = field(default_factory=dict)


def end_of_history(now: datetime | None = None) -> int:
    """Now floored to 5 minutes (epoch seconds): the last sweep of the history."""
    now_s = int((now or datetime.now(UTC)).timestamp())
    return now_s - now_s % SWEEP_S


def is_broken(camera: Camera) -> bool:
    """A demo camera that is offline or broken on purpose (it gets no history)."""
    return any(marker in camera.id for marker in BROKEN_MARKERS)


def last_local(end_s: int, hour: float, before_s: int, tz: str = DEFAULT_TZ) -> int:
    """The latest time at ``hour`` o'clock (local) that is at least ``before_s`` before the end."""
    zone = ZoneInfo(tz)
    day = datetime.fromtimestamp(end_s - before_s, zone).replace(hour=0, minute=0, second=0)
    for back in range(3):
        moment = (day - timedelta(days=back)).replace(hour=int(hour), minute=int(hour % 1 * 60))
        if moment.timestamp() <= end_s - before_s:
            return int(moment.timestamp())
    raise ValueError(f"no {hour} o'clock in the last days")  # pragma: no cover


def plan_injected(cameras: Sequence[Camera], end_s: int, tz: str = DEFAULT_TZ) -> Injected:
    """The flaky camera (the last), the short-history one (the one before), and three incidents
    in the last day at busy hours, where anomaly detection can see them (the first, fourth and
    seventh cameras, where present); one may still be going on at the end."""
    live = [c.id for c in cameras if not is_broken(c)]
    skipped = tuple(c.id for c in cameras if is_broken(c))
    flaky = live[-1] if len(live) >= 3 else None
    short = live[-2] if len(live) >= 3 else None
    hours = (8.0, 12.5, 17.0)  # local clock: morning rush, midday, evening rush
    durations_min = (90, 60, 60)
    factors = (3.0, 2.5, 2.5)  # a crash jam, congestion, an event (a dip to 0 hides in noise)
    incidents = tuple(
        (camera, Incident(last_local(end_s, h, 1800, tz), minutes * 60, factor))
        for camera, h, minutes, factor in zip(
            live[0:7:3], hours, durations_min, factors, strict=False
        )
        if camera not in (flaky, short)
    )
    return Injected(flaky, short, incidents, skipped)


def profile_for(camera: Camera, injected: Injected, seed: int) -> Profile:
    """A camera's levels (varied per camera, from the seed), failures and rule types."""
    rng = np.random.default_rng([seed, 7, *camera.id.encode()])
    types = tuple(sorted({rule.type for rule in rules_for(camera)}))
    return Profile(
        camera_id=camera.id,
        vehicles=float(rng.uniform(4.0, 22.0)),
        persons=float(rng.uniform(1.0, 9.0)),
        bicycles=float(rng.uniform(0.2, 1.5)),
        outage_rate_per_day=(
            FLAKY_OUTAGES_PER_DAY if camera.id == injected.flaky else float(rng.uniform(0.0, 0.2))
        ),
        down_share=FLAKY_DOWN_SHARE if camera.id == injected.flaky else 0.0,
        history_days=SHORT_HISTORY_DAYS if camera.id == injected.short else None,
        violation_types=types,
        violations_per_vehicle_hour=float(rng.uniform(0.01, 0.04)),
        incidents=tuple(i for c, i in injected.incidents if c == camera.id),
    )


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sweep_id(epoch_s: int) -> str:
    """The simulated sweep's id (one per 5 minutes, shared by every camera)."""
    return f"history-{datetime.fromtimestamp(epoch_s, UTC):%Y%m%dT%H%MZ}"


def observation_rows(camera: Camera, history: History) -> Iterator[dict[str, Any]]:
    """One ``observations`` row per sweep: counts, or an ``unreachable`` health row."""
    kind = camera.source.split("://", 1)[0] if "://" in camera.source else "file"
    counts = {name: history.counts[name].tolist() for name in CLASSES}
    for i, (t, ok) in enumerate(zip(history.times.tolist(), history.ok.tolist(), strict=True)):
        at, sweep = _iso(t), sweep_id(t)
        common = {
            "camera_id": camera.id,
            "event_time": at,
            "source_kind": kind,
            "request_id": f"{sweep}-{camera.id}",
            "sweep_id": sweep,
            "detections": [],
            "simulated": True,
        }
        if ok:
            digest = row_id("simulated-frame", camera.id, at)
            yield {
                **common,
                "observation_id": row_id(camera.id, digest, "ok", sweep),
                "frame_hash": digest,
                "frame_status": "ok",
                "frame_width": 1280,
                "frame_height": 720,
                "cache_status": "miss",
                "stale_for_s": 0.0,
                "counts": {name: int(counts[name][i]) for name in CLASSES},
                "model": SIM_MODEL,
            }
        else:
            yield {
                **common,
                "observation_id": row_id(camera.id, "unreachable", at),
                "frame_status": "unreachable",
                "error": "simulated outage: the camera did not answer",
                "counts": dict.fromkeys(CLASSES, 0),
            }


def violation_rows(camera: Camera, history: History) -> Iterator[dict[str, Any]]:
    """One ``violations`` ``open`` row per simulated violation, in the zone of its type."""
    zones = {r.type: getattr(getattr(r, "zone", None), "name", None) for r in rules_for(camera)}
    for n, (t, kind) in enumerate(history.violations):
        sweep_start = t - t % SWEEP_S
        at = _iso(t)
        digest = row_id("simulated-frame", camera.id, _iso(sweep_start))
        yield {
            "violation_id": row_id(camera.id, kind, f"history-{n}", at),
            "camera_id": camera.id,
            "event_time": at,
            "type": kind,
            "zone": zones.get(kind),
            "class_name": "person" if kind == "pedestrian_in_roadway" else "car",
            "confidence": 0.7,
            "box": {"x1": 400.0, "y1": 300.0, "x2": 560.0, "y2": 420.0},
            "observation_id": row_id(camera.id, digest, "ok", sweep_id(sweep_start)),
            "alerted": False,
            "event": "open",
            "event_seq": 0,
            "track_id": None if kind == "congestion" else f"sim-{n}",
            "started_at": at,
            "last_seen_at": at,
            "dwell_s": 0.0,
            "simulated": True,
        }


def delete_simulated(warehouse: BigQueryWarehouse) -> int:
    """Delete the simulated rows of ``observations`` and ``violations``; how many there were."""
    deleted = 0
    for table in ("observations", "violations"):
        name = f"`{warehouse.table_id(table)}`"
        found = warehouse.query(f"SELECT COUNT(*) AS n FROM {name} WHERE simulated")
        count = int(found[0]["n"]) if found else 0
        if count:
            warehouse.query(f"DELETE FROM {name} WHERE simulated")
        deleted += count
    return deleted


def _insert(
    warehouse: BigQueryWarehouse,
    table: str,
    rows: Iterator[dict[str, Any]],
    id_key: str,
    batch: int,
) -> int:
    written, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            warehouse.insert_rows(table, chunk, [r[id_key] for r in chunk])
            written, chunk = written + len(chunk), []
    if chunk:
        warehouse.insert_rows(table, chunk, [r[id_key] for r in chunk])
        written += len(chunk)
    return written


def write_history(
    warehouse: BigQueryWarehouse,
    cameras: Sequence[Camera],
    days: float,
    end_s: int,
    seed: int = 0,
    injected: Injected | None = None,
    progress: Progress = lambda _: None,
    batch: int = BATCH_ROWS,
) -> HistoryResult:
    """Replace the simulated history: delete the old one, then write ``days`` up to ``end_s``.

    Broken demo cameras get none; a line of progress per camera (rows, rows per second).
    """
    started = time.perf_counter()
    injected = injected or plan_injected(cameras, end_s)
    warehouse.ensure_tables()
    result = HistoryResult(deleted=delete_simulated(warehouse), end_s=end_s)
    result.start_s = end_s - int(days * 86_400) + SWEEP_S
    live = [c for c in cameras if c.id not in injected.skipped]
    for n, camera in enumerate(live, 1):
        t0 = time.perf_counter()
        history = simulate(
            profile_for(camera, injected, seed), end_s, days, camera.timezone or DEFAULT_TZ, seed
        )
        rows = _insert(
            warehouse, "observations", observation_rows(camera, history), "observation_id", batch
        )
        opened = _insert(
            warehouse, "violations", violation_rows(camera, history), "violation_id", batch
        )
        result.observations += rows
        result.failed += int((~history.ok).sum())
        result.violations += opened
        result.per_camera[camera.id] = rows
        spent = time.perf_counter() - t0
        progress(
            f"  [{n:>2}/{len(live)}] {camera.id:<36} {rows:>6} observations "
            f"({int((~history.ok).sum())} failed), {opened:>4} violations, "
            f"{(rows + opened) / max(spent, 1e-6):,.0f} rows/s"
        )
    result.cameras = len(live)
    result.seconds = time.perf_counter() - started
    return result
