"""The forecast job (shared/service_layer/forecasting.py) with a fake warehouse and backend:
which camera gets which model and why, the job each backend is given, the status rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.forecast_rows import Evaluation, ModelInfo
from shared.domain.forecasts import Policy
from shared.domain.records import Row
from shared.forecasting.port import Backend, MetricJob, MetricResult
from shared.messages.schemas import SCHEMAS
from shared.service_layer.anomaly_alerts import AnomalyAlerts
from shared.service_layer.forecasting import ForecastConfig, run_forecasts
from tests.unit.fakes import FakeBus

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class FakeTables:
    """Answers series_summary with canned rows per metric; records inserts and queries."""

    def __init__(self, summary: dict[str, list[dict[str, Any]]]) -> None:
        self.summary = summary
        self.queries: list[str] = []
        self.inserted: list[Row] = []

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.queries.append(sql)
        metric = next(m for m in self.summary if f"metric = '{m}'" in sql)
        return self.summary[metric]

    def insert(self, rows: Sequence[Row]) -> None:
        self.inserted.extend(rows)


class FakeBackend:
    """Forecasts every camera it is given, except those it is told to fail."""

    name: Backend = "local"

    def __init__(self, fail: Sequence[str] = ()) -> None:
        self.jobs: list[MetricJob] = []
        self.fail = set(fail)

    def run(self, job: MetricJob) -> MetricResult:
        self.jobs.append(job)
        result = MetricResult(forecasts=job.horizon * len(job.full + job.short))
        for camera in job.full + job.short:
            if camera in self.fail:
                result.failed[camera] = "did not converge"
                continue
            name = "local.full" if camera in job.full else "local.short"
            result.models[camera] = ModelInfo(name, "v1", "local", job.trained_at, job.run_id)
            result.evaluations[camera] = Evaluation(non_seasonal_p=1, aic=10.0)
        return result


def _series(
    days: float, points_share: float = 1.0, silent_h: float = 0.0, bucket_s: int = 900
) -> dict[str, Any]:
    last = NOW - timedelta(hours=silent_h, seconds=bucket_s)
    first = NOW - timedelta(days=days)
    expected = int((NOW - first).total_seconds() // bucket_s)
    return {
        "points": int(expected * points_share),
        "first_bucket": first,
        "last_bucket": _iso(last),  # text or datetime: both are read
    }


def _run(
    summary: dict[str, list[dict[str, Any]]], cameras: list[str], backend: FakeBackend
) -> tuple[Any, FakeTables]:
    tables = FakeTables(summary)
    config = ForecastConfig("demo", "camwatch", metrics=tuple(summary), policy=Policy())
    return run_forecasts(tables, backend, config, cameras, now=NOW), tables


def test_each_camera_gets_the_model_its_history_allows_and_a_reason() -> None:
    rows = [
        {"camera_id": "cam-full", **_series(28)},
        {"camera_id": "cam-short", **_series(3)},
        {"camera_id": "cam-tiny", **_series(0.5)},
        {"camera_id": "cam-flaky", **_series(28, points_share=0.5)},
        {"camera_id": "cam-silent", **_series(28, silent_h=12)},
    ]
    backend = FakeBackend()
    run, tables = _run({"vehicles": rows}, ["cam-full", "cam-none"], backend)
    status = {s.camera_id: s for s in run.statuses}
    assert {c: s.plan.status for c, s in status.items()} == {
        "cam-full": "forecast",
        "cam-short": "short_history",
        "cam-tiny": "none",
        "cam-flaky": "none",
        "cam-silent": "none",
        "cam-none": "none",  # in the registry, no rows at all
    }
    assert "low coverage: 50%" in status["cam-flaky"].plan.reason
    assert "too little history" in status["cam-tiny"].plan.reason
    assert "no data for" in status["cam-silent"].plan.reason
    assert status["cam-none"].plan.reason == "no frames in the training window"
    (job,) = backend.jobs
    assert (job.full, job.short) == (("cam-full",), ("cam-short",))
    assert status["cam-full"].model is not None
    assert status["cam-full"].model.name == "local.full"
    assert status["cam-full"].evaluation.aic == 10.0
    assert status["cam-tiny"].model is None
    assert [r.row_id for r in tables.inserted] == [s.row_id for s in run.statuses]


@pytest.mark.parametrize(
    ("metric", "horizon_h", "steps"),
    [
        ("vehicles", 24, 96),  # 15-minute buckets
        ("persons", 6, 24),
        ("violations", 24, 24),  # hourly buckets
    ],
)
def test_the_horizon_is_counted_in_the_metrics_buckets(
    metric: str, horizon_h: int, steps: int
) -> None:
    bucket = 3600 if metric == "violations" else 900
    tables = FakeTables({metric: [{"camera_id": "cam-a", **_series(28, bucket_s=bucket)}]})
    backend = FakeBackend()
    config = ForecastConfig("demo", "camwatch", metrics=(metric,), horizon_h=horizon_h)
    run_forecasts(tables, backend, config, ["cam-a"], now=NOW)
    (job,) = backend.jobs
    assert job.horizon == steps
    assert job.window_start == "2026-11-01T12:00:00Z"
    assert job.anomaly_since == "2026-11-28T12:00:00Z"
    assert "TIMESTAMP '2026-11-01T12:00:00Z'" in tables.queries[0]


def test_a_series_the_backend_fails_gets_no_forecast_and_says_why() -> None:
    rows = [{"camera_id": c, **_series(28)} for c in ("cam-a", "cam-b")]
    run, _ = _run({"vehicles": rows}, [], FakeBackend(fail=["cam-b"]))
    status = {s.camera_id: s for s in run.statuses}
    assert status["cam-a"].plan.status == "forecast"
    assert status["cam-b"].plan.status == "none"
    assert status["cam-b"].plan.reason == "the backend failed: did not converge"
    assert status["cam-b"].model is None


def test_no_camera_to_forecast_calls_no_backend() -> None:
    backend = FakeBackend()
    run, _ = _run({"persons": [{"camera_id": "cam-a", **_series(0.2)}]}, ["cam-a"], backend)
    assert backend.jobs == []
    assert run.counts() == {"none": 1}


def test_status_rows_match_the_table_schema() -> None:
    rows = [{"camera_id": "cam-a", **_series(28)}, {"camera_id": "cam-b", **_series(0.1)}]
    run, _ = _run({"vehicles": rows}, [], FakeBackend())
    spec = json.loads((SCHEMAS / "bigquery" / "forecast_status.json").read_text())
    columns = {f["name"]: f for f in spec["schema"]}
    for status in run.statuses:
        row = status.as_row()
        assert set(row) == set(columns)
        for name, field in columns.items():
            if field["mode"] == "REQUIRED":
                assert row[name] is not None, name


def test_an_unknown_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown forecast metrics"):
        ForecastConfig("demo", "camwatch", metrics=("cyclists",))


class AnomalyTables(FakeTables):
    """Also answers anomaly_steps.sql: two contiguous anomalous steps of cam-a, flagged by the
    run the backend was last given (its run id is known only then)."""

    def __init__(self, summary: dict[str, list[dict[str, Any]]], backend: FakeBackend) -> None:
        super().__init__(summary)
        self.backend = backend

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if ".anomalies`" not in sql:
            return super().query(sql, params)
        self.queries.append(sql)
        job = self.backend.jobs[-1]
        at = NOW - timedelta(hours=3)
        return [
            {
                "camera_id": "cam-a",
                "metric": job.metric.name,
                "time_series_timestamp": at + timedelta(seconds=k * job.metric.bucket_s),
                "time_series_data": 60.0,
                "lower_bound": 10.0,
                "upper_bound": 20.0,
                "anomaly_probability": 0.999,
                "model_name": "local.full",
                "model_version": "v1",
                "backend": "local",
                "trained_at": job.trained_at,
                "run_id": job.run_id,
            }
            for k in range(2)
        ]


def test_the_intervals_a_run_finds_are_published_once_every_metric_is_written() -> None:
    backend = FakeBackend()
    summary = {m: [{"camera_id": "cam-a", **_series(28)}] for m in ("vehicles", "persons")}
    tables = AnomalyTables(summary, backend)
    bus = FakeBus()
    config = ForecastConfig("demo", "camwatch", metrics=tuple(summary), policy=Policy())
    run = run_forecasts(tables, backend, config, ["cam-a"], now=NOW, alerts=AnomalyAlerts(bus))
    assert [(i.camera_id, i.metric, i.steps) for i in run.intervals] == [
        ("cam-a", "vehicles", 2),
        ("cam-a", "persons", 2),
    ]
    assert run.published == 2
    assert [(topic, m["metric"], m["run_id"]) for topic, m, _ in bus.sent] == [
        ("anomalies", "vehicles", run.run_id),
        ("anomalies", "persons", run.run_id),
    ]
    # Without alerts the job reads no anomalies; with a bus of None it finds, publishes none.
    plain, plain_tables = _run(summary, ["cam-a"], FakeBackend())
    assert (plain.intervals, plain.published) == ([], 0)
    assert not any(".anomalies`" in q for q in plain_tables.queries)
    quiet = run_forecasts(
        AnomalyTables(summary, backend),
        backend,
        config,
        ["cam-a"],
        now=NOW,
        alerts=AnomalyAlerts(None),
    )
    assert (len(quiet.intervals), quiet.published) == (2, 0)
