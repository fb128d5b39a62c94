"""Create the topics and push subscriptions of ``shared.topology`` in the Pub/Sub emulator."""

from __future__ import annotations

import os
from datetime import timedelta

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.topology import PLAIN_TOPICS, ROUTES

# Every call is bounded: a hung emulator becomes an error (and a clean stop), never a hang.
TIMEOUT_S = 15


def dead_letter_pull(topic: str) -> str:
    """The pull subscription on a dead-letter topic (for the summary and the tests)."""
    return f"{topic}-pull"


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
    for name in PLAIN_TOPICS:  # pull-only until their push route exists
        for topic in (name, f"{name}-dead-letter"):
            path = publisher.topic_path(project, topic)
            try:
                publisher.create_topic(name=path, timeout=TIMEOUT_S)
            except gexc.AlreadyExists:
                pass
        try:
            subscriber.create_subscription(
                name=subscriber.subscription_path(project, f"{name}-pull"),
                topic=publisher.topic_path(project, name),
                timeout=TIMEOUT_S,
            )
        except gexc.AlreadyExists:
            pass
    for route in ROUTES:
        topic = publisher.topic_path(project, route.topic)
        route_path = f"/projects/{project}/topics/{route.topic}"
        dead = publisher.topic_path(project, route.dead_letter_topic)
        for path in (topic, dead):
            try:
                publisher.create_topic(name=path, timeout=TIMEOUT_S)
            except gexc.AlreadyExists:
                pass
        subscriptions = [
            {
                "name": subscriber.subscription_path(
                    project, dead_letter_pull(route.dead_letter_topic)
                ),
                "topic": dead,
            },
            {
                "name": subscriber.subscription_path(project, route.subscription),
                "topic": topic,
                "ack_deadline_seconds": route.ack_deadline_s,
                # The path names the topic, so the CloudEvent's source does too.
                "push_config": {"push_endpoint": f"{(urls or {}).get(route.function)}{route_path}"},
                "dead_letter_policy": {
                    "dead_letter_topic": dead,
                    "max_delivery_attempts": route.max_delivery_attempts,
                },
                "retry_policy": {
                    "minimum_backoff": timedelta(seconds=route.min_backoff_s),
                    "maximum_backoff": timedelta(seconds=route.max_backoff_s),
                },
            },
        ]
        if urls is None:
            subscriptions = subscriptions[:1]  # no functions yet: topics and dead letters only
        for request in subscriptions:
            try:
                subscriber.create_subscription(request=request, timeout=TIMEOUT_S)
            except gexc.AlreadyExists:
                pass
