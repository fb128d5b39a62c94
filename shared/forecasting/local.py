"""The local forecasting backend: statsforecast in place of BigQuery ML, the same output rows.

It reads one metric's training rows (``series_values.sql``), fits each camera's series with
:mod:`shared.forecasting.local_fit` (in a process pool when there are many), and writes
``ML.FORECAST``-, ``ML.DETECT_ANOMALIES``- and ``ML.EXPLAIN_FORECAST``-shaped rows through the
:class:`~shared.forecasting.port.Tables` port. A series that cannot be fitted is reported in
``MetricResult.failed`` with the reason; the others go on. See docs/design/forecasting-local.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from shared.domain.forecast_rows import AnomalyRow, ComponentRow, Evaluation, ForecastRow, ModelInfo
from shared.domain.forecasts import (
    FORECAST_CONFIDENCE,
    Anomaly,
    detect,
    standard_error_from_interval,
)
from shared.domain.records import Row
from shared.domain.timestamps import iso_utc, row_time
from shared.forecasting import sql
from shared.forecasting.local_fit import Fit, FitSettings, Kind, backward, fit_series, forward
from shared.forecasting.port import Backend, MetricJob, MetricResult, Tables

MODEL_NAMES: dict[Kind, str] = {
    "full": "local.statsforecast.mstl_autoarima",
    "short": "local.statsforecast.mstl_short",
}
BATCH_ROWS = 500  # rows per insert call
_POOL_MIN_SERIES = 4  # fewer series are fitted in this process (a pool costs ~1 s to start)

Series = tuple[np.ndarray, np.ndarray]  # bucket starts (epoch s), values
Task = tuple[str, Kind, np.ndarray, np.ndarray, int, int, int, int, FitSettings]
Outcome = tuple[str, np.ndarray, Fit] | tuple[str, str]


def epoch_s(value: Any) -> int:
    """A TIMESTAMP of a query row (see :func:`row_time`) as whole epoch seconds."""
    return int(row_time(value).timestamp())


def group_series(rows: Iterable[dict[str, Any]]) -> dict[str, Series]:
    """Query rows (camera_id, bucket, value) as one array pair per camera; null values dropped."""
    buckets: dict[str, list[int]] = {}
    values: dict[str, list[float]] = {}
    for row in rows:
        if row.get("value") is None:
            continue
        camera = str(row["camera_id"])
        buckets.setdefault(camera, []).append(epoch_s(row["bucket"]))
        values.setdefault(camera, []).append(float(row["value"]))
    return {
        c: (np.asarray(buckets[c], dtype=np.int64), np.asarray(values[c], dtype=float))
        for c in buckets
    }


def fit_task(task: Task) -> Outcome:
    """Fit one camera's series (a process-pool task): the fit, or the reason it failed."""
    camera, kind, buckets, values, bucket_s, daily, weekly, horizon, settings = task
    try:
        grid, fit = fit_series(buckets, values, bucket_s, daily, weekly, horizon, kind, settings)
    except Exception as exc:  # a series that cannot be fitted must not stop the others
        return camera, f"{type(exc).__name__}: {exc}"
    return camera, grid, fit


