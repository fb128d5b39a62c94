"""Routing: an alert becomes one ``alert-deliveries`` message per subscriber that wants it.

Each message is then delivered on its own by the ``alert_delivery`` function
(:class:`Deliveries`: its own claim, retries and dead letter), so one failing receiver delays
no other. The claim is ``alert:{alert_id}:{subscriber}``: a redelivered message, or an alert
routed again, is not sent twice to a subscriber that took it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.adapters.alert_channels import AlertSender
from shared.adapters.bus import EventBus
from shared.adapters.cache import Cache
from shared.domain.alerts import Alert
from shared.domain.deliveries import AlertDelivery, AlertEvent
from shared.domain.subscribers import Subscriber
from shared.errors import DeliveryFailedError, MessageRejectedError
from shared.messages.schemas import validate
from shared.service_layer.idempotency import SENDING_S, SENT_S, alert_key, claim

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


@dataclass
class Deliveries:
    """Delivers ``alert-deliveries`` messages: one alert to one subscriber, once."""

    senders: Mapping[str, AlertSender]  # by subscriber name
    cache: Cache

    def deliver(self, message: Any, owner: str = "") -> str:
        """Send one message's alert to its subscriber; return ``sent`` or ``already_sent``.
        ``owner``: the Pub/Sub message id; its redelivery takes back a claim an attempt kept
        when Redis went away (the receiver may then get the alert twice, with one webhook-id).

        Raises:
            MessageRejectedError: the payload breaks its schema, names a subscriber the
                configuration lacks, or the subscriber's address is forbidden (dead letter).
            DeliveryFailedError: the receiver refused or timed out, or another try of the same
                delivery is in flight (Pub/Sub retries this message alone).
            ConfigError: the subscriber's secret is missing or invalid (retried, then
                dead-lettered: not lost).
        """
        delivery = AlertDelivery.from_message(validate(AlertDelivery.schema, message))
        name, alert = delivery.subscriber, delivery.alert
        sender = self.senders.get(name)
        if sender is None:
            raise MessageRejectedError(f"alert {alert.id}: unknown alert subscriber {name!r}")
        outcome = "sent"
        if alert.unclaimed:
            sender.send(alert)
        else:
            outcome = self._claimed(sender, name, alert, owner)
        log.info(
            "alert delivered",
            extra={
                "alert_id": alert.id,
                "event_type": alert.event_type,
                "severity": str(alert.severity),
                "subscriber": name,
                "outcome": outcome,
            },
        )
        return outcome

    def _claimed(self, sender: AlertSender, name: str, alert: AlertEvent, owner: str) -> str:
        key = alert_key(alert.id, name)
        with claim(self.cache, key, hold_s=SENDING_S, done_s=SENT_S, owner=owner) as held:
            if not held.taken:
                if self.cache.state(key) == "done":
                    return "already_sent"
                raise DeliveryFailedError(name, f"alert {alert.id} is being sent by another try")
            sender.send(alert)
        return "sent"
