"""The alert channel port; its adapters are ``webhook`` (Standard Webhooks) and ``smtp``.

A channel takes any :class:`~shared.domain.alerts.Alert` (a violation's or an anomaly's)."""

from __future__ import annotations

from typing import Protocol

from shared.domain.alerts import Alert


class AlertSender(Protocol):
    """An alert channel (webhook, email)."""

    channel: str

    def send(self, alert: Alert) -> None:
        """Deliver the alert or raise :class:`DeliveryFailedError` (the message is retried)."""
        ...
