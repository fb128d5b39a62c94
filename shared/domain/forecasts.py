"""Forecasting's vocabulary: the metrics, which series get which model and why, and the
conversions both backends share.

Both backends (BigQuery ML in the cloud, statsforecast locally) fill the same tables with the
rows of :mod:`shared.domain.forecast_rows`. The conversions between an interval and a standard
error, and from a residual to an anomaly probability, are here once (normal approximation).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

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
