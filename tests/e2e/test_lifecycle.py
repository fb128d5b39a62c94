"""A violation with time on the local stack: consecutive sweeps of a live camera open a
double-parking violation once per parked vehicle, alert it once, and the view gives how long
it has lasted. The camera (cam-014: the clip's parked van and car in a double-parking zone,
``park_s: 20``) is this test's alone."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from shared.adapters.warehouse import BigQueryWarehouse
from shared.devstack.stack import LocalStack
from tests.e2e.test_sweep import events, publish, wait_alerts, wait_rows, warehouse

pytestmark = pytest.mark.e2e
__all__ = ["events", "warehouse"]  # the fixtures of the sweep tests, shared

CAMERA = "cam-014-civic-center-plaza-south"
PARK_S = 20  # the demo registry's park_s for it
SPACING_S = 8


def sweep(events: Any, warehouse: BigQueryWarehouse) -> str:
    """One sweep of the camera, waited for; its id."""
    sweep_id = f"e2e-park-{uuid.uuid4().hex[:8]}"
    publish(events, "camera-sweep", {"sweep_id": sweep_id, "cameras": [CAMERA]})
    [row] = wait_rows(warehouse, sweep_id, 1)
    assert row["frame_status"] == "ok"
    return sweep_id


def rows(warehouse: BigQueryWarehouse) -> list[dict[str, Any]]:
    return warehouse.query(
        "SELECT violation_id, event, event_seq, alerted, dwell_s, track_id "
        f"FROM `{warehouse.table_id('violations')}` "
        "WHERE camera_id = @camera AND type = 'double_parking' ORDER BY event_time, event_seq",
        {"camera": CAMERA},
    )


def test_consecutive_sweeps_open_double_parking_once_and_alert_once(
    events: Any, warehouse: BigQueryWarehouse, event_stack: LocalStack
) -> None:
    first = time.monotonic()
    sweep(events, warehouse)
    while time.monotonic() - first < PARK_S + 3:  # the last sweep sees them stay over PARK_S
        time.sleep(SPACING_S)
        sweep(events, warehouse)
    opened = [r for r in rows(warehouse) if r["event"] == "open"]
    assert 1 <= len(opened) <= 2, rows(warehouse)  # the van, and the car when seen enough
    assert all(r["alerted"] for r in opened)
    assert all(r["dwell_s"] >= PARK_S for r in opened)
    assert len({r["track_id"] for r in opened}) == len(opened)  # one per parked vehicle

    # Another sweep: the same parked vehicles, updated, nothing opened again.
    before = {r["violation_id"] for r in opened}
    sweep(events, warehouse)
    later = rows(warehouse)
    assert {r["violation_id"] for r in later if r["event"] == "open"} == before
    updates = [r for r in later if r["event"] == "update" and r["violation_id"] in before]
    assert updates

    # One alert per violation, dispatched and delivered once each.
    where = "camera_id = @camera AND type = 'double_parking'"
    alerts = wait_alerts(warehouse, where, {"camera": CAMERA}, len(before))
    assert sorted(r["violation_id"] for r in alerts) == sorted(before)
    receiver = event_stack.webhooks
    assert receiver is not None
    hooks = [d.webhook_id for d in receiver.accepted() if d.webhook_id in before]
    assert len(hooks) == len(set(hooks))  # none delivered twice

    # The view: each still open, lasting at least the threshold, its events counted.
    view = warehouse.query(
        "SELECT violation_id, state, dwell_s, events, opened_at, closed_at "
        f"FROM `{warehouse.table_id('violations_current')}` WHERE camera_id = @camera "
        "AND type = 'double_parking'",
        {"camera": CAMERA},
    )
    assert {v["violation_id"] for v in view} == before
    for v in view:
        assert (v["state"], v["closed_at"]) == ("open", None)
        assert v["dwell_s"] >= PARK_S + 1  # grown since it opened
        assert v["events"] >= 2
