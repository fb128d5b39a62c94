"""The alert dispatcher: a violation's severity picks its channels; each takes it once.

Each (violation, channel) is claimed in Redis, ``alert:{violation_id}:{channel}``: a
redelivered message skips the channels that already took it and retries only the rest.
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
from shared.domain.alerts import CHANNELS, Alert, AlertRecord, Severity, severity_of
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


def build_alert(violation: ViolationRecord, severity: Severity) -> Alert:
    """The alert of a violation, its webhook body checked against its schema."""
    alert = Alert(violation, severity)
    validate("webhooks/violation_alert", alert.body())
    return alert


@dataclass
class AlertDispatcher:
    """Sends each violation's alert on the channels its severity calls for, once each; only
    for cameras of the registry."""

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
        try:
            self.registry.get(violation.camera_id)
        except CameraNotFoundError as exc:
            raise MessageRejectedError(
                f"violation {violation.violation_id}: {exc.message}"
            ) from exc
        severity = severity_of(violation.confidence)
        outcome: dict[str, str] = {}
        if severity is not None:
            alert = build_alert(violation, severity)
            for channel in CHANNELS[severity]:
                outcome[channel] = self._deliver(alert, channel)
        taken = tuple(c for c, o in outcome.items() if o != "not_configured")
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

    def _deliver(self, alert: Alert, channel: str) -> str:
        sender = self.senders.get(channel)
        if sender is None:
            if channel == "webhook":
                raise ConfigError(
                    "webhook alerts need CAMWATCH_WEBHOOK_URL and CAMWATCH_WEBHOOK_SECRET"
                )
            log.warning(
                "no alert email recipients (CAMWATCH_ALERT_EMAIL_TO): HIGH alert not emailed",
                extra={"violation_id": alert.id},
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
