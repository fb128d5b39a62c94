"""make forecast's report: the table per camera and the PNG chart, from hand-built series."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from shared.devstack.forecast_report import (
    BAND_ALPHA,
    CHART_DPI,
    CHART_SIZE_IN,
    FORECAST_COLOUR,
    SeriesReport,
    Step,
    by_camera,
    draw_chart,
    draw_charts,
    format_table,
    load_report,
)

TZ = ZoneInfo("America/Los_Angeles")
TRAINED = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)
Q = timedelta(minutes=15)


def _series(camera: str, metric: str = "vehicles", level: float = 10.0) -> SeriesReport:
    """Seven days of a daily wave, a 24 h forecast with a band of +-3, one anomaly."""
    history = [
        (TRAINED - Q * (672 - i), level + 5 * math.sin(2 * math.pi * i / 96)) for i in range(672)
    ]
    forecast = [
        Step(TRAINED + Q * i, level + 5 * math.sin(2 * math.pi * i / 96), None, None)
        for i in range(96)
    ]
    forecast = [Step(s.at, s.value, s.value - 3, s.value + 3) for s in forecast]
    return SeriesReport(
        camera_id=camera,
        metric=metric,
        status="forecast",
        reason="28.0 days of history, coverage 99%",
        model_name="local_mstl_arima",
        trained_at=TRAINED,
        history_points=2688,
        coverage=0.99,
        history=history,
        forecast=forecast,
        anomalies=[(history[-20][0], level + 30)],
    )


def _none(camera: str, metric: str, reason: str) -> SeriesReport:
    return SeriesReport(camera, metric, "none", reason)


def test_the_table_lists_each_camera_and_the_reason_for_no_forecast() -> None:
    reports = [
        _series("cam-a"),
        _series("cam-a", "persons", 3.0),
        _none("cam-b", "vehicles", "low coverage: 55% of 15-minute buckets have data"),
    ]
    lines = format_table(reports, TZ)
    text = "\n".join(lines)
    assert {"cam-a", "cam-b"} <= set(lines)
    vehicles = next(
        line for line in lines if line.strip().startswith("vehicles") and "forecast" in line
    )
    # first step at 10:00 local (18:00 UTC), value 10.0, band [7.0, 13.0]; then each hour
    for part in ("10:00 10.0 [7.0, 13.0]", "11:00", "12:00", "local_mstl_arima", "99%", "2688"):
        assert part in vehicles
    assert text.count("low coverage: 55%") == 2  # in its camera's block and in the list
    assert "without a forecast (1 series)" in text


def test_the_chart_has_its_size_and_the_band_where_the_forecast_is(tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    path = draw_chart(
        by_camera([_series("cam-a"), _series("cam-a", "persons", 3)])["cam-a"],
        tmp_path / "cam-a.png",
        TZ,
    )
    pixels = mpimg.imread(path)
    width, height = (int(v * CHART_DPI) for v in CHART_SIZE_IN)
    assert pixels.shape[:2] == (height, width)
    # Orange at alpha 0.25 over white: the expected band colour (RGB, 0..1).
    rgb = np.array([int(FORECAST_COLOUR[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    band = BAND_ALPHA * rgb + (1 - BAND_ALPHA) * 1.0
    close = np.all(np.abs(pixels[:, :, :3] - band) < 0.04, axis=2)
    # The band fills the right part (the last day of 8), none of the history's middle (the
    # legend's swatch sits at the far left).
    assert close[:, int(width * 0.8) :].sum() > 2000
    assert close[:, int(width * 0.25) : int(width * 0.75)].sum() == 0


def test_charts_only_for_cameras_with_a_forecast(tmp_path: Path) -> None:
    reports = [_series("cam-a"), _none("cam-b", "vehicles", "no frames in the training window")]
    paths = draw_charts(reports, tmp_path, TZ)
    assert [p.name for p in paths] == ["cam-a.png"]
    assert paths[0].stat().st_size > 10_000


class _Tables:
    """Canned answers per table, as BigQuery returns them (datetimes)."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        self.rows = rows
        self.queries: list[str] = []

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.queries.append(sql)
        table = next(t for t in self.rows if f".{t}`" in sql)
        return self.rows[table]


@pytest.mark.parametrize("status", ["forecast", "short_history"])
def test_load_report_joins_the_run_rows(status: str) -> None:
    tables = _Tables(
        {
            "forecast_status": [
                {
                    "camera_id": "cam-a",
                    "metric": "vehicles",
                    "status": status,
                    "reason": "ok",
                    "model_name": "m",
                    "trained_at": TRAINED,
                    "history_points": 5,
                    "coverage": 1.0,
                },
            ],
            "forecasts": [
                {
                    "camera_id": "cam-a",
                    "metric": "vehicles",
                    "forecast_timestamp": TRAINED,
                    "forecast_value": 4.0,
                    "prediction_interval_lower_bound": 1.0,
                    "prediction_interval_upper_bound": 7.0,
                },
            ],
            "anomalies": [
                {
                    "camera_id": "cam-a",
                    "metric": "vehicles",
                    "time_series_timestamp": TRAINED - Q,
                    "time_series_data": 40.0,
                },
            ],
            "forecast_series": [
                {"camera_id": "cam-a", "metric": "vehicles", "bucket": TRAINED - Q, "value": 3.0},
                {"camera_id": "cam-z", "metric": "vehicles", "bucket": TRAINED - Q, "value": 9.0},
            ],
        }
    )
    [series] = load_report(tables, "p.d", "run-1")
    assert series.forecast == [Step(TRAINED, 4.0, 1.0, 7.0)]
    assert series.anomalies == [(TRAINED - Q, 40.0)]
    assert series.history == [(TRAINED - Q, 3.0)]
    assert series.status == status


def test_load_report_of_an_unknown_run_is_empty() -> None:
    tables = _Tables({"forecast_status": []})
    assert load_report(tables, "p.d", "run-x") == []
    assert len(tables.queries) == 1
