"""The typed bootstrap: adapters by keyword, a misspelt one refused, Services as callers use it."""

from __future__ import annotations

from typing import Any

import pytest

from shared import bootstrap
from shared.adapters.cache import RedisCache
from shared.settings import Settings
from tests.unit.fakes import (
    FakeBus,
    FakeCache,
    FakeDetector,
    FakeEvidence,
    FakeFrames,
    FakeSigner,
    FakeWarehouse,
    registry_of,
)


def fakes() -> dict[str, Any]:
    return {
        "cache": FakeCache(),
        "warehouse": FakeWarehouse(),
        "blobs": FakeEvidence(),
        "bus": FakeBus(),
        "frames": FakeFrames({}),
        "detector": FakeDetector(),
        "registry": registry_of({"id": "cam-a", "source": "http://a/1.jpg"}),
        "senders": {},
        "signer": FakeSigner(),
    }


def test_every_adapter_given_is_the_one_used() -> None:
    given = fakes()
    services = bootstrap.build(Settings(), **given)
    assert services.cache is given["cache"]
    assert services.warehouse is given["warehouse"]
    assert services.blobs is given["blobs"]
    assert services.bus is given["bus"]
    assert services.registry is given["registry"]
    assert services.processor.frames is given["frames"]
    assert services.processor.detector is given["detector"]
    assert services.processor.violations.evidence.blobs is given["blobs"]
    assert services.processor.violations.evidence.signer is given["signer"]
    assert set(services.health_checks()) == {"redis", "bigquery", "storage"}


def test_a_misspelt_override_is_refused_not_silently_real() -> None:
    given = fakes()
    given["cahce"] = given.pop("cache")
    with pytest.raises(TypeError, match="cahce"):
        bootstrap.build(Settings(), **given)
    with pytest.raises(TypeError, match="cahce"):
        bootstrap.bootstrap(Settings(), **given)
    bootstrap.reset()


def test_the_redis_client_gets_auth_and_tls_from_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CAMWATCH_REDIS_PASSWORD / _TLS / _CA_FILE reach RedisCache.connect (no connection yet)."""
    seen: dict[str, Any] = {}

    def connect(*args: Any, **kwargs: Any) -> FakeCache:
        seen.update(args=args, **kwargs)
        return FakeCache()

    monkeypatch.setattr(RedisCache, "connect", connect)
    given = fakes()
    del given["cache"]
    settings = Settings(
        redis_host="10.0.0.3",
        redis_port=6378,
        redis_password="auth-string",  # pydantic makes it a SecretStr
        redis_tls=True,
        redis_ca_file="/secrets/redis-ca/ca.pem",
    )
    bootstrap.build(settings, **given)
    assert seen == {
        "args": ("10.0.0.3", 6378, 1.0),
        "password": "auth-string",
        "tls": True,
        "ca_file": "/secrets/redis-ca/ca.pem",
    }
    bootstrap.build(Settings(), **given)  # the local stack: plain Redis
    assert (seen["password"], seen["tls"], seen["ca_file"]) == (None, False, None)
