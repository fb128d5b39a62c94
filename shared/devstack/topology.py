"""The topics and push subscriptions of ``shared.messages.topology``, in the Pub/Sub emulator."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.messages.topology import ROUTES

# Every call is bounded: a hung emulator becomes an error (and a clean stop), never a hang.
TIMEOUT_S = 15


def create_topology(project: str, emulator_host: str, urls: dict[str, str] | None = None) -> None:
    """Topics, dead-letter topics with pull subscriptions, and (given ``urls``) push ones."""
    saved = os.environ.get("PUBSUB_EMULATOR_HOST")
    os.environ["PUBSUB_EMULATOR_HOST"] = emulator_host  # the clients read it when created
    try:
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    finally:
        if saved is None:
            del os.environ["PUBSUB_EMULATOR_HOST"]
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = saved
    topic_path, sub_path = publisher.topic_path, subscriber.subscription_path
    for route in ROUTES:
        topic = topic_path(project, route.topic)
        dead = topic_path(project, route.dead_letter_topic)
        for path in (topic, dead):
            _ensure(publisher.create_topic, name=path)
        pull = sub_path(project, route.dead_letter_subscription)
        _ensure(subscriber.create_subscription, name=pull, topic=dead)
        if urls is None:
            continue  # no functions yet: topics and dead letters only
        # The path names the topic, so the CloudEvent's source does too.
        endpoint = f"{urls[route.function]}/projects/{project}/topics/{route.topic}"
        # No dead-letter policy here, unlike the cloud's (terraform/pubsub.tf): with one, the
        # emulator stops redelivering a failing push after a few tries and never dead-letters
        # it (docs/local-stack.md). camwatch counts failed deliveries itself and dead-letters
        # at max_delivery_attempts (shared/entrypoints/pubsub.py), in the cloud too.
        push = {
            "name": sub_path(project, route.subscription),
            "topic": topic,
            "ack_deadline_seconds": route.ack_deadline_s,
            "push_config": {"push_endpoint": endpoint},
            "retry_policy": {
                "minimum_backoff": timedelta(seconds=route.min_backoff_s),
                "maximum_backoff": timedelta(seconds=route.max_backoff_s),
            },
        }
        _ensure(subscriber.create_subscription, request=push)


def _ensure(create: Callable[..., object], **request: Any) -> None:
    """Create a topic or subscription unless it exists (bounded by ``TIMEOUT_S``)."""
    retry = gretry.Retry(
        predicate=gretry.if_exception_type(gexc.ServiceUnavailable, gexc.DeadlineExceeded),
        timeout=TIMEOUT_S,
    )
    with contextlib.suppress(gexc.AlreadyExists):
        create(**request, retry=retry, timeout=TIMEOUT_S)
