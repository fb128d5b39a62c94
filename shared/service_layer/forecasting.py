"""The forecast job: per metric, decide each camera's model, let the backend fit and write, and
record what happened to every camera (``forecast_status``), with the reason when it got none.

One run reads the training window (``forecast_history_days``) of the ``forecast_series`` view,
and writes rows stamped with its run id and training time; a forecast starts after the last
bucket with data, so the job is scheduled (docs/forecasting.md). Given an
:class:`~shared.service_layer.anomaly_alerts.AnomalyAlerts`, it then finds the anomalous
intervals the run found and publishes them, once every metric is written.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.anomaly_intervals import AnomalyInterval
from shared.domain.forecast_rows import Evaluation, SeriesStatus
from shared.domain.forecasts import METRICS, Metric, Plan, Policy, coverage_of, plan_series
from shared.domain.timestamps import iso_utc, row_time
from shared.forecasting import sql
from shared.forecasting.port import Backend, ForecastBackend, MetricJob, MetricResult, Tables
from shared.service_layer.anomaly_alerts import AnomalyAlerts

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ForecastConfig:
    """What a run does (from the settings object: ``CAMWATCH_FORECAST_*``)."""

    project: str
    dataset: str
    metrics: tuple[str, ...] = ("vehicles", "persons", "violations")
    horizon_h: int = 24
    history_days: int = 28
    policy: Policy = field(default_factory=Policy)
    holiday_region: str = "US"
    anomaly_threshold: float = 0.99
    anomaly_window_h: int = 24

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise ValueError(f"unknown forecast metrics {unknown}; known: {sorted(METRICS)}")


@dataclass
class RunSummary:
    """What one run did: every camera's status per metric, each backend result, and the
    anomalous intervals it found (``published`` of them on ``anomalies``)."""

    run_id: str
    trained_at: str
    backend: str
    statuses: list[SeriesStatus] = field(default_factory=list)
    results: dict[str, MetricResult] = field(default_factory=dict)
    intervals: list[AnomalyInterval] = field(default_factory=list)
    published: int = 0
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Series per status, over all metrics."""
        out: dict[str, int] = {}
        for s in self.statuses:
            out[s.plan.status] = out.get(s.plan.status, 0) + 1
        return out


def summarise(
    tables: Tables, config: ForecastConfig, metric: Metric, window_start: str
) -> list[dict[str, Any]]:
    """Per camera with data: points, first and last bucket (``series_summary.sql``)."""
    query = sql.render(
        "series_summary",
        project=sql.ident(config.project),
        dataset=sql.ident(config.dataset),
        metric=sql.ident(metric.name),
        window_start=sql.timestamp(window_start),
    )
    return tables.query(query)


def plan_metric(
    rows: Sequence[dict[str, Any]],
    cameras: Sequence[str],
    metric: Metric,
    now_s: float,
    policy: Policy,
) -> dict[str, tuple[Plan, dict[str, Any]]]:
    """Each known camera's plan and history figures; cameras without rows get 'no frames'."""
    by_camera = {str(r["camera_id"]): r for r in rows}
    plans: dict[str, tuple[Plan, dict[str, Any]]] = {}
    for camera in sorted(set(cameras) | set(by_camera)):
        row = by_camera.get(camera)
        if row is None:
            plans[camera] = (plan_series(metric, 0, 0, 0, now_s, policy), {})
            continue
        points, first, last = (
            int(row["points"]),
            row_time(row["first_bucket"]).timestamp(),
            row_time(row["last_bucket"]).timestamp(),
        )
        figures = {
            "history_points": points,
            "history_start": iso_utc(first),
            "history_end": iso_utc(last),
            "coverage": round(coverage_of(metric, points, first, now_s), 4),
        }
        plans[camera] = (plan_series(metric, points, first, last, now_s, policy), figures)
    return plans


def run_forecasts(
    tables: Tables,
    backend: ForecastBackend,
    config: ForecastConfig,
    cameras: Sequence[str],
    now: datetime | None = None,
    progress: Progress = lambda _: None,
    alerts: AnomalyAlerts | None = None,
) -> RunSummary:
    """One run over every metric: plan, fit and write, then one status row per camera; with
    ``alerts``, the anomalous intervals of each metric, published at the end."""
    started = time.perf_counter()
    now = (now or datetime.now(UTC)).astimezone(UTC)
    run = RunSummary(f"run-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}", iso_utc(now), backend.name)
    for name in config.metrics:
        metric = METRICS[name]
        window_start = iso_utc(now - timedelta(days=config.history_days))
        plans = plan_metric(
            summarise(tables, config, metric, window_start),
            cameras,
            metric,
            now.timestamp(),
            config.policy,
        )
        job = MetricJob(
            run_id=run.run_id,
            metric=metric,
            trained_at=run.trained_at,
            window_start=window_start,
            full=tuple(c for c, (p, _) in plans.items() if p.status == "forecast"),
            short=tuple(c for c, (p, _) in plans.items() if p.status == "short_history"),
            horizon=config.horizon_h * 3600 // metric.bucket_s,
            anomaly_since=iso_utc(now - timedelta(hours=config.anomaly_window_h)),
            anomaly_threshold=config.anomaly_threshold,
            holiday_region=config.holiday_region,
        )
        progress(
            f"{metric.name}: {len(job.full)} cameras with a full model, {len(job.short)} with "
            f"short history, {len(plans) - len(job.full) - len(job.short)} without; "
            f"fitting with {backend.name} ..."
        )
        t0 = time.perf_counter()
        result = backend.run(job) if job.full or job.short else MetricResult()
        run.results[metric.name] = result
        progress(
            f"{metric.name}: {result.forecasts} forecast rows, {result.anomalies} anomalies, "
            f"{result.components} component rows in {time.perf_counter() - t0:.1f} s"
        )
        statuses = [
            _status(run, backend.name, metric, camera, plan, figures, result)
            for camera, (plan, figures) in plans.items()
        ]
        tables.insert(statuses)
        run.statuses.extend(statuses)
        if alerts is not None and result.models:
            found = alerts.find(tables, config.project, config.dataset, metric, run.run_id, now)
            run.intervals.extend(found)
            progress(f"{metric.name}: {len(found)} anomalous intervals to alert")
    if alerts is not None:
        run.published = alerts.publish(run.intervals)
    run.seconds = time.perf_counter() - started
    return run


def _status(
    run: RunSummary,
    backend: Backend,
    metric: Metric,
    camera: str,
    plan: Plan,
    figures: dict[str, Any],
    result: MetricResult,
) -> SeriesStatus:
    if camera in result.failed:
        plan = Plan("none", f"the backend failed: {result.failed[camera]}")
    elif plan.status != "none" and camera not in result.models:
        plan = Plan("none", "the backend returned no forecast for it")
    return SeriesStatus(
        run_id=run.run_id,
        camera_id=camera,
        metric=metric.name,
        plan=plan,
        backend=backend,
        trained_at=run.trained_at,
        model=result.models.get(camera) if plan.status != "none" else None,
        evaluation=result.evaluations.get(camera, Evaluation()),
        **figures,
    )
