"""Anomalous intervals: the forecast runs' anomalous steps grouped into the intervals that
alert (their alert, message and row: :mod:`shared.domain.anomaly_alerts`).

An interval is a run of contiguous anomalous steps of one camera and metric over the union of
every run's steps (``anomalies`` rows accumulate per run), at least ``min_steps`` long and touched
by the current run. Its id, the ``anomaly_id`` of its first step, is kept by the union from run to
run, so the alert claims (``alert:{id}:{channel}``) send it once. An hour or more is HIGH.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from shared.domain.alerts import Severity
from shared.domain.forecast_rows import ModelInfo, anomaly_id
from shared.domain.timestamps import canonical_timestamp, iso_utc, row_time

HIGH_FROM_S = 3600  # an interval lasting this long or longer is HIGH
Direction = Literal["above", "below"]


@dataclass(frozen=True)
class AnomalyStep:
    """One anomalous time step of one run (a row of ``anomalies``)."""

    camera_id: str
    metric: str
    at_s: int  # the bucket's start, epoch seconds
    value: float
    lower_bound: float | None
    upper_bound: float | None
    probability: float | None
    model: ModelInfo  # the run that found it (``model.run_id``)

    @property
    def timestamp(self) -> str:
        """The bucket's start, ISO 8601 UTC."""
        return iso_utc(self.at_s)

    @property
    def run_id(self) -> str:
        """The run that flagged it."""
        return self.model.run_id

    @property
    def excess(self) -> float:
        """How far the value lies outside its expected range (0 inside, or without bounds)."""
        above = self.value - self.upper_bound if self.upper_bound is not None else 0.0
        below = self.lower_bound - self.value if self.lower_bound is not None else 0.0
        return max(above, below, 0.0)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AnomalyStep:
        """A step from a row of ``schemas/bigquery/ml/anomaly_steps.sql``."""

        def number(name: str) -> float | None:
            return None if row.get(name) is None else float(row[name])

        model = ModelInfo(
            str(row["model_name"]),
            str(row["model_version"]),
            row["backend"],
            iso_utc(row_time(row["trained_at"])),
            str(row["run_id"]),
        )
        return cls(
            camera_id=str(row["camera_id"]),
            metric=str(row["metric"]),
            at_s=int(row_time(row["time_series_timestamp"]).timestamp()),
            value=float(row["time_series_data"]),
            lower_bound=number("lower_bound"),
            upper_bound=number("upper_bound"),
            probability=number("anomaly_probability"),
            model=model,
        )


@dataclass(frozen=True)
class AnomalyInterval:
    """Contiguous anomalous steps of one camera and metric: the ``anomalies`` message."""

    schema: ClassVar[str] = "anomaly"

    interval_id: str  # the anomaly_id of its first step: the same when found again
    camera_id: str
    metric: str
    start: str  # ISO 8601 UTC: the first step's bucket start
    end: str  # ISO 8601 UTC: the last step's bucket end (excluded)
    steps: int
    direction: Direction  # of the peak: above or below the expected range
    peak_at: str  # ISO 8601 UTC: the step furthest outside its range
    peak_value: float
    expected_lower: float | None  # the peak step's expected range at the run's threshold
    expected_upper: float | None
    max_probability: float
    run_id: str  # the run that found it this time
    model_name: str
    model_version: str
    backend: Literal["bigquery_ml", "local"]

    @property
    def duration_s(self) -> int:
        """From the first step's start to the last step's end."""
        return int(row_time(self.end).timestamp() - row_time(self.start).timestamp())

    def as_message(self) -> dict[str, Any]:
        """The ``anomalies`` message (``schemas/pubsub/anomaly.schema.json``)."""
        return {
            "interval_id": self.interval_id,
            "camera_id": self.camera_id,
            "metric": self.metric,
            "start": self.start,
            "end": self.end,
            "steps": self.steps,
            "direction": self.direction,
            "peak_at": self.peak_at,
            "peak_value": self.peak_value,
            "expected_lower": self.expected_lower,
            "expected_upper": self.expected_upper,
            "max_probability": self.max_probability,
            "run_id": self.run_id,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "backend": self.backend,
        }

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> AnomalyInterval:
        """Inverse of :meth:`as_message` (of a payload its schema accepted); times in UTC."""
        times = {k: iso_utc(row_time(canonical_timestamp(data[k]))) for k in ("start", "end")}
        return cls(
            **{**data, **times, "peak_at": iso_utc(row_time(canonical_timestamp(data["peak_at"])))}
        )


def severity_of_interval(interval: AnomalyInterval) -> Severity:
    """HIGH when the interval lasts an hour or more, else MEDIUM."""
    return Severity.HIGH if interval.duration_s >= HIGH_FROM_S else Severity.MEDIUM


def _interval(block: list[AnomalyStep], bucket_s: int, run_id: str) -> AnomalyInterval:
    first, last = block[0], block[-1]
    peak = max(block, key=lambda s: s.excess)  # the first of equals
    above = peak.upper_bound is None or peak.value > peak.upper_bound
    model = [s for s in block if s.run_id == run_id][-1].model
    probabilities = [s.probability for s in block if s.probability is not None]
    return AnomalyInterval(
        interval_id=anomaly_id(first.camera_id, first.metric, first.timestamp),
        camera_id=first.camera_id,
        metric=first.metric,
        start=first.timestamp,
        end=iso_utc(last.at_s + bucket_s),
        steps=len(block),
        direction="above" if above else "below",
        peak_at=peak.timestamp,
        peak_value=peak.value,
        expected_lower=peak.lower_bound,
        expected_upper=peak.upper_bound,
        max_probability=max(probabilities, default=0.0),
        run_id=run_id,
        model_name=model.name,
        model_version=model.version,
        backend=model.backend,
    )


def group_intervals(
    steps: Iterable[AnomalyStep], bucket_s: int, min_steps: int, run_id: str
) -> list[AnomalyInterval]:
    """The intervals that alert after run ``run_id``, from every run's steps of one metric.

    Per camera, the union of the steps (a step flagged by several runs counts once, with this
    run's figures when it flagged it, else the latest run's) is cut where two steps are not one
    bucket apart. A block is an interval when it has at least ``min_steps`` steps and this run
    flagged at least one of them: an interval no longer found is not published again.
    """
    series: dict[tuple[str, str], dict[int, AnomalyStep]] = {}
    for step in steps:
        held = series.setdefault((step.camera_id, step.metric), {})
        other = held.get(step.at_s)
        if other is None or _preferred(step, other, run_id):
            held[step.at_s] = step
    intervals: list[AnomalyInterval] = []
    for key in sorted(series):
        block: list[AnomalyStep] = []
        for step in (series[key][t] for t in sorted(series[key])):
            if block and step.at_s - block[-1].at_s != bucket_s:
                intervals.extend(_kept(block, bucket_s, min_steps, run_id))
                block = []
            block.append(step)
        intervals.extend(_kept(block, bucket_s, min_steps, run_id))
    return intervals


def _preferred(step: AnomalyStep, other: AnomalyStep, run_id: str) -> bool:
    """Whether ``step`` replaces ``other`` (the same camera, metric and time step)."""
    if (step.run_id == run_id) != (other.run_id == run_id):
        return step.run_id == run_id
    return row_time(step.model.trained_at) > row_time(other.model.trained_at)


def _kept(
    block: list[AnomalyStep], bucket_s: int, min_steps: int, run_id: str
) -> list[AnomalyInterval]:
    if len(block) >= min_steps and any(s.run_id == run_id for s in block):
        return [_interval(block, bucket_s, run_id)]
    return []
