"""The monitor against the real Redis and the Pub/Sub emulator: health recorded by the workers,
states kept in Redis across instances, and the dead-letter peek that acknowledges nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.bus import PubSubBus, PubSubDeadLetters
from shared.adapters.cache import RedisCache
from shared.bootstrap import redis_cache
from shared.domain.subscribers import Subscriber
from shared.service_layer import monitor as monitoring
from shared.service_layer.deliveries import Router
from shared.service_layer.health import MeteredDetector, inference_stats, record_sweep
from shared.service_layer.idempotency import camera_health_key, system_alert_key
from shared.service_layer.monitor import Monitor, Thresholds
from shared.settings import Settings
from tests.unit.fakes import FakeBus, FakeDeadLetters, FakeDetector

pytestmark = pytest.mark.integration
T0 = datetime.now(UTC).timestamp()


@pytest.fixture
def cache(stack_settings: Settings) -> Iterator[RedisCache]:
    monitoring.forget_local_states()
    yield redis_cache(stack_settings, 1.0)
    monitoring.forget_local_states()


def make_monitor(cache: RedisCache, bus: FakeBus, camera: str) -> Monitor:
    return Monitor(
        cache,
        Router([Subscriber("ops", url="https://ops.example/hook")], bus),
        lambda: [camera],
        {"redis": cache.ping},
        FakeDeadLetters(),
        [],
        Thresholds(cooldown_s=900, offline_sweeps=3, min_calls=10),
    )


def test_offline_raised_once_across_instances_and_resolved(cache: RedisCache) -> None:
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        record_sweep(cache, cam, T0 + i * 60, error=("timeout", "camera silent"))
    assert 0 < cache._r.ttl(camera_health_key(cam)) <= 24 * 3600
    bus = FakeBus()
    report = make_monitor(cache, bus, cam).tick(datetime.fromtimestamp(T0 + 150, UTC))
    assert report.raised == 1
    monitoring.forget_local_states()  # another instance: the state comes from Redis
    assert make_monitor(cache, bus, cam).tick(datetime.fromtimestamp(T0 + 210, UTC)).raised == 0
    assert cache.get(system_alert_key(f"camera.offline:{cam}")) is not None

    record_sweep(cache, cam, T0 + 1100, observation=_ok_frame())
    later = datetime.fromtimestamp(T0 + 1110, UTC)
    assert make_monitor(cache, bus, cam).tick(later).resolved == 1
    types = [m["alert"]["event_type"] for _, m, _ in bus.sent]
    assert types == ["camera.offline", "camera.offline.resolved"]


def test_metered_calls_land_in_this_minutes_bucket(cache: RedisCache) -> None:
    minute = int(T0) // 60 + 10_000 + uuid.uuid4().int % 100_000  # a minute of its own
    at = minute * 60.0 + 5
    meter = MeteredDetector(FakeDetector(), cache, 300, clock=lambda: at)
    for failed in (True, False, False, False):
        meter.record(120.0, failed)
    stats = inference_stats(cache, at, 300)
    assert (stats.calls, stats.errors, stats.p95_ms) == (4, 1, 250.0)


def test_the_dead_letter_peek_counts_and_acknowledges_nothing(stack_settings: Settings) -> None:
    topic = "monitor-ticks-dead-letter"
    sub = f"{topic}-pull"
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(stack_settings.project_id, sub)
    bus = PubSubBus(stack_settings.project_id)
    for i in range(3):
        bus.publish_raw(topic, f"letter {i}".encode(), reason="test")
    peek = PubSubDeadLetters(stack_settings.project_id, timeout_s=5.0)
    try:
        first = peek.pending([sub])[sub]
        assert first >= 3
        assert peek.pending([sub])[sub] == first  # released at once, not acknowledged
    finally:  # leave the subscription as it was
        answer = subscriber.pull(request={"subscription": path, "max_messages": 100}, timeout=5)
        ids = [m.ack_id for m in answer.received_messages]
        if ids:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": ids})
        subscriber.close()


def _ok_frame() -> Any:  # what record_sweep reads of an Observation
    class Frame:
        status = "ok"

    class Seen:
        frame = Frame()

    return Seen()
