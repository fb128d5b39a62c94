"""An alert on its way to one subscriber: the ``alert-deliveries`` message.

The dispatchers and the monitor route each alert to the subscribers that want it, one message
per subscriber (:class:`AlertDelivery`), so that each subscriber has its own claim, retries and
dead letter: one failing receiver delays no other. The message carries the alert already
rendered (:class:`AlertEvent`), so the delivering function needs no camera, violation or
interval to send it, only the subscriber's address and secret from its configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from shared.domain.alerts import Alert, Severity


@dataclass(frozen=True)
class AlertEvent:
    """An alert as sent: an :class:`~shared.domain.alerts.Alert` itself, rendered once."""

    id: str
    event_type: str
    severity: Severity
    camera_id: str | None
    payload: dict[str, Any]  # the Standard Webhooks body: {"type", "timestamp", "data"}
    subject: str
    text: str
    # Delivered without a Redis claim (alerts about Redis itself; receivers dedup by id).
    unclaimed: bool = False

    @classmethod
    def of(cls, alert: Alert, unclaimed: bool = False) -> AlertEvent:
        """Render ``alert`` once: the same bytes go to every subscriber and every retry."""
        return cls(
            alert.id,
            alert.event_type,
            alert.severity,
            alert.camera_id,
            alert.body(),
            alert.email_subject(),
            alert.email_text(),
            unclaimed,
        )

    def body(self) -> dict[str, Any]:
        """The Standard Webhooks body."""
        return self.payload

    def email_subject(self) -> str:
        """The email's subject line (and a chat message's headline)."""
        return self.subject

    def email_text(self) -> str:
        """The email's plain-text body (and a chat message's details)."""
        return self.text

    def as_message(self) -> dict[str, Any]:
        """The ``alert`` of an ``alert-deliveries`` message."""
        return {
            "id": self.id,
            "event_type": self.event_type,
            "severity": str(self.severity),
            "camera_id": self.camera_id,
            "body": self.payload,
            "subject": self.subject,
            "text": self.text,
            "unclaimed": self.unclaimed,
        }

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> AlertEvent:
        """Inverse of :meth:`as_message` (``data`` checked against the schema first)."""
        return cls(
            data["id"],
            data["event_type"],
            Severity(data["severity"]),
            data.get("camera_id"),
            data["body"],
            data["subject"],
            data["text"],
            bool(data.get("unclaimed", False)),
        )


@dataclass(frozen=True)
class AlertDelivery:
    """One alert for one subscriber (``schemas/pubsub/alert_delivery.schema.json``)."""

    schema: ClassVar[str] = "alert_delivery"

    subscriber: str
    alert: AlertEvent

    def as_message(self) -> dict[str, Any]:
        """The JSON payload."""
        return {"subscriber": self.subscriber, "alert": self.alert.as_message()}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> AlertDelivery:
        """Inverse of :meth:`as_message` (``data`` checked against the schema first)."""
        return cls(data["subscriber"], AlertEvent.from_message(data["alert"]))
