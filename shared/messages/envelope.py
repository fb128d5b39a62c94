"""The one envelope helper: a Pub/Sub CloudEvent in, the decoded JSON message out."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from shared.errors import MessageRejectedError

PUBSUB_EVENT = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class PubsubMessage:
    """A decoded Pub/Sub message."""

    data: Any
    attributes: dict[str, str]
    message_id: str
    raw: bytes


def original_bytes(data: Any) -> bytes:
    """Best effort: the message's own bytes, else the event data as JSON (for dead letters)."""
    try:
        return base64.b64decode(data["message"]["data"], validate=True)
    except (KeyError, TypeError, binascii.Error, ValueError):
        return json.dumps(data, default=str).encode()


def decode_pubsub(event_type: str, data: Any) -> PubsubMessage:
    """Check the CloudEvent type, base64-decode ``message.data`` and parse it as JSON.

    Raises:
        MessageRejectedError: wrong event type, no message, bad base64 or bad JSON.
    """
    if event_type != PUBSUB_EVENT:
        raise MessageRejectedError(
            f"unexpected CloudEvent type {event_type!r}, want {PUBSUB_EVENT}"
        )
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise MessageRejectedError("CloudEvent data has no Pub/Sub message")
    message_id = str(message.get("messageId") or message.get("message_id") or "")
    attributes = dict(message.get("attributes") or {})
    try:
        raw = base64.b64decode(message.get("data") or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageRejectedError(f"message {message_id}: data is not base64: {exc}") from exc
    try:
        payload = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MessageRejectedError(f"message {message_id}: data is not JSON: {exc}") from exc
    return PubsubMessage(payload, attributes, message_id, raw)
