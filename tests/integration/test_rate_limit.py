"""The per-caller token bucket in a real Redis (its own redis-server on a free port): the Lua
script's refill and burst, atomic under concurrency, 429 with the real ``Retry-After`` through
process_camera, and 503 (never a pass) once the server is stopped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from functions_framework import create_app

from shared import bootstrap
from shared.adapters.cache import RedisCache
from shared.devstack.procs import Stack
from shared.devstack.stack import LocalStack
from shared.domain.callers import hash_key
from shared.settings import Settings
from tests.conftest import ROOT, jpeg
from tests.unit.fakes import FakeCache, registry_of, wired

KEY = "cwk_" + "r" * 43
CAMERA = "/process/camera/cam-a"


@pytest.fixture
def redis_stack(tmp_path: Path) -> Iterator[tuple[LocalStack, RedisCache]]:
    local = LocalStack(Stack(tmp_path / "logs"))
    try:
        local.start_redis()
        port = int(local.env["CAMWATCH_REDIS_PORT"])
        password = local.env["CAMWATCH_REDIS_PASSWORD"]
        yield local, RedisCache.connect("127.0.0.1", port, 0.5, password=password)
    finally:
        local.stop()


def test_the_lua_bucket_refills_and_bursts_like_the_fake(
    redis_stack: tuple[LocalStack, RedisCache],
) -> None:
    _, cache = redis_stack
    fake = FakeCache()
    now = 1_700_000_000.0
    steps = [0, 0, 0, 0, 0.4, 0.6, 2.5, 0, 0, 0, 100, 0, 0, 0, 0]  # seconds between takes
    for step in steps:
        now += step
        real, faked = cache.take("ratelimit:a", 60, 3, now), fake.take("ratelimit:a", 60, 3, now)
        assert real == pytest.approx(faked, abs=1e-3), (now, real, faked)
    assert cache.take("ratelimit:b", 60, 3, now) == 0.0  # another caller's bucket is full


def test_concurrent_takes_never_overspend(redis_stack: tuple[LocalStack, RedisCache]) -> None:
    _, cache = redis_stack
    with ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(lambda _: cache.take("ratelimit:c", 6, 20, 1000.0), range(64)))
    assert sum(1 for w in waits if w == 0.0) == 20  # the burst, exactly


def test_process_camera_answers_429_with_the_wait_then_503_without_redis(
    redis_stack: tuple[LocalStack, RedisCache],
) -> None:
    local, cache = redis_stack
    fakes = wired(
        registry_of({"id": "cam-a", "source": "http://c/a.jpg"}),
        {"http://c/a.jpg": jpeg("car1.jpg")},
    )
    entry = {"name": "partner-r", "sha256": hash_key(KEY), "scopes": ["process"], "per_minute": 3}
    overrides = {**fakes.overrides(), "cache": cache}
    bootstrap.bootstrap(Settings(api_keys=json.dumps({"keys": [entry]})), **overrides)
    try:
        client = create_app(
            "process_camera", str(ROOT / "functions/process_camera/main.py"), "http"
        ).test_client()
        headers = {"X-API-Key": KEY}
        assert client.post(CAMERA, headers=headers).status_code == 200  # the burst: 1
        limited = client.post(CAMERA, headers=headers)
        assert (limited.status_code, limited.get_json()["error"]) == (429, "rate_limited")
        assert 19 <= int(limited.headers["Retry-After"]) <= 20  # 3 a minute: 20 s a token
        local.stop()
        down = client.post(CAMERA, headers=headers)
        assert (down.status_code, down.get_json()["dependency"]) == (503, "redis")
        assert down.headers["Retry-After"] == "1"
    finally:
        bootstrap.reset()
