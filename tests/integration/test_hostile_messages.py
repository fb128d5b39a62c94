"""Hostile Pub/Sub pushes (``tests/pushes.py``) on the real stack: dead letters on the emulator.

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
from dataclasses import dataclass
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from functions_framework import create_app
from google.api_core.exceptions import DeadlineExceeded
from google.cloud import pubsub_v1  # type: ignore[attr-defined]
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from shared import bootstrap
from shared.adapters.cache import RedisCache
from shared.adapters.warehouse import BigQueryWarehouse
from shared.devstack.procs import free_port
from shared.devstack.stack import LocalStack
from shared.messages.envelope import DEAD_LETTER_MAX_BYTES
from shared.messages.topology import ROUTES
from shared.settings import Settings, get_settings
from tests.conftest import ROOT
from tests.pushes import DEAD_LETTER, PROJECT, PUSHES, TWELVE_MB, Push, job, message, push

pytestmark = pytest.mark.integration
FUNCTION = {route.topic: route.function for route in ROUTES}
CASES = [(name, p) for name, p in PUSHES if not p.unit_only]


@dataclass(frozen=True)
class Letter:
    """A dead letter as pulled from the emulator."""

    topic: str
    data: bytes
    attributes: dict[str, str]


def deliver(p: Push) -> int:
    name = FUNCTION[p.topic]
    client = create_app(name, str(ROOT / "functions" / name / "main.py"), "cloudevent")
    response = client.test_client().post(
        p.path, data=p.body, headers={"Content-Type": p.content_type}
    )
    return response.status_code


@pytest.fixture(scope="module")
def services(local_stack: LocalStack) -> Iterator[bootstrap.Services]:
    """The real adapters of the local stack, as a deployed function builds them."""
    get_settings.cache_clear()
    bootstrap.reset()
    yield bootstrap.bootstrap(Settings())
    bootstrap.reset()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def subscriptions(services: bootstrap.Services) -> Iterator[dict[str, str]]:
    """A pull subscription of this module on each dead-letter topic (others pull their own)."""
    subscriber = pubsub_v1.SubscriberClient()
    paths = {}
    for route in ROUTES:
        topic = subscriber.topic_path(PROJECT, route.dead_letter_topic)
        name = f"hostile-{route.topic}-{uuid.uuid4().hex[:8]}"
        paths[route.topic] = subscriber.subscription_path(PROJECT, name)
        subscriber.create_subscription(name=paths[route.topic], topic=topic, timeout=15)
    yield paths
    for path in paths.values():
        subscriber.delete_subscription(subscription=path, timeout=15)


def subscriber_client() -> pubsub_v1.SubscriberClient:
    """A subscriber that takes messages over 4 MB (with the emulator, the client library
    opens a plain channel with gRPC's default limit)."""
    options = [("grpc.max_receive_message_length", -1)]
    channel = grpc.insecure_channel(Settings().pubsub_emulator_host or "", options=options)
    return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))


def pull(subscriptions: dict[str, str], quiet_s: float = 3.0) -> list[Letter]:
    """Every dead letter, until the topics stay quiet for ``quiet_s``."""
    subscriber = subscriber_client()
    got: list[Letter] = []
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        for topic, path in subscriptions.items():
            try:  # the emulator holds an empty pull until its deadline
                answer = subscriber.pull(subscription=path, max_messages=50, timeout=1)
            except DeadlineExceeded:
                continue
            if answer.received_messages:
                quiet_since = time.monotonic()
                ack = [m.ack_id for m in answer.received_messages]
                subscriber.acknowledge(subscription=path, ack_ids=ack, timeout=10)
            for m in answer.received_messages:
                got.append(Letter(topic, m.message.data, dict(m.message.attributes)))
    return got


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
    webhook and the email of the violation), or ``dropped`` (nothing)."""
    warehouse = services.warehouse
    assert isinstance(warehouse, BigQueryWarehouse)
    rows = warehouse.query(
        f"SELECT camera_id FROM `{warehouse.table_id('observations')}` WHERE sweep_id = @s",
        {"s": f"s-{p.marker}"},
    )
    receiver = local_stack.webhooks
    assert receiver is not None
    hooks = [d for d in receiver.accepted() if d.webhook_id == p.marker]
    emails = [m for m in local_stack.emails() if m["X-Camwatch-Violation-Id"] == p.marker]
    found = {"row": len(rows), "webhook": len(hooks) + len(emails)}
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
        deadline = time.monotonic() + 10  # the webhook and the email arrive in this process
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
    bootstrap.bootstrap(services.settings, cache=dead_redis)
    try:
        marker = uuid.uuid4().hex
        p = Push("camera-jobs", push("camera-jobs", message(marker, job(marker))), "", marker)
        assert deliver(p) == 500  # Pub/Sub redelivers it
        assert [x for x in pull(subscriptions, 2.0) if p.owns(x.data, x.attributes)] == []
    finally:
        bootstrap.reset()
        bootstrap.bootstrap(services.settings)