def fit_many(tasks: Sequence[Task], workers: int | None = None) -> list[Outcome]:
    """Fit tasks, in a process pool of ``workers`` (default: the CPUs) when there are several."""
    n = workers or os.cpu_count() or 1
    if n <= 1 or len(tasks) < _POOL_MIN_SERIES:
        return [fit_task(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fit_task, tasks, chunksize=max(1, len(tasks) // (8 * n))))


def evaluation(fit: Fit, daily: int) -> Evaluation:
    """``ML.ARIMA_EVALUATE``'s figures of a fit (from its AutoARIMA trend model, if any)."""
    periods = tuple("DAILY" if s == daily else "WEEKLY" for s in fit.seasons)
    if (a := fit.arima) is None:
        return Evaluation(seasonal_periods=periods)
    return Evaluation(  # the likelihood, AIC and variance are on the model's scale
        non_seasonal_p=a["p"],
        non_seasonal_d=a["d"],
        non_seasonal_q=a["q"],
        has_drift=a["has_drift"],
        log_likelihood=a["log_likelihood"],
        aic=a["aic"],
        variance=a["variance"],
        seasonal_periods=periods,
    )


class LocalBackend:
    """Fits each series with statsforecast and writes BigQuery ML's output rows."""

    name: Backend = "local"

    def __init__(
        self,
        tables: Tables,
        project: str,
        dataset: str,
        workers: int | None = None,
        settings: FitSettings | None = None,
    ) -> None:
        self.tables = tables
        self.project = sql.ident(project)
        self.dataset = sql.ident(dataset)
        self.workers = workers
        self.settings = settings or FitSettings()

    def read(self, job: MetricJob) -> dict[str, Series]:
        """The training rows of the job's cameras, per camera."""
        query = sql.render(
            "series_values",
            project=self.project,
            dataset=self.dataset,
            metric=sql.ident(job.metric.name),
            window_start=sql.timestamp(job.window_start),
            cameras=sql.cameras((*job.full, *job.short)),
        )
        return group_series(self.tables.query(query))

    def run(self, job: MetricJob) -> MetricResult:
        """Fit every camera of ``job`` and write its forecasts, anomalies and components."""
        result = MetricResult()
        series = self.read(job)
        m = job.metric
        tasks: list[Task] = []
        groups: tuple[tuple[Kind, tuple[str, ...]], ...] = (
            ("full", job.full),
            ("short", job.short),
        )
        for kind, cameras in groups:
            for camera in cameras:
                if camera not in series:
                    result.failed[camera] = "no rows in the training window"
                    continue
                b, v = series[camera]
                tasks.append(
                    (camera, kind, b, v, m.bucket_s, m.daily, m.weekly, job.horizon, self.settings)
                )
        out: dict[str, list[Row]] = {"forecasts": [], "anomalies": [], "components": []}
        for outcome in fit_many(tasks, self.workers):
            if len(outcome) == 2:
                result.failed[outcome[0]] = outcome[1]
                continue
            camera, grid, fit = outcome
            model = ModelInfo(MODEL_NAMES[fit.kind], fit.model, "local", job.trained_at, job.run_id)
            result.models[camera] = model
            if fit.arima is not None or fit.seasons:
                result.evaluations[camera] = evaluation(fit, m.daily)
            out["forecasts"].extend(forecast_rows(job, camera, grid, fit, model))
            out["anomalies"].extend(anomaly_rows(job, camera, grid, fit, model))
            out["components"].extend(component_rows(job, camera, grid, fit, model))
        for rows in out.values():
            self._write(rows)
        result.forecasts = len(out["forecasts"])
        result.anomalies = len(out["anomalies"])
        result.components = len(out["components"])
        return result

    def _write(self, rows: Sequence[Row]) -> None:
        for start in range(0, len(rows), BATCH_ROWS):
            self.tables.insert(rows[start : start + BATCH_ROWS])


def _future(job: MetricJob, grid: np.ndarray) -> list[str]:
    step = job.metric.bucket_s
    return [iso_utc(int(grid[-1]) + step * (k + 1)) for k in range(job.horizon)]


def forecast_rows(
    job: MetricJob, camera: str, grid: np.ndarray, fit: Fit, model: ModelInfo
) -> list[ForecastRow]:
    """``ML.FORECAST``'s rows: ``job.horizon`` steps after the last bucket, at 0.95.

    The standard error is that of the back-transformed interval, so it matches the stored bounds.
    """
    rows = []
    for k, ts in enumerate(_future(job, grid)):
        lo, hi, value = float(fit.lo[k]), float(fit.hi[k]), float(fit.mean[k])
        se = standard_error_from_interval(lo, hi, FORECAST_CONFIDENCE)
        rows.append(ForecastRow(camera, job.metric.name, ts, value, se, lo, hi, model))
    return rows


def judge(fit: Fit, i: int, threshold: float) -> Anomaly | None:
    """``detect()`` of history step ``i`` on the model's scale (where the noise is about
    constant): observed value against the in-sample fit, with the standard error of the fit's
    0.95 interval there; the bounds are back-transformed. None where the fit is not finite."""
    lo, hi, expected = fit.fitted_lo[i], fit.fitted_hi[i], fit.fitted[i]
    if not np.isfinite([lo, hi, expected]).all():
        return None
    se = standard_error_from_interval(float(lo), float(hi), FORECAST_CONFIDENCE)
    observed = float(forward(fit.y[i : i + 1], fit.transform)[0])
    verdict = detect(observed, float(expected), se, threshold)
    bounds = backward(np.array([verdict.lower_bound, verdict.upper_bound]), fit.transform)
    return replace(verdict, lower_bound=float(bounds[0]), upper_bound=float(bounds[1]))


def anomaly_rows(
    job: MetricJob, camera: str, grid: np.ndarray, fit: Fit, model: ModelInfo
) -> list[AnomalyRow]:
    """``ML.DETECT_ANOMALIES``' anomalous rows among the observed steps since ``anomaly_since``.

    Each step is judged by :func:`judge`; interpolated (missing) buckets are never judged.
    """
    since, threshold = epoch_s(job.anomaly_since), job.anomaly_threshold
    rows = []
    for i in np.flatnonzero((grid >= since) & fit.observed):
        verdict = judge(fit, int(i), threshold)
        if verdict is not None and verdict.is_anomaly:
            ts, value = iso_utc(int(grid[i])), float(fit.y[i])
            row = AnomalyRow(camera, job.metric.name, ts, value, verdict, threshold, model)
            rows.append(row)
    return rows


def units(total_model: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Factors turning model-scale parts that add up to ``total_model`` into parts in the
    series' units that add up to ``total`` (1 where the model-scale total is 0)."""
    out = np.ones(len(total))
    return np.asarray(np.divide(total, total_model, out=out, where=total_model != 0))


def _part(values: np.ndarray | None, i: int, factor: float = 1.0) -> float | None:
    return None if values is None else float(values[i] * factor)


def component_rows(
    job: MetricJob, camera: str, grid: np.ndarray, fit: Fit, model: ModelInfo
) -> list[ComponentRow]:
    """``ML.EXPLAIN_FORECAST``'s rows: the last history steps and the forecast, in parts.

    The MSTL parts are on the model's scale; each step's parts are scaled by one factor
    (:func:`units`) so that they add up to the adjusted value (history) or the forecast.
    """
    m, name = job.metric, job.metric.name
    daily, weekly = fit.seasonal.get(m.daily), fit.seasonal.get(m.weekly)
    hist = units(forward(fit.adjusted, fit.transform), fit.adjusted)
    rows = []
    for i in range(max(0, len(grid) - job.explain_history), len(grid)):
        f = float(hist[i])
        parts = {
            "time_series_data": float(fit.y[i]),
            "time_series_adjusted_data": float(fit.adjusted[i]),
            "spikes_and_dips": float(fit.y[i] - fit.adjusted[i]),
            "trend": _part(fit.trend, i, f),
            "seasonal_period_daily": _part(daily, i, f),
            "seasonal_period_weekly": _part(weekly, i, f),
            "residual": _part(fit.remainder, i, f),
        }
        rows.append(ComponentRow(camera, name, iso_utc(int(grid[i])), "history", model, parts))
    daily_fc, weekly_fc = fit.seasonal_forecast.get(m.daily), fit.seasonal_forecast.get(m.weekly)
    model_parts = [p for p in (fit.trend_forecast, daily_fc, weekly_fc) if p is not None]
    ahead = units(sum(model_parts, np.zeros(job.horizon)), fit.mean)
    for k, ts in enumerate(_future(job, grid)):
        lo, hi, f = float(fit.lo[k]), float(fit.hi[k]), float(ahead[k])
        parts = {
            "time_series_data": float(fit.mean[k]),
            "standard_error": standard_error_from_interval(lo, hi, FORECAST_CONFIDENCE),
            "confidence_level": FORECAST_CONFIDENCE,
            "prediction_interval_lower_bound": lo,
            "prediction_interval_upper_bound": hi,
            "trend": _part(fit.trend_forecast, k, f),
            "seasonal_period_daily": _part(daily_fc, k, f),
            "seasonal_period_weekly": _part(weekly_fc, k, f),
        }
        rows.append(ComponentRow(camera, name, ts, "forecast", model, parts))
    return rows
