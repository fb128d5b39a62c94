"""Alerts: their severity, what a subscriber is sent, what is recorded.

Every alert (a violation's, :class:`ViolationAlert`; an anomalous interval's,
:class:`shared.domain.anomaly_alerts.AnomalyAlert`) is an :class:`Alert`: an id that is the
webhook-id on every attempt, a severity, a Standard Webhooks body and an email. A violation's
confidence > 0.8 is HIGH, 0.6 to 0.8 MEDIUM, below that no alert; each subscriber asks for a
minimum severity (:mod:`shared.domain.subscribers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from shared.domain.violations import ViolationRecord

HIGH_ABOVE = 0.8
MEDIUM_FROM = 0.6


class Severity(StrEnum):
    """How urgent an alert is; subscribers ask for a minimum."""

    HIGH = "HIGH"
    MEDIUM = "MEDIUM"

    @property
    def rank(self) -> int:
        """Order for a subscriber's minimum: MEDIUM 1 < HIGH 2."""
        return {Severity.MEDIUM: 1, Severity.HIGH: 2}[self]


def severity_of(confidence: float) -> Severity | None:
    """HIGH above 0.8, MEDIUM from 0.6 to 0.8, None (no alert) below 0.6."""
    if confidence > HIGH_ABOVE:
        return Severity.HIGH
    if confidence >= MEDIUM_FROM:
        return Severity.MEDIUM
    return None


class Alert(Protocol):
    """What the channels need of an alert; its ``id`` is the webhook-id on every attempt."""

    @property
    def id(self) -> str:
        """The same on every attempt, so receivers (and the Redis claims) dedup."""
        ...

    @property
    def severity(self) -> Severity:
        """How urgent: subscribers ask for a minimum severity."""
        ...

    @property
    def camera_id(self) -> str | None:
        """The camera it is about; None for the whole system (a dependency, dead letters)."""
        ...

    @property
    def event_type(self) -> str:
        """The Standard Webhooks ``type``: ``violation.detected``, ``traffic.anomaly``."""
        ...

    def body(self) -> dict[str, Any]:
        """The webhook body: ``{"type", "timestamp", "data"}``, checked against its schema."""
        ...

    def email_subject(self) -> str:
        """The email's subject line."""
        ...

    def email_text(self) -> str:
        """The email's plain-text body."""
        ...


@dataclass(frozen=True)
class ViolationAlert:
    """A violation's alert: ``id`` (the violation id) is the webhook-id on every attempt."""

    violation: ViolationRecord
    severity: Severity
    event_type: ClassVar[str] = "violation.detected"

    @property
    def id(self) -> str:
        """The violation id: the same on every attempt, so receivers dedup."""
        return self.violation.violation_id

    @property
    def camera_id(self) -> str:
        """The violation's camera."""
        return self.violation.camera_id

    def body(self) -> dict[str, Any]:
        """The webhook body (``schemas/webhooks/violation_alert.schema.json``)."""
        data = {**self.violation.as_message(), "severity": str(self.severity)}
        return {"type": self.event_type, "timestamp": self.violation.event_time, "data": data}

    def email_subject(self) -> str:
        """``[camwatch HIGH] car in bus_lane (zone) at cam-...``."""
        v = self.violation
        return f"[camwatch {self.severity}] {v.class_name} in {v.type} ({v.zone}) at {v.camera_id}"

    def email_text(self) -> str:
        """What, where, when, the box and the evidence."""
        v = self.violation
        x1, y1, x2, y2 = v.box
        return (
            f"{self.severity} violation at camera {v.camera_id}\n\n"
            f"type:        {v.type} (zone {v.zone})\n"
            f"road user:   {v.class_name}\n"
            f"confidence:  {v.confidence:.2f}\n"
            f"time (UTC):  {v.event_time}\n"
            f"box (px):    {x1:.0f},{y1:.0f} - {x2:.0f},{y2:.0f}\n"
            f"evidence:    {v.evidence_url or v.evidence_uri}\n"
            f"stored at:   {v.evidence_uri}\n"
            f"violation:   {self.id}\n"
        )


@dataclass(frozen=True)
class AlertRecord:
    """An ``alerts`` row: which subscribers a violation's alert was routed to, and when."""

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
            "event_type": ViolationAlert.event_type,
        }
