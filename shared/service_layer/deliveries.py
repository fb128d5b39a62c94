"""Routing: an alert becomes one ``alert-deliveries`` message per subscriber that wants it.

Each message is then delivered on its own by the ``alert_delivery`` function (its own claim,
retries and dead letter), so one failing receiver delays no other.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from shared.adapters.bus import EventBus
from shared.domain.alerts import Alert
from shared.domain.deliveries import AlertDelivery, AlertEvent
from shared.domain.subscribers import Subscriber

log = logging.getLogger(__name__)

TOPIC = "alert-deliveries"


@dataclass
class Router:
    """Publishes an alert once per subscriber whose filters let it through."""

    subscribers: Sequence[Subscriber]
    bus: EventBus

    def route(self, alert: Alert, unclaimed: bool = False) -> tuple[str, ...]:
        """Publish the alert for each subscriber that wants it; return their names.

        ``unclaimed``: deliver without a Redis claim (an alert about Redis itself).
        """
        event = AlertEvent.of(alert, unclaimed)
        names = tuple(s.name for s in self.subscribers if s.wants(alert))
        if names:
            self.bus.publish(TOPIC, [AlertDelivery(name, event) for name in names])
        log.info(
            "alert routed",
            extra={
                "alert_id": alert.id,
                "event_type": alert.event_type,
                "severity": str(alert.severity),
                "subscribers": list(names),
            },
        )
        return names
