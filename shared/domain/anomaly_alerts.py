"""Anomalies that alert: the ``traffic.anomaly`` alert, email and ``alerts`` row of an
anomalous interval (:mod:`shared.domain.anomaly_intervals` groups the steps into intervals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from shared.domain.alerts import Severity
from shared.domain.anomaly_intervals import AnomalyInterval, severity_of_interval


@dataclass(frozen=True)
class AnomalyAlert:
    """An interval's ``traffic.anomaly`` alert; ``id`` (the interval id) is the webhook-id."""

    interval: AnomalyInterval
    event_type: ClassVar[str] = "traffic.anomaly"

    @property
    def id(self) -> str:
        """The interval id: the same on every attempt and every run that finds it again."""
        return self.interval.interval_id

    @property
    def severity(self) -> Severity:
        """See :func:`severity_of_interval`."""
        return severity_of_interval(self.interval)

    @property
    def camera_id(self) -> str:
        """The interval's camera."""
        return self.interval.camera_id

    def body(self) -> dict[str, Any]:
        """The webhook body (``schemas/webhooks/traffic_anomaly.schema.json``)."""
        data = {
            **self.interval.as_message(),
            "duration_s": self.interval.duration_s,
            "severity": str(self.severity),
        }
        return {"type": self.event_type, "timestamp": self.interval.start, "data": data}

    def email_subject(self) -> str:
        """``[camwatch HIGH] unusual vehicles at cam-...: 42.0, above 8.1 to 19.5``."""
        i = self.interval
        return (
            f"[camwatch {self.severity}] unusual {i.metric} at {i.camera_id}: "
            f"{i.peak_value:.1f}, {i.direction} {expected_range(i)}"
        )

    def email_text(self) -> str:
        """When, how long, how far from the expected range, and which model said so."""
        i = self.interval
        return (
            f"{self.severity} traffic anomaly at camera {i.camera_id}\n\n"
            f"metric:       {i.metric}\n"
            f"from (UTC):   {i.start}\n"
            f"to (UTC):     {i.end} ({i.steps} steps, {i.duration_s // 60} min)\n"
            f"peak:         {i.peak_value:.2f} at {i.peak_at}, {i.direction} the expected "
            f"{expected_range(i)}\n"
            f"probability:  {i.max_probability:.4f}\n"
            f"model:        {i.model_name} {i.model_version} ({i.backend}, run {i.run_id})\n"
            f"interval:     {self.id}\n"
        )


def expected_range(i: AnomalyInterval) -> str:
    """The peak step's expected range, ``8.1 to 19.5`` (``?`` for an unknown bound)."""
    low = "?" if i.expected_lower is None else f"{i.expected_lower:.1f}"
    high = "?" if i.expected_upper is None else f"{i.expected_upper:.1f}"
    return f"{low} to {high}"


@dataclass(frozen=True)
class AnomalyAlertRecord:
    """An ``alerts`` row of an interval (``event_type`` ``traffic.anomaly``): the interval id
    in ``violation_id`` (the alert's id), the metric in ``type``, the highest anomaly
    probability in ``confidence``, the interval's start in ``event_time``."""

    table: ClassVar[str] = "alerts"

    interval: AnomalyInterval
    severity: Severity
    channels: tuple[str, ...]
    dispatched_at: str  # ISO 8601, UTC

    @property
    def row_id(self) -> str:
        """The interval id: one row per interval."""
        return self.interval.interval_id

    def as_row(self) -> dict[str, Any]:
        """The ``alerts`` row."""
        i = self.interval
        return {
            "violation_id": i.interval_id,
            "camera_id": i.camera_id,
            "type": i.metric,
            "confidence": i.max_probability,
            "severity": str(self.severity),
            "channels": list(self.channels),
            "event_time": i.start,
            "dispatched_at": self.dispatched_at,
            "sweep_id": None,
            "event_type": AnomalyAlert.event_type,
        }
