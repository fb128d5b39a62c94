"""Topics, subscriptions, retry and dead-letter settings: declared once, here.

``terraform/pubsub.tf`` declares the same values (a unit test keeps them in step); the local
stack creates them in the emulator with push subscriptions to the functions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """A topic, its push subscription to a function, and what happens on failure."""

    topic: str
    function: str
    ack_deadline_s: int = 60
    min_backoff_s: int = 10
    max_backoff_s: int = 600
    max_delivery_attempts: int = 5

    @property
    def subscription(self) -> str:
        """The push subscription's id."""
        return f"{self.topic}-push"

    @property
    def dead_letter_topic(self) -> str:
        """Where messages go after ``max_delivery_attempts``, or at once when rejected."""
        return f"{self.topic}-dead-letter"


ROUTES = (
    Route("camera-sweep", "sweep", ack_deadline_s=60, max_delivery_attempts=5),
    Route("camera-jobs", "camera_worker", ack_deadline_s=120, max_delivery_attempts=5),
)
ROUTE_BY_TOPIC = {r.topic: r for r in ROUTES}
