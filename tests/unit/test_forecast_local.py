"""The local forecasting backend: ML.FORECAST's, ML.DETECT_ANOMALIES' and ML.EXPLAIN_FORECAST's
rows from statsforecast fits of simulated camera history, through a fake warehouse."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from shared.devstack.simulate import Incident, Profile, bucket_means, simulate, vehicles
from shared.domain.forecasts import METRICS, Metric, detect, z_score
from shared.domain.records import Row
from shared.domain.timestamps import iso_utc as iso
from shared.forecasting import local
from shared.forecasting.local import LocalBackend
from shared.forecasting.local_fit import FitSettings, forward
from shared.forecasting.port import MetricJob, MetricResult
from shared.messages.schemas import SCHEMAS

END = 1_795_000_000 // 3600 * 3600  # a whole hour (2026-11-18)
INCIDENT = Incident(END - 18 * 3600, 2 * 3600, 4.0)  # the evening rush, in the last 24 h
Z95 = 1.959964


@dataclass
class FakeTables:
    """Answers the series query with canned rows and records every insert (one table each)."""

    rows: list[dict[str, Any]]
    queries: list[str] = field(default_factory=list)
    inserts: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.queries.append(sql)
        return self.rows

    def insert(self, rows: Sequence[Row]) -> None:
        tables = {r.table for r in rows}
        assert len(tables) == 1, f"one table per insert, got {tables}"
        self.inserts.append((tables.pop(), [r.as_row() for r in rows]))

    def table(self, name: str) -> list[dict[str, Any]]:
        return [row for t, rows in self.inserts if t == name for row in rows]


def series_rows(
    profile: Profile, days: float, metric: Metric = METRICS["vehicles"], text: bool = False
) -> list[dict[str, Any]]:
    """``series_values`` rows of one simulated camera (bucket as datetime, or as ISO text)."""
    history = simulate(profile, END, days, seed=3)
    starts, means = bucket_means(history.times, vehicles(history), history.ok, metric.bucket_s)
    return [
        {
            "camera_id": profile.camera_id,
            "bucket": iso(int(s)) if text else datetime.fromtimestamp(int(s), UTC),
            "value": float(v),
        }
        for s, v in zip(starts, means, strict=True)
    ]


def job(
    full: tuple[str, ...], short: tuple[str, ...] = (), metric: Metric = METRICS["vehicles"]
) -> MetricJob:
    return MetricJob(
        run_id="run-test",
        metric=metric,
        trained_at=iso(END),
        window_start=iso(END - 28 * 86_400),
        full=full,
        short=short,
        horizon=24 * 3600 // metric.bucket_s,
        anomaly_since=iso(END - 24 * 3600),
        anomaly_threshold=0.99,
        explain_history=48,
    )


def run(
    rows: list[dict[str, Any]], j: MetricJob, settings: FitSettings | None = None
) -> tuple[FakeTables, MetricResult]:
    tables = FakeTables(rows)
    backend = LocalBackend(tables, "camwatch-local", "camwatch", workers=1, settings=settings)
    return tables, backend.run(j)


STEADY = 0.0  # outages per day of the incident camera: none may hide the incident


@pytest.fixture(scope="module")
def incident_run() -> tuple[FakeTables, MetricResult]:
    """Two full cameras (one with the incident, ISO text buckets) and a 3-day camera."""
    rows = (
        series_rows(
            Profile("cam-inc", incidents=(INCIDENT,), outage_rate_per_day=STEADY), 15, text=True
        )
        + series_rows(Profile("cam-out", outage_rate_per_day=1.0), 15)
        + series_rows(Profile("cam-new"), 3)
    )
    return run(rows, job(("cam-inc", "cam-out"), ("cam-new",)))


@pytest.fixture(scope="module")
def clean_run() -> tuple[FakeTables, MetricResult]:
    """The incident camera's history without its incident (the same noise)."""
    return run(series_rows(Profile("cam-inc", outage_rate_per_day=STEADY), 15), job(("cam-inc",)))


def test_reads_the_job_cameras_with_the_series_query(incident_run: Any) -> None:
    tables, _ = incident_run
    (query,) = tables.queries
    assert "`camwatch-local.camwatch.forecast_series`" in query
    assert "metric = 'vehicles'" in query
    assert "'cam-inc', 'cam-out', 'cam-new'" in query


