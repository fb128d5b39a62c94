"""The typed bootstrap: adapters by keyword, a misspelt one refused, Services as callers use it."""

from __future__ import annotations

from typing import Any

import pytest

from shared import bootstrap
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
