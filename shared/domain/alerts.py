"""Alerts: a violation's severity picks its channels; what a channel sends, what is recorded.

confidence > 0.8 is HIGH (webhook and email), 0.6 to 0.8 MEDIUM (webhook only), below that no
alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from shared.domain.violations import ViolationRecord

HIGH_ABOVE = 0.8
MEDIUM_FROM = 0.6


class Severity(StrEnum):
    """How urgent an alert is; it picks the channels."""

    HIGH = "HIGH"
    MEDIUM = "MEDIUM"


CHANNELS: dict[Severity, tuple[str, ...]] = {
    Severity.HIGH: ("webhook", "email"),
    Severity.MEDIUM: ("webhook",),
}


def severity_of(confidence: float) -> Severity | None:
    """HIGH above 0.8, MEDIUM from 0.6 to 0.8, None (no alert) below 0.6."""
    if confidence > HIGH_ABOVE:
        return Severity.HIGH
    if confidence >= MEDIUM_FROM:
        return Severity.MEDIUM
    return None


@dataclass(frozen=True)
class Alert:
    """One alert: ``id`` (the violation id) is the webhook-id on every attempt."""

    violation: ViolationRecord
    severity: Severity

    @property
    def id(self) -> str:
        """The violation id: the same on every attempt, so receivers dedup."""
        return self.violation.violation_id

    def body(self) -> dict[str, Any]:
        """The webhook body (``schemas/webhooks/violation_alert.schema.json``)."""
        data = {**self.violation.as_message(), "severity": str(self.severity)}
        return {"type": "violation.detected", "timestamp": self.violation.event_time, "data": data}


@dataclass(frozen=True)
class AlertRecord:
    """An ``alerts`` row: which channels took a violation's alert, and when."""

    table: ClassVar[str] = "alerts"

    violation: ViolationRecord
    severity: Severity | None
    channels: tuple[str, ...]
    dispatched_at: str  # ISO 8601, UTC

    @property
    def row_id(self) -> str:
        """The violation id: one row per violation."""
        return self.violation.violation_id

    def as_row(self) -> dict[str, Any]:
        """The ``alerts`` row."""
        v = self.violation
        return {
            "violation_id": v.violation_id,
            "camera_id": v.camera_id,
            "type": v.type,
            "confidence": v.confidence,
            "severity": str(self.severity) if self.severity else None,
            "channels": list(self.channels),
            "event_time": v.event_time,
            "dispatched_at": self.dispatched_at,
            "sweep_id": v.sweep_id,
        }
