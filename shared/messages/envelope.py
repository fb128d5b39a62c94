"""The one envelope helper: a Pub/Sub CloudEvent in, the decoded JSON message out; and the
dead letter of a message that can never succeed.

``decode_pubsub`` takes the CloudEvent's data, ``{"message": {...}}``, which is also the shape
of a Pub/Sub push body (``{"message": {...}, "subscription": ...}``), so the Pub/Sub edge
decodes a push that functions-framework could not convert with the same function.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import reprlib
from dataclasses import dataclass
from typing import Any

from shared.errors import InvalidJsonError, MessageRejectedError
from shared.messages.json_input import load_json
from shared.settings import get_settings

PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"
# Pub/Sub takes at most 10,000,000 bytes per publish request (data, attributes and framing):
# a dead letter keeps at most this much of the original, and says so in its attributes.
DEAD_LETTER_MAX_BYTES = 9 * 1024 * 1024
ATTRIBUTE_MAX_BYTES = 1024  # Pub/Sub's limit on an attribute value


@dataclass(frozen=True)
class PubsubMessage:
    """A decoded Pub/Sub message."""

    data: Any
    attributes: dict[str, str]
    message_id: str
    raw: bytes


@dataclass(frozen=True)
class DeadLetter:
    """What goes to a dead-letter topic: the original bytes (truncated if Pub/Sub could not
    take them) and attributes that say why and where from."""

    data: bytes
    attributes: dict[str, str]


def dead_letter(raw: bytes, reason: str, source_topic: str, message_id: str) -> DeadLetter:
    """The dead letter of a rejected message; attributes fit Pub/Sub's limits.

    A message over :data:`DEAD_LETTER_MAX_BYTES` keeps its first bytes, with
    ``original_size`` (bytes) and ``original_sha256`` (hex) of the whole.
    """
    attributes = {
        "reason": attribute(reason),
        "source_topic": source_topic,
        "source_message_id": attribute(message_id),
    }
    if len(raw) > DEAD_LETTER_MAX_BYTES:
        attributes |= {
            "original_size": str(len(raw)),
            "original_sha256": hashlib.sha256(raw).hexdigest(),
            "truncated": "true",
        }
        raw = raw[:DEAD_LETTER_MAX_BYTES]
    return DeadLetter(raw, attributes)


def attribute(text: str) -> str:
    """``text`` as a valid attribute value: UTF-8 (a lone surrogate becomes ``?``), cut to
    Pub/Sub's 1,024 bytes on a character boundary."""
    encoded = text.encode("utf-8", "replace")[:ATTRIBUTE_MAX_BYTES]
    return encoded.decode("utf-8", "ignore")


def original_bytes(data: Any) -> bytes:
    """Best effort: the message's own bytes, else the event data as JSON (for dead letters)."""
    try:
        return base64.b64decode(data["message"]["data"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError):
        pass
    try:
        return json.dumps(data, default=str).encode("utf-8", "replace")
    except (ValueError, RecursionError):
        return reprlib.repr(data).encode("utf-8", "replace")


def decode_pubsub(event_type: str, data: Any, max_depth: int | None = None) -> PubsubMessage:
    """Check the CloudEvent type, base64-decode ``message.data`` and parse it as JSON.

    A message without ``data`` (Pub/Sub omits it when a message has attributes only) or with
    empty data is ``{}``. ``max_depth`` defaults to ``CAMWATCH_MAX_JSON_DEPTH``.

    Raises:
        MessageRejectedError: wrong event type, no message, ``data`` not a base64 string,
            ``attributes`` not strings by strings, or data that is not strict JSON nested at
            most ``max_depth`` deep.
    """
    if event_type != PUBSUB_EVENT:
        raise MessageRejectedError(
            f"unexpected CloudEvent type {event_type!r}, want {PUBSUB_EVENT}"
        )
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise MessageRejectedError("the event has no Pub/Sub message object")
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    attributes = message.get("attributes")
    attributes = {} if attributes is None else attributes
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()
    ):
        raise MessageRejectedError(f"message {message_id}: attributes are not strings by name")
    encoded = message.get("data")
    encoded = "" if encoded is None else encoded
    if not isinstance(encoded, str):
        kind = type(encoded).__name__
        raise MessageRejectedError(f"message {message_id}: data is a {kind}, not base64 text")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageRejectedError(f"message {message_id}: data is not base64: {exc}") from exc
    depth = get_settings().max_json_depth if max_depth is None else max_depth
    try:
        payload = load_json(raw, depth) if raw else {}
    except InvalidJsonError as exc:
        raise MessageRejectedError(f"message {message_id}: data is {exc.message}") from exc
    return PubsubMessage(payload, dict(attributes), message_id, raw)
