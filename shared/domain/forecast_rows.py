"""The rows both forecasting backends write, and the model that made them.

Each record builds its row of ``schemas/bigquery/{forecasts,anomalies,forecast_components,
forecast_status}.json`` with BigQuery ML's own column names (``ML.FORECAST``,
``ML.DETECT_ANOMALIES``, ``ML.EXPLAIN_FORECAST``, ``ML.ARIMA_EVALUATE``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from shared.domain.forecasts import FORECAST_CONFIDENCE, Anomaly, Plan


@dataclass(frozen=True)
class ModelInfo:
    """The model that made a row: its name (which says the backend), version and training time."""

    name: str
    version: str
    backend: Literal["bigquery_ml", "local"]
    trained_at: str  # ISO 8601, UTC
    run_id: str

    def columns(self) -> dict[str, Any]:
        """The model columns every output table has."""
        return {
            "model_name": self.name,
            "model_version": self.version,
            "backend": self.backend,
            "trained_at": self.trained_at,
            "run_id": self.run_id,
        }


@dataclass(frozen=True)
class ForecastRow:
    """One ``ML.FORECAST`` output row of one camera and metric."""

    table: ClassVar[str] = "forecasts"

    camera_id: str
    metric: str
    forecast_timestamp: str  # ISO 8601, UTC
    forecast_value: float
    standard_error: float | None
    prediction_interval_lower_bound: float | None
    prediction_interval_upper_bound: float | None
    model: ModelInfo
    confidence_level: float = FORECAST_CONFIDENCE

    @property
    def row_id(self) -> str:
        """Run, camera, metric and time step."""
        return f"{self.model.run_id}:{self.camera_id}:{self.metric}:{self.forecast_timestamp}"

    def as_row(self) -> dict[str, Any]:
        """The ``forecasts`` row."""
        return {
            "camera_id": self.camera_id,
            "metric": self.metric,
            "forecast_timestamp": self.forecast_timestamp,
            "forecast_value": self.forecast_value,
            "standard_error": self.standard_error,
            "confidence_level": self.confidence_level,
            "prediction_interval_lower_bound": self.prediction_interval_lower_bound,
            "prediction_interval_upper_bound": self.prediction_interval_upper_bound,
            **self.model.columns(),
        }


def anomaly_id(camera_id: str, metric: str, timestamp: str) -> str:
    """The interval's id: the same camera, metric and time step found again keep it.

    The first 24 hex digits of SHA-256 of ``camera|metric|YYYY-MM-DDTHH:MM:SSZ`` (the step in
    UTC, whatever ISO 8601 form ``timestamp`` has): BigQuery computes the same id in SQL
    (``schemas/bigquery/ml/detect_anomalies.sql``), so both backends give a step one id.
    """
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = f"{camera_id}|{metric}|{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class AnomalyRow:
    """One ``ML.DETECT_ANOMALIES`` output row (anomalous steps only are stored)."""

    table: ClassVar[str] = "anomalies"

    camera_id: str
    metric: str
    time_series_timestamp: str  # ISO 8601, UTC
    time_series_data: float
    verdict: Anomaly
    threshold: float
    model: ModelInfo

    @property
    def anomaly_id(self) -> str:
        """See :func:`anomaly_id`."""
        return anomaly_id(self.camera_id, self.metric, self.time_series_timestamp)

    @property
    def row_id(self) -> str:
        """The interval in this run."""
        return f"{self.model.run_id}:{self.anomaly_id}"

    def as_row(self) -> dict[str, Any]:
        """The ``anomalies`` row."""
        return {
            "anomaly_id": self.anomaly_id,
            "camera_id": self.camera_id,
            "metric": self.metric,
            "time_series_timestamp": self.time_series_timestamp,
            "time_series_data": self.time_series_data,
            "is_anomaly": self.verdict.is_anomaly,
            "lower_bound": self.verdict.lower_bound,
            "upper_bound": self.verdict.upper_bound,
            "anomaly_probability": self.verdict.anomaly_probability,
            "anomaly_prob_threshold": self.threshold,
            **self.model.columns(),
        }


@dataclass(frozen=True)
class ComponentRow:
    """One ``ML.EXPLAIN_FORECAST`` row: a history or forecast step split into its parts."""

    table: ClassVar[str] = "forecast_components"

    camera_id: str
    metric: str
    time_series_timestamp: str
    time_series_type: Literal["history", "forecast"]
    model: ModelInfo
    parts: dict[str, float | None] = field(default_factory=dict)  # column -> value

    PARTS: ClassVar[tuple[str, ...]] = (
        "time_series_data",
        "time_series_adjusted_data",
        "standard_error",
        "confidence_level",
        "prediction_interval_lower_bound",
        "prediction_interval_upper_bound",
        "trend",
        "seasonal_period_daily",
        "seasonal_period_weekly",
        "holiday_effect",
        "spikes_and_dips",
        "step_changes",
        "residual",
    )

    def __post_init__(self) -> None:
        unknown = set(self.parts) - set(self.PARTS)
        if unknown:
            raise ValueError(f"unknown forecast parts: {sorted(unknown)}")

    @property
    def row_id(self) -> str:
        """Run, camera, metric, type and step."""
        return (
            f"{self.model.run_id}:{self.camera_id}:{self.metric}:"
            f"{self.time_series_type}:{self.time_series_timestamp}"
        )

    def as_row(self) -> dict[str, Any]:
        """The ``forecast_components`` row (parts not given are null)."""
        return {
            "camera_id": self.camera_id,
            "metric": self.metric,
            "time_series_timestamp": self.time_series_timestamp,
            "time_series_type": self.time_series_type,
            **{name: self.parts.get(name) for name in self.PARTS},
            **self.model.columns(),
        }


@dataclass(frozen=True)
class Evaluation:
    """``ML.ARIMA_EVALUATE``'s quality figures of one series' model (all optional)."""

    non_seasonal_p: int | None = None
    non_seasonal_d: int | None = None
    non_seasonal_q: int | None = None
    has_drift: bool | None = None
    log_likelihood: float | None = None
    aic: float | None = None
    variance: float | None = None
    seasonal_periods: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeriesStatus:
    """What one run did with one camera's metric, and why."""

    table: ClassVar[str] = "forecast_status"

    run_id: str
    camera_id: str
    metric: str
    plan: Plan
    backend: Literal["bigquery_ml", "local"]
    trained_at: str
    history_points: int = 0
    history_start: str | None = None
    history_end: str | None = None
    coverage: float | None = None
    model: ModelInfo | None = None
    evaluation: Evaluation = field(default_factory=Evaluation)

    @property
    def row_id(self) -> str:
        """Run, camera and metric."""
        return f"{self.run_id}:{self.camera_id}:{self.metric}"

    def as_row(self) -> dict[str, Any]:
        """The ``forecast_status`` row."""
        e = self.evaluation
        return {
            "run_id": self.run_id,
            "camera_id": self.camera_id,
            "metric": self.metric,
            "status": self.plan.status,
            "reason": self.plan.reason,
            "history_points": self.history_points,
            "history_start": self.history_start,
            "history_end": self.history_end,
            "coverage": self.coverage,
            "model_name": self.model.name if self.model else None,
            "model_version": self.model.version if self.model else None,
            "backend": self.backend,
            "trained_at": self.trained_at,
            "non_seasonal_p": e.non_seasonal_p,
            "non_seasonal_d": e.non_seasonal_d,
            "non_seasonal_q": e.non_seasonal_q,
            "has_drift": e.has_drift,
            "log_likelihood": e.log_likelihood,
            "aic": e.aic,
            "variance": e.variance,
            "seasonal_periods": list(e.seasonal_periods),
        }
