"""The Pub/Sub edge of the CloudEvent functions: decode, run, and decide the outcome.

* success: return (2xx, Pub/Sub acknowledges);
* a message that can never succeed (:class:`MessageRejectedError`): published to the route's
  dead-letter topic with a ``reason`` attribute, then acknowledged: never retried forever;
* a transient failure (:class:`DependencyUnavailableError`, anything unexpected): raised, so the
  function answers 500 and Pub/Sub redelivers (until the subscription's dead-letter policy).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shared.bootstrap import Services, bootstrap
from shared.entrypoints.edge import begin
from shared.errors import MessageRejectedError
from shared.messages.envelope import PubsubMessage, decode_pubsub, original_bytes
from shared.messages.topology import ROUTE_BY_TOPIC

log = logging.getLogger(__name__)


def handle_event(
    cloud_event: Any, topic: str, handler: Callable[[Services, PubsubMessage], Any]
) -> Any:
    """Run ``handler(services, message)``; dead-letter what can never succeed."""
    begin()
    services = bootstrap()
    data = cloud_event.data
    message: PubsubMessage | None = None
    try:
        message = decode_pubsub(cloud_event["type"], data)
        return handler(services, message)
    except MessageRejectedError as exc:
        route = ROUTE_BY_TOPIC[topic]
        raw = message.raw if message else original_bytes(data)
        message_id = message.message_id if message else str(cloud_event["id"])
        services.bus.publish_raw(
            route.dead_letter_topic,
            raw,
            reason=exc.message[:1024],
            source_topic=topic,
            source_message_id=message_id,
        )
        log.warning(
            "message rejected and dead-lettered",
            extra={"topic": topic, "message_id": message_id, "reason": exc.message},
        )
        return None
    except Exception as exc:
        log.warning(
            "message failed; Pub/Sub will redeliver it",
            extra={
                "topic": topic,
                "message_id": message.message_id if message else str(cloud_event["id"]),
                "kind": getattr(exc, "kind", type(exc).__name__),
                "error": str(exc)[:1024],
            },
        )
        raise
