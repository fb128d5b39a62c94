"""The forecasting views and BigQuery ML statements on the BigQuery emulator (bqemulator).

The views are created by ``BigQueryWarehouse.ensure_tables()`` and checked on hand-built rows.
``CREATE OR REPLACE MODEL`` (``train_arima_plus.sql``) is accepted: the emulator checks its
options and runs its training query against the real tables, but trains nothing, and answers
501 to ``ML.FORECAST``. So the BigQuery ML backend cannot run end to end locally (its unit
tests record its SQL; ``tests/unit/test_sql_files.py`` checks every file's columns); the local
backend writes the same rows.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.stack import LocalStack
from shared.domain.forecast_rows import anomaly_id
from shared.errors import DependencyUnavailableError, WarehouseRejectedError
from shared.forecasting import sql
from shared.forecasting.bqml import model_table
from shared.settings import Settings

pytestmark = pytest.mark.integration


def _warehouse(settings: Settings) -> BigQueryWarehouse:
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    warehouse = BigQueryWarehouse(client, f"it_{uuid.uuid4().hex[:8]}", "US", 10)
    warehouse.ensure_tables()
    return warehouse


def _at(hh_mm: str) -> str:
    return f"2026-01-01T{hh_mm}:00Z"


def _obs(oid: str, at: str, status: str = "ok", sim: bool = False, **counts: int) -> dict[str, Any]:
    return {
        "observation_id": oid,
        "camera_id": "cam-1",
        "event_time": _at(at),
        "frame_status": status,
        "counts": counts or None,
        "error": None if status == "ok" else "HTTP 503",
        "simulated": sim,
    }


def _violation(vid: str, at: str, event: str | None, seq: int | None) -> dict[str, Any]:
    row = {
        "violation_id": vid,
        "camera_id": "cam-1",
        "event_time": _at(at),
        "type": "bus_lane",
        "confidence": 0.9,
    }
    return row | ({"event": event, "event_seq": seq} if event else {})


@pytest.fixture(scope="module")
def filled(local_stack: LocalStack) -> BigQueryWarehouse:
    """A dataset with the views and a small hand-built history of one camera."""
    warehouse = _warehouse(Settings())
    observations = [
        _obs("o1", "10:01", car=2, bus=1),  # 10:00 bucket: three ok frames and a failed fetch
        _obs("o2", "10:05", car=4, person=2),
        _obs("o3", "10:10", person=4),
        _obs("o4", "10:12", status="fetch_failed"),
        _obs("o5", "11:20", sim=True, car=1),  # 11:15 bucket, one frame, simulated
    ]
    warehouse.insert_rows("observations", observations, [o["observation_id"] for o in observations])
    violations = [
        _violation("v1", "10:02", "open", 0),  # open, update, close: opened once
        _violation("v1", "10:02", "open", 0),  # the open row streamed twice
        _violation("v1", "10:03", "update", 1),
        _violation("v1", "11:03", "close", 2),
        _violation("v2", "10:30", None, None),  # from before lifecycles: its open, still open
        _violation("v3", "12:10", "open", 0),  # an hour without frames: no series row
    ]
    warehouse.insert_rows("violations", violations, [f"r{i}" for i in range(len(violations))])
    return warehouse


def _select(warehouse: BigQueryWarehouse, view: str, where: str = "TRUE") -> list[dict[str, Any]]:
    return warehouse.query(f"SELECT * FROM `{warehouse.table_id(view)}` WHERE {where}")


def _ts(hh_mm: str) -> datetime:
    return datetime.fromisoformat(_at(hh_mm).replace("Z", "+00:00")).astimezone(UTC)


def test_counts_average_the_ok_frames_of_each_bucket(filled: BigQueryWarehouse) -> None:
    rows = _select(filled, "counts_15min")
    got = {(r["bucket"], r["metric"]): (r["value"], r["frames"], r["simulated"]) for r in rows}
    assert got[(_ts("10:00"), "vehicles")] == (pytest.approx(7 / 3), 3, False)
    assert got[(_ts("10:00"), "persons")] == (pytest.approx(2.0), 3, False)
    assert got[(_ts("10:00"), "buses")] == (pytest.approx(1 / 3), 3, False)
    assert got[(_ts("11:15"), "vehicles")] == (pytest.approx(1.0), 1, True)
    assert {b for b, _ in got} == {_ts("10:00"), _ts("11:15")}  # the failed fetch made none
    assert len(rows) == 2 * 7  # seven metrics per bucket


def test_violations_hourly_counts_each_violation_opened_once(filled: BigQueryWarehouse) -> None:
    got = {r["hour"]: r["opened"] for r in _select(filled, "violations_hourly")}
    assert got == {_ts("10:00"): 2, _ts("12:00"): 1}  # v1 (four rows) and v2; v3


def test_forecast_series_gives_zero_for_watched_hours_without_violations(
    filled: BigQueryWarehouse,
) -> None:
    rows = _select(filled, "forecast_series")
    got = {(r["metric"], r["bucket"]): (r["value"], r["frames"]) for r in rows}
    assert got == {
        ("vehicles", _ts("10:00")): (pytest.approx(7 / 3), 3),
        ("vehicles", _ts("11:15")): (1.0, 1),
        ("persons", _ts("10:00")): (2.0, 3),
        ("persons", _ts("11:15")): (0.0, 1),
        ("violations", _ts("10:00")): (2.0, 3),
        ("violations", _ts("11:00")): (0.0, 1),  # frames but no violation: a zero, not a gap
    }  # 12:00 had a violation but no frame: the camera was not watched, no row


def test_camera_coverage_per_day(filled: BigQueryWarehouse) -> None:
    (row,) = _select(filled, "camera_coverage")
    assert row["day"] == date(2026, 1, 1)
    assert (row["sweeps"], row["frames_ok"], row["buckets_with_frames"]) == (5, 4, 2)
    assert row["success_rate"] == pytest.approx(0.8)
    assert row["buckets_expected"] == 96  # a past day
    assert row["coverage"] == pytest.approx(2 / 96)
    assert (row["health"], row["violations_opened"]) == ("down", 3)


def test_camera_latest(filled: BigQueryWarehouse) -> None:
    (row,) = _select(filled, "camera_latest")
    assert (row["last_observation_at"], row["last_status"]) == (_ts("11:20"), "ok")
    assert (row["last_frame_at"], row["vehicles"], row["cars"]) == (_ts("11:20"), 1, 1)
    assert (row["last_error_at"], row["last_error"]) == (_ts("10:12"), "HTTP 503")
    assert row["open_violations"] == 2  # v2 and v3; v1 closed
    assert row["last_violation_at"] == _ts("12:10")


def test_anomaly_id_is_the_same_in_sql_and_python(filled: BigQueryWarehouse) -> None:
    text = (sql.ML_QUERIES / "detect_anomalies.sql").read_text()
    found = re.search(r"SUBSTR\(TO_HEX\(SHA256\(.*?\)\)\), 1, 24\)", text, re.S)
    assert found is not None
    expression = (
        found.group(0)
        .replace("camera_id", "'cam-7'")
        .replace("'${metric}'", "'vehicles'")
        .replace("time_series_timestamp", "TIMESTAMP '2026-03-01 13:45:00+00'")
    )
    (row,) = filled.query(f"SELECT {expression} AS id")
    assert row["id"] == anomaly_id("cam-7", "vehicles", "2026-03-01T13:45:00Z")
    assert row["id"] != anomaly_id("cam-7", "vehicles", "2026-03-01T13:30:00Z")


def _train(warehouse: BigQueryWarehouse, **change: str) -> str:
    values = {
        "project": warehouse._client.project,
        "dataset": warehouse._dataset_name,
        "model": model_table("vehicles"),
        "metric": "vehicles",
        "window_start": sql.timestamp("2026-01-01T00:00:00Z"),
        "cameras": sql.cameras(["cam-1"]),
        "horizon": "96",
        "holiday_region": "US",
    }
    return sql.render("train_arima_plus", **(values | change))


def test_create_model_is_accepted_and_checked(filled: BigQueryWarehouse) -> None:
    filled.query(_train(filled))
    models = [m.model_id for m in filled._client.list_models(filled._dataset)]
    assert models == ["forecast_vehicles"]
    assert filled.model_version(filled.table_id("forecast_vehicles"))  # the etag
    with pytest.raises(WarehouseRejectedError, match="clean_spikes"):  # options are checked
        filled.query(_train(filled).replace("clean_spikes_and_dips", "clean_spikes"))
    with pytest.raises(WarehouseRejectedError, match="valu"):  # so is the training query
        filled.query(_train(filled).replace("bucket, value", "bucket, valu"))
    # Nothing is trained: ML.FORECAST is not implemented (501).
    with pytest.raises(DependencyUnavailableError, match="501"):
        filled.query(
            f"SELECT * FROM ML.FORECAST(MODEL `{filled.table_id('forecast_vehicles')}`, "
            "STRUCT(3 AS horizon, 0.95 AS confidence_level))"
        )
