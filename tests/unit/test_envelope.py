"""What a Pub/Sub push brings: the CloudEvent envelope decoded, the message checked by schema."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.errors import MessageRejectedError
from shared.messages.envelope import PUBSUB_EVENT, decode_pubsub, original_bytes
from shared.messages.schemas import validate


def envelope(data: bytes, message_id: str = "7") -> dict[str, Any]:
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": message_id,
            "attributes": {"k": "v"},
        }
    }


def test_decode_a_pubsub_event() -> None:
    message = decode_pubsub(PUBSUB_EVENT, envelope(b'{"camera_id": "cam-a"}'))
    assert message.data == {"camera_id": "cam-a"}
    assert message.message_id == "7"
    assert message.attributes == {"k": "v"}
    assert decode_pubsub(PUBSUB_EVENT, envelope(b"")).data == {}  # empty payload


@pytest.mark.parametrize(
    ("event_type", "data", "match"),
    [
        ("google.cloud.storage.object.v1.finalized", envelope(b"{}"), "unexpected CloudEvent type"),
        (PUBSUB_EVENT, {"nomessage": 1}, "no Pub/Sub message"),
        (PUBSUB_EVENT, {"message": {"data": "%%%", "messageId": "1"}}, "not base64"),
        (PUBSUB_EVENT, envelope(b"not json"), "not JSON"),
    ],
)
def test_malformed_events_are_rejected(event_type: str, data: Any, match: str) -> None:
    with pytest.raises(MessageRejectedError, match=match):
        decode_pubsub(event_type, data)


def test_original_bytes_for_dead_letters() -> None:
    assert original_bytes(envelope(b"not json")) == b"not json"
    assert json.loads(original_bytes({"odd": 1})) == {"odd": 1}


@pytest.mark.parametrize(
    ("schema", "payload", "match"),
    [
        (
            "camera_job",
            {"camera_id": "cam-a", "scheduled_at": "2026-01-01T00:00:00Z"},
            "'sweep_id' is a required property",
        ),
        (
            "camera_job",
            {"sweep_id": "s", "camera_id": "cam-a", "scheduled_at": "yesterday"},
            "scheduled_at",
        ),
        ("camera_sweep", {"cameras": []}, "cameras"),
        ("camera_sweep", {"cams": ["cam-a"]}, "Additional properties"),
    ],
)
def test_schema_violations(schema: str, payload: Any, match: str) -> None:
    with pytest.raises(MessageRejectedError, match=match):
        validate(schema, payload)