def test_forecasts_have_ml_forecast_columns(incident_run: Any) -> None:
    tables, result = incident_run
    rows = tables.table("forecasts")
    j = job(("cam-inc", "cam-out"), ("cam-new",))
    assert result.forecasts == len(rows) == 3 * j.horizon
    for camera in ("cam-inc", "cam-out", "cam-new"):
        mine = [r for r in rows if r["camera_id"] == camera]
        times = [datetime.fromisoformat(r["forecast_timestamp"]) for r in mine]
        steps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
        assert len(mine) == j.horizon
        assert steps == {900.0}
        assert times[0] <= datetime.fromtimestamp(END + 900, UTC)  # right after the last bucket
    for r in rows:
        lo, hi = r["prediction_interval_lower_bound"], r["prediction_interval_upper_bound"]
        assert 0 <= lo <= r["forecast_value"] < hi
        assert r["standard_error"] == pytest.approx((hi - lo) / (2 * Z95), rel=1e-6)
        assert r["confidence_level"] == 0.95
        assert r["backend"] == "local"
        assert r["run_id"] == "run-test"
        assert r["trained_at"] == iso(END)


def test_models_say_full_or_short_and_their_settings(incident_run: Any) -> None:
    _, result = incident_run
    assert result.failed == {}
    assert result.models["cam-inc"].name == "local.statsforecast.mstl_autoarima"
    assert result.models["cam-new"].name == "local.statsforecast.mstl_short"
    assert "seasons=96,672" in result.models["cam-inc"].version
    assert "transform=anscombe" in result.models["cam-inc"].version
    assert "seasons=96 " in result.models["cam-new"].version
    assert result.models["cam-inc"].version.startswith("statsforecast-")


def test_evaluation_from_the_arima_trend(incident_run: Any) -> None:
    _, result = incident_run
    e = result.evaluations["cam-inc"]
    assert e.seasonal_periods == ("DAILY", "WEEKLY")
    assert e.non_seasonal_d in (0, 1, 2)
    assert e.non_seasonal_p is not None
    assert e.variance is not None
    assert e.variance > 0
    assert e.aic is not None
    assert result.evaluations["cam-new"].seasonal_periods == ("DAILY",)
    assert result.evaluations["cam-new"].aic is None  # no ARIMA in the short model


def _anomalous_steps(tables: FakeTables, camera: str) -> set[int]:
    """Anomalous buckets of ``camera``, as 15-minute steps from the incident's start."""
    return {
        (int(datetime.fromisoformat(r["time_series_timestamp"]).timestamp()) - INCIDENT.start_s)
        // 900
        for r in tables.table("anomalies")
        if r["camera_id"] == camera
    }


