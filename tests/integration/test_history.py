"""make history's writer on the BigQuery emulator: simulated rows, no duplicates on a rerun, the
flaky camera's failed sweeps, violations as opens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.history import (
    DEFAULT_TZ,
    FLAKY_DOWN_SHARE,
    end_of_history,
    plan_injected,
    write_history,
)
from shared.devstack.violations_report import lifecycles
from shared.domain.registry import Camera, load_registry
from shared.settings import Settings

pytestmark = pytest.mark.integration

DAYS = 2.0
END = end_of_history(datetime(2026, 11, 25, 12, 2, 31, tzinfo=UTC))  # 12:00 UTC


def _cameras(settings: Settings) -> list[Camera]:
    """Three live demo cameras with rule zones, and an offline one."""
    cameras = load_registry(settings.registry_path).cameras
    live = [c for c in cameras if c.zones][:3]
    return [*live, next(c for c in cameras if "offline" in c.id)]


def _warehouse(settings: Settings) -> BigQueryWarehouse:
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    return BigQueryWarehouse(client, f"it_{uuid.uuid4().hex[:8]}", "US", 30)


def _count(warehouse: BigQueryWarehouse, table: str, where: str = "TRUE") -> int:
    rows = warehouse.query(f"SELECT COUNT(*) AS n FROM `{warehouse.table_id(table)}` WHERE {where}")
    return int(rows[0]["n"])


def test_history_is_simulated_replaced_on_rerun_and_plants_its_features(
    stack_settings: Settings,
) -> None:
    warehouse = _warehouse(stack_settings)
    cameras = _cameras(stack_settings)
    injected = plan_injected(cameras, END)
    flaky, short = injected.flaky, injected.short
    assert flaky is not None
    assert short is not None
    warehouse.ensure_tables()
    real = {  # a row of the real pipeline: a rerun must keep it
        "observation_id": "real-1",
        "camera_id": cameras[0].id,
        "event_time": "2026-11-25T11:00:00Z",
        "frame_status": "ok",
    }
    warehouse.insert_rows("observations", [real], ["real-1"])

    first = write_history(warehouse, cameras, DAYS, END, seed=3, injected=injected)
    again = write_history(warehouse, cameras, DAYS, END, seed=3, injected=injected)

    assert again.deleted == first.observations + first.violations
    assert _count(warehouse, "observations") == first.observations + 1  # no duplicates
    assert _count(warehouse, "observations", "simulated AND sweep_id LIKE 'history-%'") == (
        first.observations
    )
    distinct = warehouse.query(
        f"SELECT COUNT(DISTINCT observation_id) AS n FROM `{warehouse.table_id('observations')}`"
    )
    assert int(distinct[0]["n"]) == first.observations + 1
    # the offline camera has no history; the others one row per 5 minutes (short: 3 days > 2)
    assert cameras[-1].id not in first.per_camera
    assert set(first.per_camera.values()) == {int(DAYS * 288)}
    last = warehouse.query(
        f"SELECT MAX(event_time) AS t FROM `{warehouse.table_id('observations')}` WHERE simulated"
    )
    assert last[0]["t"] == datetime.fromtimestamp(END, UTC)
    # the flaky camera fails FLAKY_DOWN_SHARE of its sweeps and more (outages), as unreachable
    # rows with an error; the others few
    failed = warehouse.query(
        f"SELECT camera_id, COUNTIF(frame_status = 'unreachable') / COUNT(*) AS share, "
        f"COUNTIF(frame_status = 'unreachable' AND error IS NULL) AS no_error "
        f"FROM `{warehouse.table_id('observations')}` WHERE simulated GROUP BY camera_id"
    )
    share = {r["camera_id"]: float(r["share"]) for r in failed}
    others = [share[c] for c in share if c != flaky]
    assert share[flaky] > FLAKY_DOWN_SHARE - 0.08
    assert max(others) < 0.25 < share[flaky]
    assert all(r["no_error"] == 0 for r in failed)
    # violations: open events of the cameras' own rule types, each on an observation it names
    opened = warehouse.query(
        f"SELECT v.camera_id, v.type, v.event, v.simulated, o.frame_status "
        f"FROM `{warehouse.table_id('violations')}` v LEFT JOIN "
        f"`{warehouse.table_id('observations')}` o ON v.observation_id = o.observation_id"
    )
    assert len(opened) == first.violations > 0
    assert {(r["event"], r["simulated"], r["frame_status"]) for r in opened} == {
        ("open", True, "ok")
    }
    zones = {c.id: {z.type.value for z in c.zones} for c in cameras}
    for row in opened:
        assert row["type"] in _types_of(zones[row["camera_id"]]), row
    assert _count(warehouse, "observations", "NOT COALESCE(simulated, FALSE)") == 1
    # make run's report reads its own sweeps only: the history is not in it
    assert lifecycles(warehouse, ["sweep-of-make-run"]) == []
    [one] = warehouse.query(
        f"SELECT o.sweep_id FROM `{warehouse.table_id('violations')}` v JOIN "
        f"`{warehouse.table_id('observations')}` o ON v.observation_id = o.observation_id LIMIT 1"
    )
    assert str(one["sweep_id"]).startswith("history-")
    assert lifecycles(warehouse, [one["sweep_id"]])  # (by a history sweep's id, it would be)


def _types_of(zone_types: set[str]) -> set[str]:
    """Violation types a camera with these zone types can have."""
    rename = {
        "no_standing": "no_standing",
        "double_parking": "double_parking",
        "intersection": "block_the_box",
        "roadway": "pedestrian_in_roadway",
        "bus_lane": "bus_lane",
        "bike_lane": "bike_lane",
    }
    return {rename[t] for t in zone_types if t in rename} | {"congestion"}


@pytest.mark.parametrize("hour", range(0, 24, 3))  # the end at every time of day (UTC)
def test_incidents_fall_at_busy_hours_of_the_last_day(stack_settings: Settings, hour: int) -> None:
    end = end_of_history(datetime(2026, 11, 30, hour, 7, tzinfo=UTC))
    injected = plan_injected(load_registry(stack_settings.registry_path).cameras, end)
    assert len(injected.incidents) == 3
    zone = ZoneInfo(DEFAULT_TZ)
    starts = sorted(
        datetime.fromtimestamp(i.start_s, zone).strftime("%H:%M") for _, i in injected.incidents
    )
    assert starts == ["08:00", "12:30", "17:00"]
    for _, incident in injected.incidents:
        assert 1800 <= end - incident.start_s < 86_400  # in the job's 24-hour anomaly window
