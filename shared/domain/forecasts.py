"""Forecasting's vocabulary: metrics, which series get which model, the rows both backends write.

Both backends (BigQuery ML in the cloud, statsforecast locally) fill the same tables
(``schemas/bigquery/{forecasts,anomalies,forecast_components,forecast_status}.json``) with
``ML.FORECAST``'s, ``ML.DETECT_ANOMALIES``' and ``ML.EXPLAIN_FORECAST``'s own column names; the
model name says which backend made a row. The conversions between an interval and a standard
error, and from a residual to an anomaly probability, are here once (normal approximation).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import NormalDist
from typing import Any, ClassVar, Literal

Status = Literal["forecast", "short_history", "none"]
FORECAST_CONFIDENCE = 0.95  # the level stored in the forecasts table (ML.FORECAST's default)
_NORMAL = NormalDist()


@dataclass(frozen=True)
class Metric:
    """A forecast quantity: the view and value it reads, its bucket and its seasons in buckets."""

    name: str
    bucket_s: int
    description: str

    @property
    def daily(self) -> int:
        """Buckets per day."""
        return 86_400 // self.bucket_s

    @property
    def weekly(self) -> int:
        """Buckets per week."""
        return 7 * self.daily


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("vehicles", 900, "cars, buses, trucks and motorcycles in view, 15-minute average"),
        Metric("persons", 900, "people in view, 15-minute average"),
        Metric("violations", 3600, "violations opened per hour, all types"),
    )
}


@dataclass(frozen=True)
class Policy:
    """Which series get a full model, a short-history forecast, or none."""

    min_days: float = 14.0  # a full model (daily and weekly seasonality) needs two weeks
    short_min_days: float = 1.0  # AI.FORECAST (or its local stand-in) needs one day
    min_coverage: float = 0.8  # share of the window's buckets that hold data
    max_silence_h: float = 6.0  # no data for longer: the camera is down, no forecast


@dataclass(frozen=True)
class Plan:
    """What the run does with one series, and why."""

    status: Status
    reason: str


def plan_series(
    metric: Metric, points: int, first_s: float, last_s: float, window_end_s: float, policy: Policy
) -> Plan:
    """Decide a series' model from its history in the training window.

    ``points`` are buckets with data, ``first_s`` and ``last_s`` the first and last of them
    (epoch seconds), ``window_end_s`` the end of the training window (the run's time). ARIMA_PLUS
    interpolates gaps and a forecast starts after the last point, so a camera that was often
    down, or is silent now, would be forecast from invented or old values: it is left out, with
    the reason.
    """
    if points == 0:
        return Plan("none", "no frames in the training window")
    silent_s = window_end_s - (last_s + metric.bucket_s)
    if silent_s > policy.max_silence_h * 3600:
        return Plan(
            "none",
            f"no data for {silent_s / 3600:.1f} h (more than {policy.max_silence_h:g} h): "
            "a forecast would start in the past",
        )
    coverage = coverage_of(metric, points, first_s, window_end_s)
    if coverage < policy.min_coverage:
        return Plan(
            "none",
            f"low coverage: {coverage:.0%} of {metric.bucket_s // 60}-minute buckets have data, "
            f"needs {policy.min_coverage:.0%}",
        )
    days = (last_s - first_s + metric.bucket_s) / 86_400
    if days >= policy.min_days:
        return Plan("forecast", f"{days:.1f} days of history, coverage {coverage:.0%}")
    if days >= policy.short_min_days:
        return Plan(
            "short_history",
            f"too little history for a full model: {days:.1f} days, needs {policy.min_days:g}; "
            "forecast without training (AI.FORECAST)",
        )
    return Plan(
        "none",
        f"too little history: {days:.1f} days, needs {policy.short_min_days:g} to forecast",
    )


def coverage_of(metric: Metric, points: int, first_s: float, window_end_s: float) -> float:
    """The share of buckets from the first one with data to the window's end that hold data."""
    expected = max(1, int((window_end_s - first_s) // metric.bucket_s))
    return min(1.0, points / expected) if points else 0.0


def z_score(level: float) -> float:
    """The two-sided normal quantile of a confidence level (1.96 for 0.95)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")
    return _NORMAL.inv_cdf((1.0 + level) / 2.0)


def standard_error_from_interval(lower: float, upper: float, level: float) -> float:
    """The standard error of a symmetric normal interval at ``level``."""
    return (upper - lower) / (2.0 * z_score(level))


def interval(value: float, standard_error: float, level: float) -> tuple[float, float]:
    """The normal interval around ``value`` at ``level``."""
    half = z_score(level) * standard_error
    return value - half, value + half


@dataclass(frozen=True)
class Anomaly:
    """``ML.DETECT_ANOMALIES``' verdict on one observed value."""

    is_anomaly: bool
    lower_bound: float
    upper_bound: float
    anomaly_probability: float


def detect(observed: float, expected: float, standard_error: float, threshold: float) -> Anomaly:
    """An observed value against its expected value and standard error.

    As in BigQuery ML: the probability is that of the value lying this far from the expected
    one or less (``2 Phi(|z|) - 1``), the bounds are the interval at ``threshold``, and the value
    is anomalous when the probability exceeds the threshold.
    """
    lower, upper = interval(expected, standard_error, threshold)
    if standard_error <= 0:
        probability = 0.0 if observed == expected else 1.0
    else:
        z = abs(observed - expected) / standard_error
        probability = 2.0 * _NORMAL.cdf(z) - 1.0
    return Anomaly(probability > threshold, lower, upper, probability)


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
