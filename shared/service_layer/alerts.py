"""The alert dispatcher: an alert's severity picks its channels; each takes it once.

Two kinds of alert: a violation's (``violations`` messages, ``violation.detected``) and an
anomalous interval's (``anomalies`` messages from the forecast job, ``traffic.anomaly``). Each
(alert, channel) is claimed in Redis, ``alert:{alert_id}:{channel}``: a redelivered message, or
an interval that a later forecast run finds again, skips the channels that already took it and
retries only the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.adapters.alert_channels import AlertSender
from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse
from shared.domain.alerts import (
    CHANNELS,
    Alert,
    AlertRecord,
    Severity,
    ViolationAlert,
    severity_of,
)
from shared.domain.anomaly_alerts import AnomalyAlert, AnomalyAlertRecord, AnomalyInterval
from shared.domain.registry import Registry
from shared.domain.violations import ViolationRecord
from shared.errors import (
    CameraNotFoundError,
    ConfigError,
    DeliveryFailedError,
    MessageRejectedError,
)
from shared.messages.schemas import validate
from shared.service_layer.idempotency import SENDING_S, SENT_S, alert_key, claim, write_once

log = logging.getLogger(__name__)


def build_alert(violation: ViolationRecord, severity: Severity) -> ViolationAlert:
    """The alert of a violation, its webhook body checked against its schema."""
    alert = ViolationAlert(violation, severity)
    validate("webhooks/violation_alert", alert.body())
    return alert


def build_anomaly_alert(interval: AnomalyInterval) -> AnomalyAlert:
    """The alert of an anomalous interval, its webhook body checked against its schema."""
    alert = AnomalyAlert(interval)
    validate("webhooks/traffic_anomaly", alert.body())
    return alert


@dataclass
class AlertDispatcher:
    """Sends each alert (a violation's, an anomalous interval's) on the channels its severity
    calls for, once each; only for cameras of the registry."""

    senders: Mapping[str, AlertSender]
    cache: Cache
    warehouse: Warehouse
    registry: Registry

    def dispatch(self, message: Any) -> dict[str, str]:
        """Deliver one ``violations`` message; return each channel's outcome.

        Outcomes: ``sent``, ``already_sent`` (a redelivery), ``not_configured`` (email without
        recipients). The ``alerts`` table gets one row once every channel has taken it.

        Raises:
            MessageRejectedError: the payload breaks its schema, or names a camera the registry
                does not hold (dead-lettered, never retried).
            DeliveryFailedError: a channel refused or timed out, or another delivery of the same
                alert is in flight (Pub/Sub retries; channels already done are skipped).
            ConfigError: no webhook URL or secret (retried, then dead-lettered: not lost).
        """
        violation = ViolationRecord.from_message(validate(ViolationRecord.schema, message))
        self._known(violation.camera_id, f"violation {violation.violation_id}")
        severity = severity_of(violation.confidence)
        outcome, taken = (
            self._send(build_alert(violation, severity)) if severity is not None else ({}, ())
        )
        record = AlertRecord(violation, severity, taken, datetime.now(UTC).isoformat())
        write_once(self.cache, self.warehouse, record)
        log.info(
            "violation dispatched",
            extra={
                "violation_id": violation.violation_id,
                "camera_id": violation.camera_id,
                "severity": severity,
                "confidence": violation.confidence,
                "outcome": outcome,
            },
        )
        return outcome

    def dispatch_anomaly(self, message: Any) -> dict[str, str]:
        """Deliver one ``anomalies`` message (an interval) as a ``traffic.anomaly`` alert.

        The interval id is the alert id: a later forecast run that finds the same interval
        publishes it again, and every channel answers ``already_sent``. The outcomes, the
        ``alerts`` row (``event_type`` ``traffic.anomaly``) and the errors are those of
        :meth:`dispatch`.
        """
        interval = AnomalyInterval.from_message(validate(AnomalyInterval.schema, message))
        self._known(interval.camera_id, f"anomaly {interval.interval_id}")
        alert = build_anomaly_alert(interval)
        outcome, taken = self._send(alert)
        record = AnomalyAlertRecord(interval, alert.severity, taken, datetime.now(UTC).isoformat())
        write_once(self.cache, self.warehouse, record)
        log.info(
            "anomaly dispatched",
            extra={
                "interval_id": interval.interval_id,
                "camera_id": interval.camera_id,
                "metric": interval.metric,
                "severity": alert.severity,
                "run_id": interval.run_id,
                "outcome": outcome,
            },
        )
        return outcome

    def _known(self, camera_id: str, what: str) -> None:
        """MessageRejectedError (dead letter) for an alert of a camera the registry lacks."""
        try:
            self.registry.get(camera_id)
        except CameraNotFoundError as exc:
            raise MessageRejectedError(f"{what}: {exc.message}") from exc

    def _send(self, alert: Alert) -> tuple[dict[str, str], tuple[str, ...]]:
        """Each channel of the alert's severity, once: the outcomes, and the channels that
        took it (all but ``not_configured``)."""
        outcome = {channel: self._deliver(alert, channel) for channel in CHANNELS[alert.severity]}
        return outcome, tuple(c for c, o in outcome.items() if o != "not_configured")

    def _deliver(self, alert: Alert, channel: str) -> str:
        sender = self.senders.get(channel)
        if sender is None:
            if channel == "webhook":
                raise ConfigError(
                    "webhook alerts need CAMWATCH_WEBHOOK_URL and CAMWATCH_WEBHOOK_SECRET"
                )
            log.warning(
                "no alert email recipients (CAMWATCH_ALERT_EMAIL_TO): HIGH alert not emailed",
                extra={"alert_id": alert.id, "event_type": alert.event_type},
            )
            return "not_configured"
        key = alert_key(alert.id, channel)
        with claim(self.cache, key, hold_s=SENDING_S, done_s=SENT_S) as held:
            if not held.taken:
                if self.cache.state(key) == "done":
                    return "already_sent"
                raise DeliveryFailedError(
                    channel, f"alert {alert.id} is being delivered by another try"
                )
            sender.send(alert)
        return "sent"
