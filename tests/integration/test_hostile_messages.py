"""Hostile Pub/Sub pushes (``tests/push_cases.py``) on the real stack: dead letters on the emulator.

Issue 12, items 4 and 8. The CloudEvent functions run under functions-framework's test client
in this process, with the real adapters of the local stack: Redis, the Pub/Sub emulator (the
dead letters are pulled from its dead-letter topics), the BigQuery and Cloud Storage emulators,
the registry of ``shared/assets/cameras.yaml``, the webhook receiver and the SMTP sink. Every
push is posted once; each case then checks its own outcome.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from functions_framework import create_app

from shared import bootstrap
from shared.adapters.cache import RedisCache
from shared.adapters.warehouse import BigQueryWarehouse
from shared.devstack.procs import free_port
from shared.devstack.stack import LocalStack
from shared.domain.registry import Camera, Location, Registry, load_registry
from shared.messages.envelope import DEAD_LETTER_MAX_BYTES
from shared.messages.topology import ROUTES
from shared.settings import Settings, get_settings
from tests.conftest import ROOT
from tests.dead_letters import Letter, pull, subscribe, take_back
from tests.push_cases import PUSHES
from tests.pushes import (
    DEAD_LETTER,
    KNOWN,
    KNOWN_SOURCE,
    TWELVE_MB,
    Push,
    job,
    message,
    push,
)

pytestmark = pytest.mark.integration
FUNCTION = {route.topic: route.function for route in ROUTES}
CASES = [(name, p) for name, p in PUSHES if not p.unit_only]
HERE = Location(lat=37.77, lon=-122.42)


def deliver(p: Push) -> int:
    name = FUNCTION[p.topic]
    client = create_app(name, str(ROOT / "functions" / name / "main.py"), "cloudevent")
    response = client.test_client().post(
        p.path, data=p.body, headers={"Content-Type": p.content_type}
    )
    return response.status_code


@pytest.fixture(scope="module")
def services(local_stack: LocalStack) -> Iterator[bootstrap.Services]:
    """The real adapters of the local stack, as a deployed function builds them, and the
    registry of ``shared/assets/cameras.yaml`` with the tests' own offline camera."""
    get_settings.cache_clear()
    bootstrap.reset()
    settings = Settings()
    cameras = load_registry(settings.registry_path).cameras
    offline = Camera(id=KNOWN, name="hostile input", source=KNOWN_SOURCE, location=HERE)
    yield bootstrap.bootstrap(settings, registry=Registry(cameras=[*cameras, offline]))
    bootstrap.reset()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def subscriptions(services: bootstrap.Services) -> Iterator[dict[str, str]]:
    """Pull subscriptions of this module on the dead-letter topics; its dead letters are
    taken back from the local stack's own ones afterwards."""
    with subscribe() as paths:
        yield paths
    take_back(lambda letter: any(p.owns(letter.data, letter.attributes) for _, p in PUSHES))


@pytest.fixture(scope="module")
def outcome(
    services: bootstrap.Services, subscriptions: dict[str, str]
) -> dict[str, tuple[int, list[Letter]]]:
    """Each case's status and its dead letters, every push posted once."""
    status = {name: deliver(p) for name, p in CASES}
    letters = pull(subscriptions)
    return {
        name: (
            status[name],
            [x for x in letters if x.topic == p.topic and p.owns(x.data, x.attributes)],
        )
        for name, p in CASES
    }


def processed(services: bootstrap.Services, local_stack: LocalStack, p: Push) -> str:
    """What processing left: ``row`` (an observation of the job's sweep), ``webhook`` (the
    violation's alert routed to its subscribers), or ``dropped`` (nothing)."""
    warehouse = services.warehouse
    assert isinstance(warehouse, BigQueryWarehouse)
    rows = warehouse.query(
        f"SELECT camera_id FROM `{warehouse.table_id('observations')}` WHERE sweep_id = @s",
        {"s": f"s-{p.marker}"},
    )
    # The dispatcher routes the alert (alert-deliveries) and records its subscribers; the
    # delivery itself is the alert_delivery function's (tests/e2e: a push subscription).
    routed = warehouse.query(
        f"SELECT channels FROM `{warehouse.table_id('alerts')}` WHERE violation_id = @v",
        {"v": p.marker},
    )
    found = {"row": len(rows), "webhook": sum(bool(r["channels"]) for r in routed)}
    kinds = [k for k, n in found.items() if n]
    assert len(kinds) <= 1, found
    return kinds[0] if kinds else "dropped"


@pytest.mark.parametrize("name", [pytest.param(name, id=name) for name, _ in CASES])
def test_each_push_gets_its_defined_outcome(
    name: str,
    outcome: dict[str, tuple[int, list[Letter]]],
    services: bootstrap.Services,
    local_stack: LocalStack,
) -> None:
    p = dict(CASES)[name]
    status, letters = outcome[name]
    assert status == 200  # acknowledged: Pub/Sub never retries it
    if p.outcome != DEAD_LETTER:
        assert letters == []
        deadline = time.monotonic() + 10
        while (effect := processed(services, local_stack, p)) != p.effect:
            assert time.monotonic() < deadline, effect
            time.sleep(0.2)
        return
    [letter] = letters
    assert p.reason in letter.attributes["reason"]
    assert letter.attributes["source_topic"] == p.topic
    assert processed(services, local_stack, p) == "dropped"
    if name == "data-12mb":  # Pub/Sub takes 10 MB: the first 9 MiB, the size and the digest
        assert letter.data == b"x" * DEAD_LETTER_MAX_BYTES
        assert letter.attributes["original_size"] == str(TWELVE_MB)
        assert letter.attributes["original_sha256"] == hashlib.sha256(b"x" * TWELVE_MB).hexdigest()


def test_a_transient_failure_answers_500_and_is_not_dead_lettered(
    services: bootstrap.Services, subscriptions: dict[str, str], outcome: Any
) -> None:
    # Redis refuses connections (nothing listens on the port): the job's claim fails.
    dead_redis = RedisCache.connect("127.0.0.1", free_port(), 0.5)
    bootstrap.bootstrap(services.settings, cache=dead_redis, registry=services.registry)
    try:
        marker = uuid.uuid4().hex
        p = Push("camera-jobs", push("camera-jobs", message(marker, job(marker))), "", marker)
        assert deliver(p) == 500  # Pub/Sub redelivers it
        assert [x for x in pull(subscriptions, 2.0) if p.owns(x.data, x.attributes)] == []
    finally:
        bootstrap.reset()
        bootstrap.bootstrap(services.settings, registry=services.registry)
