"""Forecasts served over HTTP: a camera's stored forecasts, and the answer to one question.

A :class:`CameraForecasts` holds what the latest forecast run wrote for one camera, every
metric: its status (and the reason when there is no forecast), the model, and the points of a
window around the time it was read. It is what the predictions cache keeps
(``prediction:camera:{camera_id}:horizon:{minutes}``) and what :func:`answer` turns into the
answer to a :class:`~shared.domain.prediction_requests.PredictionQuery`:

* the horizon counts from now: a point is kept while its bucket has not ended
  (``timestamp + bucket > now``) and when it starts within the horizon (``timestamp <= now +
  horizon``);
* a horizon beyond the end of the last stored bucket is refused, saying how far forecasts reach;
* the stored interval is at 0.95 (``ML.FORECAST``'s default); another level is derived from the
  standard error with the normal approximation, ``value ± z · standard_error``, and a lower bound
  below 0 is raised to 0 (every metric is a count).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from shared.domain.forecasts import (
    FORECAST_CONFIDENCE,
    METRICS,
    standard_error_from_interval,
    z_score,
)
from shared.domain.prediction_requests import PredictionQuery
from shared.domain.timestamps import iso_utc, row_time

STATUS_MAX_AGE_D = 30  # forecast_status rows older than this are not read (a partition filter)
Status = Literal["forecast", "short_history", "none"]
Outcome = Literal["ok", "no_forecast", "out_of_range"]


@dataclass(frozen=True)
class Point:
    """One stored forecast step: its bucket's start, value and interval at 0.95."""

    timestamp: float  # epoch seconds, the bucket's start
    value: float
    standard_error: float | None
    lower: float | None
    upper: float | None

    def spread(self) -> float | None:
        """The standard error, or (when none was stored) the one the 0.95 interval implies."""
        if self.standard_error is not None:
            return self.standard_error
        if self.lower is None or self.upper is None:
            return None
        return standard_error_from_interval(self.lower, self.upper, FORECAST_CONFIDENCE)

    def bounds(self, confidence: float) -> tuple[float | None, float | None]:
        """The interval at ``confidence``: the stored one at 0.95, else derived, never below 0."""
        if math.isclose(confidence, FORECAST_CONFIDENCE) and self.lower is not None:
            return self.lower, self.upper
        spread = self.spread()
        if spread is None:
            return None, None
        half = z_score(confidence) * spread
        return max(0.0, self.value - half), self.value + half


@dataclass(frozen=True)
class MetricForecast:
    """The latest forecast run's word on one camera and metric."""

    metric: str
    status: Status
    reason: str
    run_id: str
    trained_at: str  # ISO 8601, UTC
    model_name: str | None = None
    model_version: str | None = None
    backend: str | None = None
    last_point: float | None = None  # epoch seconds: the start of the last stored bucket
    points: tuple[Point, ...] = ()

    @property
    def reaches(self) -> float | None:
        """When the last stored bucket ends (epoch seconds), if the run stored any."""
        if self.last_point is None:
            return None
        return self.last_point + METRICS[self.metric].bucket_s


@dataclass(frozen=True)
class CameraForecasts:
    """A camera's forecasts of every metric, as read at ``read_at`` (the cached value)."""

    camera_id: str
    read_at: float  # epoch seconds
    metrics: dict[str, MetricForecast] = field(default_factory=dict)

    def to_json(self) -> str:
        """The cached text."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CameraForecasts:
        """Read cached text back (ValueError, KeyError or TypeError when it is not one)."""
        raw = json.loads(text)
        metrics = {
            name: MetricForecast(
                **{**m, "points": tuple(Point(**p) for p in m["points"])},
            )
            for name, m in raw["metrics"].items()
        }
        return cls(raw["camera_id"], float(raw["read_at"]), metrics)


def epoch(value: datetime | str) -> float:
    """A row's TIMESTAMP as epoch seconds."""
    return row_time(value).timestamp()


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def collect(
    rows: list[dict[str, Any]], cameras: tuple[str, ...], read_at: float
) -> dict[str, CameraForecasts]:
    """Each camera's forecasts from the rows of ``schemas/bigquery/ml/predictions.sql``: one
    row per stored point (or one without a point), ordered by camera, metric and time."""
    heads: dict[tuple[str, str], MetricForecast] = {}
    points: dict[tuple[str, str], list[Point]] = {}
    for row in rows:
        key = (str(row["camera_id"]), str(row["metric"]))
        if key[0] not in cameras or key[1] not in METRICS:
            continue
        if key not in heads:
            heads[key] = MetricForecast(
                metric=key[1],
                status=row["status"],
                reason=str(row["reason"] or ""),
                run_id=str(row["run_id"]),
                trained_at=iso_utc(row_time(row["trained_at"])),
                model_name=row["model_name"],
                model_version=row["model_version"],
                backend=row["backend"],
                last_point=None if row["last_point"] is None else epoch(row["last_point"]),
            )
            points[key] = []
        if row["forecast_timestamp"] is not None:
            points[key].append(
                Point(
                    epoch(row["forecast_timestamp"]),
                    float(row["forecast_value"]),
                    _number(row["standard_error"]),
                    _number(row["lower_bound"]),
                    _number(row["upper_bound"]),
                )
            )
    found: dict[str, dict[str, MetricForecast]] = {c: {} for c in cameras}
    for key, head in heads.items():
        ordered = tuple(sorted(points[key], key=lambda p: p.timestamp))
        found[key[0]][key[1]] = replace(head, points=ordered)
    return {c: CameraForecasts(c, read_at, m) for c, m in found.items()}


