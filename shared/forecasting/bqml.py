"""The BigQuery ML backend: ARIMA_PLUS per metric, ``AI.FORECAST`` for short histories.

Every step is one SQL file of ``schemas/bigquery/ml/`` run through the :class:`Tables` port:
``CREATE OR REPLACE MODEL`` for the cameras with a full history, then ``INSERT ... SELECT``
from ``ML.FORECAST``, ``ML.DETECT_ANOMALIES`` and ``ML.EXPLAIN_FORECAST`` (server-side: the
rows never leave BigQuery), ``ML.ARIMA_EVALUATE`` read back for the quality figures, and
``AI.FORECAST`` (TimesFM, no training) for the cameras with a short one. What was written is
counted per camera afterwards (``written.sql``), by run id.

No emulator runs BigQuery ML (bqemulator accepts ``CREATE MODEL`` and answers 501 to
``ML.FORECAST``), so this backend runs end to end only on BigQuery; locally the statsforecast
backend writes the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from shared.domain.forecast_rows import Evaluation, ModelInfo
from shared.errors import WarehouseRejectedError
from shared.forecasting import sql
from shared.forecasting.port import Backend, MetricJob, MetricResult, Tables

ARIMA_PREFIX = "bqml.arima_plus."
TIMESFM_MODEL = "bqml.ai_forecast.timesfm"
TIMESFM_VERSION = "AI.FORECAST default TimesFM"


@runtime_checkable
class ModelVersions(Protocol):
    """A warehouse that can say a BigQuery ML model's version (its etag)."""

    def model_version(self, model_id: str) -> str:
        """The version of ``project.dataset.model``."""
        ...


def model_table(metric: str) -> str:
    """The BigQuery model of one metric (replaced by every run)."""
    return f"forecast_{sql.ident(metric)}"


class BigQueryMLBackend:
    """Trains and forecasts in BigQuery; rows go straight to the output tables."""

    name: Backend = "bigquery_ml"

    def __init__(self, tables: Tables, project: str, dataset: str) -> None:
        self._tables = tables
        self._project = sql.ident(project)
        self._dataset = sql.ident(dataset)

    def run(self, job: MetricJob) -> MetricResult:
        """Train, forecast, detect, explain and evaluate ``job.full``; forecast ``job.short``.

        A statement BigQuery refuses marks its cameras failed, with BigQuery's message;
        unavailability (:class:`DependencyUnavailableError`) propagates, for a retry.
        """
        result = MetricResult()
        # Every value is checked before the first statement runs.
        common = {
            "project": self._project,
            "dataset": self._dataset,
            "metric": sql.ident(job.metric.name),
            "window_start": sql.timestamp(job.window_start),
            "horizon": sql.number(int(job.horizon)),
            "trained_at": sql.timestamp(job.trained_at),
            "run_id": sql.ident(job.run_id),
        }
        full = {
            "cameras": sql.cameras(job.full) if job.full else "",
            "holiday_region": sql.region(job.holiday_region),
            "threshold": sql.number(float(job.anomaly_threshold)),
            "anomaly_since": sql.timestamp(job.anomaly_since),
            "explain_history": sql.number(int(job.explain_history)),
        }
        short = sql.cameras(job.short) if job.short else ""
        if job.full:
            self._full(job, common | full, result)
        if job.short:
            self._short(job, common | {"cameras": short}, result)
        self._count(job, result)
        return result

    def _full(self, job: MetricJob, common: dict[str, str], result: MetricResult) -> None:
        model = model_table(job.metric.name)
        values = {**common, "model": model, "model_name": sql.label(ARIMA_PREFIX + model)}
        try:
            self._run("train_arima_plus", **values)
            values["model_version"] = sql.label(self._version(model, job.trained_at))
            for name in ("forecast", "detect_anomalies", "explain_forecast"):
                self._run(name, **values)
            evaluations = self._run("evaluate", **values)
        except WarehouseRejectedError as exc:
            result.failed.update({camera: str(exc) for camera in job.full})
            return
        for row in evaluations:
            camera = str(row["camera_id"])
            if row.get("error_message"):
                result.failed[camera] = f"ARIMA_PLUS: {row['error_message']}"
            else:
                result.evaluations[camera] = evaluation(row)

    def _short(self, job: MetricJob, values: dict[str, str], result: MetricResult) -> None:
        try:
            self._run(
                "ai_forecast",
                **values,
                model_name=sql.label(TIMESFM_MODEL),
                model_version=sql.label(TIMESFM_VERSION),
            )
        except WarehouseRejectedError as exc:
            result.failed.update({camera: str(exc) for camera in job.short})

    def _count(self, job: MetricJob, result: MetricResult) -> None:
        """Models and row counts per camera, from what the run wrote (``written.sql``)."""
        query = sql.render("written", project=self._project, dataset=self._dataset)
        rows = self._tables.query(query, {"run_id": job.run_id, "metric": job.metric.name})
        for row in rows:
            camera = str(row["camera_id"])
            result.models[camera] = ModelInfo(
                name=str(row["model_name"]),
                version=str(row["model_version"]),
                backend=self.name,
                trained_at=job.trained_at,
                run_id=job.run_id,
            )
            result.forecasts += int(row["forecasts"])
            result.anomalies += int(row["anomalies"])
            result.components += int(row["components"])
        for camera in (*job.full, *job.short):
            if camera not in result.models and camera not in result.failed:
                result.failed[camera] = "BigQuery ML wrote no forecast for this camera"

    def _version(self, model: str, trained_at: str) -> str:
        """The model's etag where the warehouse can read it, else its training time."""
        if isinstance(self._tables, ModelVersions):
            return self._tables.model_version(f"{self._project}.{self._dataset}.{model}")
        return f"trained {trained_at}"

    def _run(self, name: str, **values: str) -> list[dict[str, Any]]:
        """Run one file with the values it names (``string.Template`` ignores the others)."""
        return self._tables.query(sql.render(name, **values))


def evaluation(row: dict[str, Any]) -> Evaluation:
    """An ``ML.ARIMA_EVALUATE`` row (``evaluate.sql``) as :class:`Evaluation`."""
    periods: Sequence[Any] = row.get("seasonal_periods") or ()
    return Evaluation(
        non_seasonal_p=_int(row.get("non_seasonal_p")),
        non_seasonal_d=_int(row.get("non_seasonal_d")),
        non_seasonal_q=_int(row.get("non_seasonal_q")),
        has_drift=None if row.get("has_drift") is None else bool(row["has_drift"]),
        log_likelihood=_float(row.get("log_likelihood")),
        aic=_float(row.get("aic")),
        variance=_float(row.get("variance")),
        seasonal_periods=tuple(str(p) for p in periods),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
