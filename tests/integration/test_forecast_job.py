"""The forecast job on the BigQuery emulator with the local backend, over the simulated history
of every demo camera: a forecast for each camera with enough history, a clear reason for each
without, and the incidents planted in the last day found as anomalies."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.history import end_of_history, plan_injected, write_history
from shared.domain.forecasts import METRICS
from shared.domain.registry import load_registry
from shared.forecasting.local import LocalBackend
from shared.service_layer.anomaly_alerts import AnomalyAlerts
from shared.service_layer.forecasting import ForecastConfig, RunSummary, run_forecasts
from shared.settings import Settings

pytestmark = pytest.mark.integration

DAYS = 15  # a full model needs 14


@pytest.fixture(scope="module")
def forecast_run(local_stack: Any) -> tuple[BigQueryWarehouse, RunSummary, Any]:
    """15 days of history for the demo cameras, then one run of the job (vehicles, violations)."""
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    warehouse = BigQueryWarehouse(client, f"fc_{uuid.uuid4().hex[:8]}", "US", 30, 300)
    cameras = load_registry(settings.registry_path).cameras
    end_s = end_of_history(datetime(2026, 11, 27, 18, 2, tzinfo=UTC))  # a Friday evening
    injected = plan_injected(cameras, end_s)
    write_history(warehouse, cameras, DAYS, end_s, seed=3, injected=injected)
    config = ForecastConfig(
        settings.project_id, warehouse._dataset_name, metrics=("vehicles", "violations")
    )
    backend = LocalBackend(warehouse, settings.project_id, warehouse._dataset_name)
    now = datetime.fromtimestamp(end_s + 300, UTC)
    run = run_forecasts(warehouse, backend, config, [c.id for c in cameras], now=now)
    return warehouse, run, injected


def _rows(warehouse: BigQueryWarehouse, table: str, run_id: str) -> list[dict[str, Any]]:
    return warehouse.query(
        f"SELECT * FROM `{warehouse.table_id(table)}` WHERE run_id = @run", {"run": run_id}
    )


def test_every_camera_with_history_is_forecast_and_the_others_say_why(
    forecast_run: tuple[BigQueryWarehouse, RunSummary, Any],
) -> None:
    warehouse, run, injected = forecast_run
    status = {s.camera_id: s for s in run.statuses if s.metric == "vehicles"}
    for camera in injected.skipped:
        assert status[camera].plan.status == "none"
        assert status[camera].plan.reason == "no frames in the training window"
    assert status[injected.flaky].plan.status == "none"
    assert status[injected.flaky].plan.reason.startswith("low coverage")
    short = status[injected.short]
    assert short.plan.status == "short_history", short.plan
    assert short.model is not None
    assert short.model.name == "local.statsforecast.mstl_short"
    full = [c for c, s in status.items() if s.plan.status == "forecast"]
    live = set(status) - set(injected.skipped) - {injected.flaky, injected.short}
    assert set(full) == live
    assert len(full) >= 10
    for camera in full:
        model = status[camera].model
        assert model is not None
        assert model.name == "local.statsforecast.mstl_autoarima"
        assert status[camera].evaluation.aic is not None

    forecasts = _rows(warehouse, "forecasts", run.run_id)
    steps = Counter((r["camera_id"], r["metric"]) for r in forecasts)
    for camera in [*full, injected.short]:
        assert steps[(camera, "vehicles")] == 96, camera  # 24 h of 15-minute steps
    assert {c for c, _ in steps} == {*full, injected.short}
    for row in forecasts:
        low, high = row["prediction_interval_lower_bound"], row["prediction_interval_upper_bound"]
        assert low <= row["forecast_value"] <= high
        assert row["confidence_level"] == 0.95
        assert row["standard_error"] >= 0
        # A camera without rule zones opens no violation: a constant 0, forecast exactly.
        assert row["standard_error"] > 0 or row["metric"] == "violations"
        assert row["backend"] == "local"
    stored = _rows(warehouse, "forecast_status", run.run_id)
    assert len(stored) == len(run.statuses)
    assert {r["reason"] for r in stored if r["camera_id"] == injected.flaky} == {
        s.plan.reason for s in run.statuses if s.camera_id == injected.flaky
    }


def test_the_planted_incidents_are_found_as_anomalies(
    forecast_run: tuple[BigQueryWarehouse, RunSummary, Any],
) -> None:
    warehouse, run, injected = forecast_run
    anomalies = [r for r in _rows(warehouse, "anomalies", run.run_id) if r["metric"] == "vehicles"]
    assert all(r["is_anomaly"] and r["anomaly_probability"] > 0.99 for r in anomalies)
    found = 0
    for camera, incident in injected.incidents:
        start = datetime.fromtimestamp(incident.start_s, UTC)
        end = datetime.fromtimestamp(incident.start_s + incident.duration_s, UTC)
        inside = [
            r
            for r in anomalies
            if r["camera_id"] == camera and start <= r["time_series_timestamp"] < end
        ]
        if incident.factor >= 2:  # a jam: the volume is far above the expected range
            assert inside, (camera, incident)
            assert all(r["time_series_data"] > r["upper_bound"] for r in inside)
            found += 1
    assert found >= 2
    incident_cameras = {c for c, _ in injected.incidents}
    quiet = Counter(r["camera_id"] for r in anomalies if r["camera_id"] not in incident_cameras)
    cameras = [s.camera_id for s in run.statuses if s.metric == "vehicles" and s.model]
    per_camera = sum(quiet.values()) / len(set(cameras) - incident_cameras)
    # At a threshold of 0.99, about 1 of the day's 96 steps of a quiet camera is flagged by
    # chance (intervals that ignore busy hours' larger noise flag four times as many).
    assert per_camera <= 2.0, quiet


def test_each_planted_jam_is_one_interval_to_alert(
    forecast_run: tuple[BigQueryWarehouse, RunSummary, Any],
) -> None:
    warehouse, run, injected = forecast_run
    now = datetime.fromisoformat(run.trained_at.replace("Z", "+00:00"))
    alerts = AnomalyAlerts(None, min_steps=2)
    project = Settings().project_id
    found = alerts.find(
        warehouse, project, warehouse._dataset_name, METRICS["vehicles"], run.run_id, now
    )
    assert all(i.steps >= 2 and i.run_id == run.run_id for i in found)
    for camera, incident in injected.incidents:
        if incident.factor < 2:
            continue
        start, end = incident.start_s, incident.start_s + incident.duration_s
        inside = [
            i
            for i in found
            if i.camera_id == camera
            and start <= datetime.fromisoformat(i.start.replace("Z", "+00:00")).timestamp() < end
        ]
        assert len(inside) == 1, (camera, incident, found)  # one jam, one alert
        assert inside[0].direction == "above"
    # Found again by the same run (as by the next one): the same ids.
    again = alerts.find(
        warehouse, project, warehouse._dataset_name, METRICS["vehicles"], run.run_id, now
    )
    assert [i.interval_id for i in again] == [i.interval_id for i in found]
