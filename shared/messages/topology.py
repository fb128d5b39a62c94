"""Topics, push subscriptions, retry and dead-letter settings: ``schemas/pubsub/topology.json``.

The same file drives the local stack (``shared.devstack.topology``) and ``terraform/pubsub.tf``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shared.messages.schemas import SCHEMAS

TOPOLOGY = SCHEMAS / "pubsub" / "topology.json"


@dataclass(frozen=True)
class Route:
    """A topic, its push subscription to a function, and what happens on failure."""

    topic: str
    function: str
    ack_deadline_s: int
    min_backoff_s: int
    max_backoff_s: int
    max_delivery_attempts: int

    @property
    def subscription(self) -> str:
        """The push subscription's id."""
        return f"{self.topic}-push"

    @property
    def dead_letter_topic(self) -> str:
        """Where messages go after ``max_delivery_attempts``, or at once when rejected."""
        return f"{self.topic}-dead-letter"

    @property
    def dead_letter_subscription(self) -> str:
        """The pull subscription on the dead-letter topic (the monitor peeks at it)."""
        return dead_letter_pull(self.dead_letter_topic)


def dead_letter_pull(topic: str) -> str:
    """The pull subscription on a dead-letter topic (``terraform/pubsub.tf`` creates them)."""
    return f"{topic}-pull"


_SPEC = json.loads(TOPOLOGY.read_text())
ROUTES = tuple(Route(**r) for r in _SPEC["routes"])
ROUTE_BY_TOPIC = {r.topic: r for r in ROUTES}