def test_the_injected_incident_is_found(incident_run: Any, clean_run: Any) -> None:
    inside = set(range(INCIDENT.duration_s // 900))
    with_incident = _anomalous_steps(incident_run[0], "cam-inc") & inside
    without = _anomalous_steps(clean_run[0], "cam-inc") & inside
    assert 0 in with_incident  # the jump to four times the traffic
    assert len(without) < len(with_incident)


def test_anomaly_rows_follow_detect(incident_run: Any) -> None:
    tables, result = incident_run
    rows = tables.table("anomalies")
    assert rows
    assert result.anomalies == len(rows)
    since = datetime.fromtimestamp(END - 24 * 3600, UTC)
    checked = 0
    for r in rows:
        assert datetime.fromisoformat(r["time_series_timestamp"]) >= since
        assert r["is_anomaly"]
        assert r["anomaly_probability"] > r["anomaly_prob_threshold"] == 0.99
        assert not r["lower_bound"] <= r["time_series_data"] <= r["upper_bound"]
        if r["lower_bound"] <= 0:  # clipped at zero: the model-scale bound is not recoverable
            continue
        # judged on the model's (Anscombe) scale, the bounds mapped back
        lo, hi = forward(np.array([r["lower_bound"], r["upper_bound"]]), "anscombe")
        se = (hi - lo) / (2 * z_score(0.99))
        value = forward(np.array([r["time_series_data"]]), "anscombe")[0]
        again = detect(value, (lo + hi) / 2, se, 0.99)
        assert again.anomaly_probability == pytest.approx(r["anomaly_probability"], abs=1e-6)
        checked += 1
    assert checked


def test_components_explain_history_and_forecast(incident_run: Any) -> None:
    tables, result = incident_run
    rows = [r for r in tables.table("forecast_components") if r["camera_id"] == "cam-inc"]
    history = [r for r in rows if r["time_series_type"] == "history"]
    forecast = [r for r in rows if r["time_series_type"] == "forecast"]
    assert len(history) == 48
    assert len(forecast) == 96
    for r in history:
        parts = r["trend"] + r["seasonal_period_daily"] + r["seasonal_period_weekly"]
        assert parts + r["residual"] == pytest.approx(r["time_series_adjusted_data"], abs=1e-6)
        cleaned = r["time_series_adjusted_data"] + r["spikes_and_dips"]
        assert cleaned == pytest.approx(r["time_series_data"], abs=1e-9)
        assert r["holiday_effect"] is None
    for r in forecast:
        parts = r["trend"] + r["seasonal_period_daily"] + r["seasonal_period_weekly"]
        assert parts == pytest.approx(r["time_series_data"], abs=1e-6)
        assert r["confidence_level"] == 0.95
        assert r["standard_error"] > 0
    short = [r for r in tables.table("forecast_components") if r["camera_id"] == "cam-new"]
    assert all(r["seasonal_period_weekly"] is None for r in short)
    assert result.components == len(tables.table("forecast_components"))


def _columns(table: str) -> dict[str, dict[str, Any]]:
    schema = json.loads((SCHEMAS / "bigquery" / f"{table}.json").read_text())["schema"]
    return {c["name"]: c for c in schema}


@pytest.mark.parametrize("table", ["forecasts", "anomalies", "forecast_components"])
def test_rows_match_the_table_schemas(incident_run: Any, table: str) -> None:
    tables, _ = incident_run
    columns = _columns(table)
    rows = tables.table(table)
    assert rows
    for row in rows:
        assert set(row) <= set(columns), set(row) - set(columns)
        for name, column in columns.items():
            value = row.get(name)
            if column["mode"] == "REQUIRED":
                assert value is not None, f"{table}.{name} is required"
            if value is not None and column["type"] == "FLOAT64":
                assert isinstance(value, float), name
                assert np.isfinite(value), name
            if value is not None and column["type"] == "TIMESTAMP":
                datetime.fromisoformat(value)


def test_inserts_are_batched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "BATCH_ROWS", 40)
    tables, result = run(series_rows(Profile("cam-new"), 3), job((), ("cam-new",)))
    sizes = [len(rows) for table, rows in tables.inserts if table == "forecasts"]
    assert sizes == [40, 40, 16]
    assert result.forecasts == 96


def test_a_failing_series_lands_in_failed() -> None:
    rows = series_rows(Profile("cam-ok"), 3) + [
        {"camera_id": "cam-two", "bucket": iso(END - 900 * i), "value": 1.0} for i in range(2)
    ]
    tables, result = run(rows, job((), ("cam-ok", "cam-two", "cam-none")))
    assert set(result.failed) == {"cam-two", "cam-none"}
    assert "too few" in result.failed["cam-two"]
    assert result.failed["cam-none"] == "no rows in the training window"
    assert set(result.models) == {"cam-ok"}
    assert {r["camera_id"] for r in tables.table("forecasts")} == {"cam-ok"}


def test_hourly_violations_use_daily_and_weekly_seasons_of_hours() -> None:
    metric = METRICS["violations"]
    rng = np.random.default_rng(1)
    hours = np.arange(END - 15 * 86_400, END, 3600)
    counts = rng.poisson(1 + np.sin(2 * np.pi * (hours % 86_400) / 86_400) ** 2)
    rows = [
        {"camera_id": "cam-v", "bucket": iso(int(t)), "value": float(c)}
        for t, c in zip(hours, counts, strict=True)
    ]
    tables, result = run(rows, job(("cam-v",), metric=metric))
    assert "seasons=24,168" in result.models["cam-v"].version
    assert result.forecasts == 24
    assert len(tables.table("forecasts")) == 24


def test_under_two_days_a_short_series_repeats_its_last_day() -> None:
    rows = series_rows(Profile("cam-day", outage_rate_per_day=0.0), 1.5)
    tables, result = run(rows, job((), ("cam-day",)))
    assert result.models["cam-day"].name == "local.statsforecast.mstl_short"
    assert "seasonal_naive=96" in result.models["cam-day"].version
    values = [r["forecast_value"] for r in tables.table("forecasts")]
    assert values == pytest.approx([r["value"] for r in rows[-96:]])  # yesterday, again
