"""The Pub/Sub edge of the CloudEvent functions: decode, run, and decide the outcome.

* success: return (2xx, Pub/Sub acknowledges);
* a message that can never succeed (:class:`MessageRejectedError`): published to the route's
  dead-letter topic with a ``reason`` attribute, then acknowledged: never retried forever;
* a transient failure (:class:`DependencyUnavailableError`, anything unexpected): raised, so the
  function answers 500 and Pub/Sub redelivers (until the subscription's dead-letter policy).

Pub/Sub retries every answer but a 2xx, a 4xx included. functions-framework turns a push body
into a CloudEvent before camwatch sees it, and it refuses some with 400 (a message with
attributes but no ``data``, which real Pub/Sub sends; a ``message`` that is not an object; no
``messageId``; a body that is not JSON) or fails with 500 (a body that is a JSON array or
string, nested too deep, or not UTF-8). Each CloudEvent function therefore registers
:func:`handle_unconverted` as its error handler: it decodes such a body itself, with the same
outcomes as above.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import flask
from werkzeug.exceptions import HTTPException

from shared.bootstrap import Services, bootstrap
from shared.entrypoints.edge import begin
from shared.errors import (
    DeliveryFailedError,
    DependencyUnavailableError,
    InvalidJsonError,
    MessageRejectedError,
)
from shared.messages.envelope import (
    PUBSUB_EVENT,
    PubsubMessage,
    dead_letter,
    decode_pubsub,
    original_bytes,
)
from shared.messages.json_input import load_json
from shared.messages.topology import ROUTE_BY_TOPIC
from shared.service_layer.idempotency import ATTEMPTS_S, attempts_key

log = logging.getLogger(__name__)
RIDE_OUT_FIRST_PAUSE_S = 0.5
RIDE_OUT_PAUSE_CAP_S = 4.0

Handler = Callable[[Services, PubsubMessage], Any]
# functions-framework's refusals of a push body it could not convert (400, or 415 for a
# Content-Type that is not JSON); any other HTTP error (405 for a GET) is answered as it is.
_UNCONVERTED = (400, 415)
_STARTED = "camwatch_event_started"  # on flask.g: handle_event ran for this request


def handle_event(cloud_event: Any, topic: str, handler: Handler) -> Any:
    """Run ``handler(services, message)``; dead-letter what can never succeed."""
    if flask.has_app_context():
        setattr(flask.g, _STARTED, True)
    begin()
    services = bootstrap()
    data = cloud_event.data

    def decode(depth: int) -> PubsubMessage:
        return decode_pubsub(cloud_event["type"], data, depth)

    return _run(services, topic, handler, decode, lambda: original_bytes(data), cloud_event["id"])


def handle_unconverted(exc: Exception, topic: str, handler: Handler) -> Any:
    """The error handler of a CloudEvent function (``functions_framework.errorhandler``).

    An error raised after :func:`handle_event` started is raised again (a transient failure:
    500). An HTTP error other than functions-framework's refusal of the body is answered as
    it is. Otherwise the push body never became a CloudEvent: it is decoded here, and run or
    dead-lettered as :func:`handle_event` would, with a 200 either way (a transient failure
    still raises: 500).
    """
    if flask.g.get(_STARTED, False):
        raise exc
    if isinstance(exc, HTTPException) and exc.code not in _UNCONVERTED:
        return exc
    begin()
    services = bootstrap()
    body = flask.request.get_data()

    def decode(depth: int) -> PubsubMessage:
        try:
            push = load_json(body, depth)
        except InvalidJsonError as error:
            raise MessageRejectedError(f"push body is {error.message}") from error
        return decode_pubsub(PUBSUB_EVENT, push, depth)

    log.warning(
        "functions-framework could not convert a push; decoded by camwatch",
        extra={"topic": topic, "error": f"{type(exc).__name__}: {str(exc)[:200]}"},
    )
    _run(services, topic, handler, decode, lambda: body, "")
    return flask.Response("OK", 200)


def _ride_out(services: Services, topic: str, handler: Handler, message: PubsubMessage) -> Any:
    """Handle the message, trying again inside this delivery while a dependency is down (for
    ``dependency_ride_out_s``) or an alert's receiver fails (``delivery_ride_out_s``): a short
    outage (a Redis failover, a restart, a receiver's bad minute) costs seconds, not a
    redelivery after Pub/Sub's backoff. Every handler is idempotent (claims), and the ride-out
    plus any dependency's worst case stays below the ack deadline
    (``tests/unit/test_deadlines.py``)."""
    settings = services.settings
    started, pause = time.monotonic(), RIDE_OUT_FIRST_PAUSE_S
    while True:
        try:
            return handler(services, message)
        except (DependencyUnavailableError, DeliveryFailedError) as exc:
            waited = time.monotonic() - started
            if isinstance(exc, DeliveryFailedError):
                budget, part = settings.delivery_ride_out_s, exc.channel
            else:
                budget, part = settings.dependency_ride_out_s, exc.dependency
            if waited + pause > budget:
                raise
            log.info(
                "dependency unavailable; trying again within this delivery",
                extra={
                    "topic": topic,
                    "message_id": message.message_id,
                    "dependency": part,
                    "error": str(exc)[:200],
                    "waited_s": round(waited, 1),
                },
            )
            time.sleep(pause)
            pause = min(2 * pause, RIDE_OUT_PAUSE_CAP_S)


def _run(
    services: Services,
    topic: str,
    handler: Handler,
    decode: Callable[[int], PubsubMessage],
    raw: Callable[[], bytes],
    event_id: Any,
) -> Any:
    """Decode and handle one message; dead-letter a rejected one, or one whose deliveries
    failed ``max_delivery_attempts`` times; raise anything else (Pub/Sub redelivers)."""
    message: PubsubMessage | None = None
    try:
        message = decode(services.settings.max_json_depth)
        return _ride_out(services, topic, handler, message)
    except MessageRejectedError as exc:
        message_id = message.message_id if message else str(event_id)
        _dead_letter(services, topic, message.raw if message else raw(), exc.message, message_id)
        log.warning(
            "message rejected and dead-lettered",
            extra={"topic": topic, "message_id": message_id, "reason": exc.message[:1024]},
        )
        return None
    except Exception as exc:
        message_id = message.message_id if message else str(event_id)
        kind = getattr(exc, "kind", type(exc).__name__)
        failed = _count_failure(services, topic, message_id) if message else None
        limit = ROUTE_BY_TOPIC[topic].max_delivery_attempts
        if message and failed is not None and failed >= limit:
            reason = f"{failed} deliveries failed; the last: {kind}: {exc}"
            _dead_letter(services, topic, message.raw, reason, message_id)
            log.warning(
                "message dead-lettered after its failed deliveries",
                extra={"topic": topic, "message_id": message_id, "reason": reason[:1024]},
            )
            return None
        log.warning(
            "message failed; Pub/Sub will redeliver it",
            extra={
                "topic": topic,
                "message_id": message_id,
                "kind": kind,
                "error": str(exc)[:1024],
                "failed_deliveries": failed,
            },
        )
        raise


def _count_failure(services: Services, topic: str, message_id: str) -> int | None:
    """This message's failed deliveries so far, this one included (None: Redis is down too;
    Pub/Sub's own dead-letter policy stays the backstop)."""
    try:
        return services.cache.count(attempts_key(topic, message_id), ATTEMPTS_S)
    except DependencyUnavailableError:
        return None


def _dead_letter(services: Services, topic: str, raw: bytes, reason: str, message_id: str) -> None:
    """Publish the message to its topic's dead-letter topic with ``reason`` (raises when
    Pub/Sub is down: the message is then redelivered, not lost)."""
    letter = dead_letter(raw, reason, topic, message_id)
    dead_topic = ROUTE_BY_TOPIC[topic].dead_letter_topic
    services.bus.publish_raw(dead_topic, letter.data, **letter.attributes)
