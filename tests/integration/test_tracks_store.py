"""A camera's tracks in the real Redis: round trip, TTL, and the optimistic update's retries."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from shared.adapters.cache import UPDATE_ATTEMPTS, RedisCache
from shared.bootstrap import redis_cache
from shared.devstack.procs import free_port
from shared.domain.detections import Detections
from shared.domain.tracks import TrackConfig, counter_ids
from shared.errors import DependencyUnavailableError
from shared.service_layer.idempotency import tracks_key
from shared.service_layer.tracking import CameraTracker
from shared.settings import Settings

pytestmark = pytest.mark.integration


def one_car(x: float = 100.0) -> Detections:
    return Detections(
        np.array([[x, 100, x + 100, 160]], np.float32),
        np.array([0.9], np.float32),
        np.array([2], np.int64),
        np.array(["car"], dtype=object),
    )


@pytest.fixture
def cache(stack_settings: Settings) -> RedisCache:
    return redis_cache(stack_settings, 1.0)


def test_tracks_round_trip_with_ttl(cache: RedisCache) -> None:
    cam = f"cam-{uuid.uuid4().hex[:8]}"
    tracker = CameraTracker(cache, TrackConfig(), ttl_s=120, new_id=counter_ids())
    first = tracker.observe(cam, "h1", one_car(), 0)
    assert first.track_ids == ("t1",)
    assert tracker.load(cam) == first.state
    assert 0 < cache._r.ttl(tracks_key(cam)) <= 120
    cache._r.expire(tracks_key(cam), 5)
    second = tracker.observe(cam, "h2", one_car(101), 300_000)
    assert second.track_ids == ("t1",)
    assert cache._r.ttl(tracks_key(cam)) > 5  # refreshed on update
    [car] = tracker.load(cam).tracks
    assert (car.first_seen_ms, car.last_seen_ms, car.stationary_since_ms) == (0, 300_000, 0)


def test_a_concurrent_writer_makes_the_update_run_again(cache: RedisCache) -> None:
    key = f"vision:camera:cam-{uuid.uuid4().hex[:8]}:tracks"
    seen: list[str | None] = []

    def change(current: str | None) -> tuple[str, int]:
        seen.append(current)
        if len(seen) == 1:  # another worker writes between our read and our EXEC
            cache._r.set(key, "theirs")
        return f"mine after {current}", len(seen)

    assert cache.update(key, change, 60) == 2
    assert seen == [None, "theirs"]
    assert cache.get(key) == "mine after theirs"


def test_an_update_that_always_loses_is_a_dependency_error(cache: RedisCache) -> None:
    key = f"vision:camera:cam-{uuid.uuid4().hex[:8]}:tracks"
    calls = []

    def change(current: str | None) -> tuple[str, None]:
        calls.append(current)
        cache._r.set(key, str(len(calls)))
        return "mine", None

    with pytest.raises(DependencyUnavailableError, match="conflicting"):
        cache.update(key, change, 60)
    assert len(calls) == UPDATE_ATTEMPTS
    assert cache.get(key) == str(UPDATE_ATTEMPTS)


def test_tracks_with_redis_down_are_a_dependency_error() -> None:
    tracker = CameraTracker(RedisCache.connect("127.0.0.1", free_port(), 0.5))
    with pytest.raises(DependencyUnavailableError, match="redis"):
        tracker.observe("cam", "h", one_car(), 0)
