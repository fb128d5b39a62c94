"""The Pub/Sub topology: every route dead-letters, with retries Pub/Sub accepts."""

from __future__ import annotations

from shared.messages.topology import ROUTES


def test_every_route_has_a_dead_letter_topic_and_bounded_retries() -> None:
    for route in ROUTES:
        assert route.dead_letter_topic == f"{route.topic}-dead-letter"
        assert 5 <= route.max_delivery_attempts <= 100  # Pub/Sub's allowed range
        assert 0 < route.min_backoff_s <= route.max_backoff_s <= 600
