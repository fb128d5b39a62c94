"""The alert dispatcher: an alert is routed to the subscribers that want it.

Two kinds of alert: a violation's (``violations`` messages, ``violation.detected``) and an
anomalous interval's (``anomalies`` messages from the forecast job, ``traffic.anomaly``). Each
becomes one ``alert-deliveries`` message per subscriber whose filters let it through
(:class:`~shared.service_layer.deliveries.Router`), delivered on its own by the
``alert_delivery`` function; its claim ``alert:{alert_id}:{subscriber}`` makes a redelivered
message, or an interval that a later forecast run finds again, reach each subscriber once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.adapters.cache import Cache
from shared.adapters.warehouse import Warehouse
from shared.domain.alerts import Alert, AlertRecord, Severity, ViolationAlert, severity_of
from shared.domain.anomaly_alerts import AnomalyAlert, AnomalyAlertRecord
from shared.domain.anomaly_intervals import AnomalyInterval
from shared.domain.registry import Registry
from shared.domain.violations import ViolationRecord
from shared.errors import CameraNotFoundError, ConfigError, MessageRejectedError
from shared.messages.schemas import validate
from shared.service_layer.deliveries import Router
from shared.service_layer.idempotency import write_once

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
    """Routes each alert (a violation's, an anomalous interval's) to the subscribers that want
    it; only for cameras of the registry."""

    router: Router
    cache: Cache
    warehouse: Warehouse
    registry: Registry

    def dispatch(self, message: Any, owner: str = "") -> dict[str, str]:
        """Route one ``violations`` message; return ``{subscriber: "queued"}`` for each
        subscriber it was routed to (none: ``{}``).

        The ``alerts`` table gets one row per violation, its ``channels`` the subscribers.

        Raises:
            MessageRejectedError: the payload breaks its schema, or names a camera the registry
                does not hold (dead-lettered, never retried).
            ConfigError: no subscriber is configured at all (retried, then dead-lettered: not
                lost).
        """
        violation = ViolationRecord.from_message(validate(ViolationRecord.schema, message))
        self._known(violation.camera_id, f"violation {violation.violation_id}")
        severity = severity_of(violation.confidence)
        outcome, taken = (
            self._route(build_alert(violation, severity)) if severity is not None else ({}, ())
        )
        record = AlertRecord(violation, severity, taken, datetime.now(UTC).isoformat())
        write_once(self.cache, self.warehouse, record, owner)  # owner: the message id
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

    def dispatch_anomaly(self, message: Any, owner: str = "") -> dict[str, str]:
        """Deliver one ``anomalies`` message (an interval) as a ``traffic.anomaly`` alert.

        The interval id is the alert id: a later forecast run that finds the same interval
        publishes it again, and every subscriber's delivery answers ``already_sent``. The
        outcomes, the
        ``alerts`` row (``event_type`` ``traffic.anomaly``) and the errors are those of
        :meth:`dispatch`.
        """
        interval = AnomalyInterval.from_message(validate(AnomalyInterval.schema, message))
        self._known(interval.camera_id, f"anomaly {interval.interval_id}")
        alert = build_anomaly_alert(interval)
        outcome, taken = self._route(alert)
        record = AnomalyAlertRecord(interval, alert.severity, taken, datetime.now(UTC).isoformat())
        write_once(self.cache, self.warehouse, record, owner)  # owner: the message id
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

    def _route(self, alert: Alert) -> tuple[dict[str, str], tuple[str, ...]]:
        """Publish the alert for each subscriber that wants it: the outcomes and their names."""
        if not self.router.subscribers:
            raise ConfigError(
                "no alert subscribers: set CAMWATCH_ALERT_SUBSCRIBERS, or CAMWATCH_WEBHOOK_URL "
                "and CAMWATCH_WEBHOOK_SECRET (docs/alerts.md)"
            )
        names = self.router.route(alert)
        return dict.fromkeys(names, "queued"), names
