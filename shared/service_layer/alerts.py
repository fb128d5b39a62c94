"""Alerts: a violation's severity picks its channels; each channel takes each alert once.

confidence > 0.8 is HIGH (webhook and email), 0.6 to 0.8 MEDIUM (webhook only), below that no
alert. Each (violation, channel) is claimed in Redis, ``alert:{violation_id}:{channel}``: a
redelivered message skips the channels that already took it and retries only the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse
from shared.errors import ConfigError, DeliveryFailed
from shared.messages.schemas import validate
from shared.service_layer.idempotency import write_once

log = logging.getLogger(__name__)
HIGH_ABOVE = 0.8
MEDIUM_FROM = 0.6
SENDING_S = 120  # a claim held by a delivery in flight (longer than one webhook or SMTP try)
SENT_S = 7 * 24 * 3600  # a sent alert is remembered longer than Pub/Sub keeps the message


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

    id: str
    severity: Severity
    body: dict[str, Any]  # schemas/webhooks/violation_alert.schema.json


class AlertSender(Protocol):
    """An alert channel (webhook, email)."""

    channel: str

    def send(self, alert: Alert) -> None:
        """Deliver the alert or raise :class:`DeliveryFailed` (the message is retried)."""
        ...


def build_alert(violation: dict[str, Any], severity: Severity) -> Alert:
    """The webhook body of a ``violations`` message, checked against its schema."""
    data = {**violation, "severity": str(severity)}
    data.setdefault("sweep_id", None)
    body = {"type": "violation.detected", "timestamp": violation["event_time"], "data": data}
    return Alert(violation["violation_id"], severity, validate("webhooks/violation_alert", body))


@dataclass
class AlertDispatcher:
    """Sends each violation's alert on the channels its severity calls for, once each."""

    senders: Mapping[str, AlertSender]
    cache: Cache
    warehouse: Warehouse

    def dispatch(self, violation: dict[str, Any]) -> dict[str, str]:
        """Deliver one ``violations`` message; return each channel's outcome.

        Outcomes: ``sent``, ``already_sent`` (a redelivery), ``not_configured`` (email without
        recipients). The ``alerts`` table gets one row once every channel has taken it.

        Raises:
            MessageRejected: the payload breaks its schema (dead-lettered, never retried).
            DeliveryFailed: a channel refused or timed out, or another delivery of the same
                alert is in flight (Pub/Sub retries; channels already done are skipped).
            ConfigError: no webhook URL or secret (retried, then dead-lettered: not lost).
        """
        violation = validate("violation", violation)
        severity = severity_of(violation["confidence"])
        outcome: dict[str, str] = {}
        if severity is not None:
            alert = build_alert(violation, severity)
            for channel in CHANNELS[severity]:
                outcome[channel] = self._deliver(alert, channel)
        self._record(violation, severity, [c for c, o in outcome.items() if o != "not_configured"])
        log.info(
            "violation dispatched",
            extra={
                "violation_id": violation["violation_id"],
                "camera_id": violation["camera_id"],
                "severity": severity,
                "confidence": violation["confidence"],
                "outcome": outcome,
            },
        )
        return outcome

    def _deliver(self, alert: Alert, channel: str) -> str:
        sender = self.senders.get(channel)
        if sender is None:
            if channel == "webhook":
                raise ConfigError(
                    "webhook alerts need CAMWATCH_WEBHOOK_URL and CAMWATCH_WEBHOOK_SECRET"
                )
            log.warning("no alert email recipients (CAMWATCH_ALERT_EMAIL_TO): HIGH alert not "
                        "emailed", extra={"violation_id": alert.id})  # fmt: skip
            return "not_configured"
        key = f"alert:{alert.id}:{channel}"
        if not self.cache.claim(key, SENDING_S):
            if self.cache.state(key) == "done":
                return "already_sent"
            raise DeliveryFailed(channel, f"alert {alert.id} is being delivered by another try")
        try:
            sender.send(alert)
        except BaseException:
            self.cache.release(key)
            raise
        self.cache.confirm(key, SENT_S)
        return "sent"

    def _record(
        self, violation: dict[str, Any], severity: Severity | None, channels: list[str]
    ) -> None:
        row = {
            "violation_id": violation["violation_id"],
            "camera_id": violation["camera_id"],
            "type": violation["type"],
            "confidence": violation["confidence"],
            "severity": str(severity) if severity else None,
            "channels": channels,
            "event_time": violation["event_time"],
            "dispatched_at": datetime.now(UTC).isoformat(),
            "sweep_id": violation.get("sweep_id"),
        }
        write_once(self.cache, self.warehouse, "alerts", violation["violation_id"], row)
