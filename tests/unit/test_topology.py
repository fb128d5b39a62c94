"""The Pub/Sub topology: every route dead-letters, with retries Pub/Sub accepts."""

from __future__ import annotations

from shared.messages.topology import ROUTES


def test_every_route_has_a_dead_letter_topic_and_bounded_retries() -> None:
    for route in ROUTES:
        assert route.dead_letter_topic == f"{route.topic}-dead-letter"
        assert 5 <= route.max_delivery_attempts <= 100  # Pub/Sub's allowed range
        assert 0 < route.min_backoff_s <= route.max_backoff_s <= 600


def test_anomalies_retry_like_violations_into_their_own_dispatcher() -> None:
    by_topic = {r.topic: r for r in ROUTES}
    anomalies, violations = by_topic["anomalies"], by_topic["violations"]
    assert anomalies.function == "anomaly_dispatcher"
    assert anomalies.subscription == "anomalies-push"
    settings = ("ack_deadline_s", "min_backoff_s", "max_backoff_s", "max_delivery_attempts")
    assert [getattr(anomalies, s) for s in settings] == [getattr(violations, s) for s in settings]
