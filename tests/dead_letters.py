"""Dead letters on the Pub/Sub emulator, for tests that check them.

A test pulls from pull subscriptions of its own (:func:`subscribe`), so it sees every dead
letter whoever else pulls. Its dead letters also reach the local stack's own pull
subscriptions (``<topic>-dead-letter-pull``, which other tests and ``make run`` read):
:func:`take_back` removes its own from there again and leaves the others'.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc  # type: ignore[import-untyped]
from google.api_core.exceptions import DeadlineExceeded
from google.cloud import pubsub_v1  # type: ignore[attr-defined]
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

from shared.devstack.stack import PROJECT
from shared.messages.topology import ROUTES, dead_letter_pull
from shared.settings import Settings


@dataclass(frozen=True)
class Letter:
    """A dead letter as pulled: the topic it was rejected from, its data and attributes."""

    topic: str
    data: bytes
    attributes: dict[str, str]


def subscriber_client() -> pubsub_v1.SubscriberClient:
    """A subscriber that takes messages over 4 MB (with the emulator, the client library
    opens a plain channel with gRPC's default limit)."""
    options = [("grpc.max_receive_message_length", -1)]
    channel = grpc.insecure_channel(Settings().pubsub_emulator_host or "", options=options)
    return pubsub_v1.SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))


@contextmanager
def subscribe() -> Iterator[dict[str, str]]:
    """A fresh pull subscription on each dead-letter topic, by source topic; deleted after."""
    subscriber = subscriber_client()
    paths = {}
    for route in ROUTES:
        topic = subscriber.topic_path(PROJECT, route.dead_letter_topic)
        name = f"test-{route.topic}-{uuid.uuid4().hex[:8]}"
        paths[route.topic] = subscriber.subscription_path(PROJECT, name)
        subscriber.create_subscription(name=paths[route.topic], topic=topic, timeout=15)
    try:
        yield paths
    finally:
        for path in paths.values():
            subscriber.delete_subscription(subscription=path, timeout=15)


def pull(
    subscriptions: dict[str, str], quiet_s: float = 3.0, keep: Callable[[Letter], bool] = bool
) -> list[Letter]:
    """Every dead letter until no new one comes for ``quiet_s``; those ``keep`` refuses are
    handed back at once (to whoever pulls next)."""
    subscriber = subscriber_client()
    got: list[Letter] = []
    seen: set[str] = set()
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < quiet_s:
        for topic, path in subscriptions.items():
            try:  # the emulator holds an empty pull until its deadline
                answer = subscriber.pull(subscription=path, max_messages=50, timeout=1)
            except DeadlineExceeded:
                continue
            ack, back = [], []
            for received in answer.received_messages:
                message = received.message
                if message.message_id not in seen:
                    seen.add(message.message_id)
                    quiet_since = time.monotonic()
                letter = Letter(topic, message.data, dict(message.attributes))
                if keep(letter):
                    ack.append(received.ack_id)
                    got.append(letter)
                else:
                    back.append(received.ack_id)
            if ack:
                subscriber.acknowledge(subscription=path, ack_ids=ack, timeout=10)
            if back:
                subscriber.modify_ack_deadline(
                    subscription=path, ack_ids=back, ack_deadline_seconds=0, timeout=10
                )
    return got


def take_back(owns: Callable[[Letter], bool]) -> None:
    """Remove the dead letters ``owns`` from the local stack's own pull subscriptions."""
    subscriber = subscriber_client()
    shared = {
        r.topic: subscriber.subscription_path(PROJECT, dead_letter_pull(r.dead_letter_topic))
        for r in ROUTES
    }
    pull(shared, quiet_s=1.0, keep=owns)
