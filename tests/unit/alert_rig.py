"""The alert pipeline over fakes: dispatcher → ``alert-deliveries`` on a bus → deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.domain.registry import Registry
from shared.domain.subscribers import Subscriber
from shared.errors import CamwatchError
from shared.service_layer.alerts import AlertDispatcher
from shared.service_layer.deliveries import TOPIC, Deliveries, Router
from tests.unit.fakes import SUBSCRIBERS, FakeBus, FakeCache, FakeSender, FakeWarehouse


@dataclass
class AlertRig:
    """A dispatcher routing to ``subscribers``, their fake senders, and the fakes at hand."""

    dispatcher: AlertDispatcher
    deliveries: Deliveries
    senders: dict[str, FakeSender]
    bus: FakeBus
    cache: FakeCache
    warehouse: FakeWarehouse
    delivered: int = 0  # how many messages of the bus were taken so far

    @property
    def webhook(self) -> FakeSender:
        return self.senders["webhook"]

    @property
    def email(self) -> FakeSender:
        return self.senders["email"]

    def messages(self) -> list[dict[str, Any]]:
        """Every ``alert-deliveries`` message published so far."""
        return [m for topic, m, _ in self.bus.sent if topic == TOPIC]

    def pump(self) -> dict[str, str]:
        """Deliver every ``alert-deliveries`` message published since the last pump, as the
        ``alert_delivery`` function would: each subscriber's outcome, or its error's kind."""
        outcome: dict[str, str] = {}
        messages = self.messages()
        for message in messages[self.delivered :]:
            try:
                outcome[message["subscriber"]] = self.deliveries.deliver(message)
            except CamwatchError as exc:
                outcome[message["subscriber"]] = exc.kind
        self.delivered = len(messages)
        return outcome


def alert_rig(registry: Registry, subscribers: Sequence[Subscriber] = SUBSCRIBERS) -> AlertRig:
    """The pipeline for ``subscribers`` (the simple case's by default)."""
    bus, cache, warehouse = FakeBus(), FakeCache(), FakeWarehouse()
    senders = {s.name: FakeSender(s.channel) for s in subscribers}
    dispatcher = AlertDispatcher(Router(tuple(subscribers), bus), cache, warehouse, registry)
    return AlertRig(dispatcher, Deliveries(senders, cache), senders, bus, cache, warehouse)