@dataclass(frozen=True)
class Prediction:
    """The answer for one camera: points with intervals, or why there are none."""

    camera_id: str
    metric: str
    horizon: int  # minutes
    confidence: float
    outcome: Outcome
    message: str = ""
    forecast: MetricForecast | None = None
    points: tuple[dict[str, Any], ...] = ()

    def as_answer(self) -> dict[str, Any]:
        """The JSON of ``schemas/predictions/prediction.schema.json``."""
        body: dict[str, Any] = {
            "camera_id": self.camera_id,
            "metric": self.metric,
            "horizon_minutes": self.horizon,
            "confidence": self.confidence,
            "status": self.outcome,
        }
        if self.message:
            body["reason"] = self.message
        if (f := self.forecast) is not None:
            body["forecast_status"] = f.status
            body["trained_at"] = f.trained_at
            body["run_id"] = f.run_id
            if f.model_name:
                body["model"] = {
                    "name": f.model_name,
                    "version": f.model_version,
                    "backend": f.backend,
                }
            if f.reaches is not None:
                body["forecast_until"] = iso_utc(f.reaches)
        if self.outcome == "ok":
            body["points"] = list(self.points)
        return body


def answer(forecasts: CameraForecasts, query: PredictionQuery, now_s: float) -> Prediction:
    """The answer to ``query`` from a camera's forecasts, at ``now_s``."""

    def reply(
        outcome: Outcome,
        message: str = "",
        forecast: MetricForecast | None = None,
        points: tuple[dict[str, Any], ...] = (),
    ) -> Prediction:
        return Prediction(
            forecasts.camera_id,
            query.metric,
            query.horizon,
            query.confidence,
            outcome,
            message,
            forecast,
            points,
        )

    f = forecasts.metrics.get(query.metric)
    if f is None:
        message = (
            f"no forecast run has covered this camera's {query.metric} in the last "
            f"{STATUS_MAX_AGE_D} days"
        )
        return reply("no_forecast", message)
    if f.status == "none":
        message = f"no {query.metric} forecast: {f.reason}"
        return reply("no_forecast", message, f)
    until = now_s + query.horizon * 60
    reaches = f.reaches
    if reaches is None or until > reaches:
        return reply("out_of_range", reach_message(f, now_s), f)
    bucket = METRICS[query.metric].bucket_s
    points = tuple(
        _point(p, query.confidence)
        for p in f.points
        if p.timestamp + bucket > now_s and p.timestamp <= until
    )
    return reply("ok", "", f, points)


def reach_message(f: MetricForecast, now_s: float) -> str:
    """How far a metric's forecasts reach from now, in words."""
    reaches = f.reaches
    trained = f"trained at {f.trained_at}"
    if reaches is None:
        return f"the latest {f.metric} forecast ({trained}) stored no points"
    left = int((reaches - now_s) // 60)
    if left < 1:
        return (
            f"the latest {f.metric} forecast ended at {iso_utc(reaches)} ({trained}); the "
            "forecast job has not run since"
        )
    return (
        f"{f.metric} forecasts reach {iso_utc(reaches)}, {left} minutes from now ({trained}): "
        f"ask for a horizon of at most {left} minutes"
    )


def _point(p: Point, confidence: float) -> dict[str, Any]:
    lower, upper = p.bounds(confidence)
    spread = p.spread()
    return {
        "timestamp": iso_utc(p.timestamp),
        "value": round(p.value, 4),
        "lower": None if lower is None else round(lower, 4),
        "upper": None if upper is None else round(upper, 4),
        "standard_error": None if spread is None else round(spread, 4),
    }
