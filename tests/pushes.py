"""Pub/Sub push deliveries for tests: the bodies, well formed or not, and their outcome.

A push subscription POSTs ``{"message": {...}, "subscription": ...}`` as ``application/json``
to ``<function URL>/projects/<project>/topics/<topic>`` (``shared/devstack/topology.py`` and
``terraform/pubsub.tf``); functions-framework turns that into a CloudEvent. These helpers build
such bodies; ``tests/push_cases.py`` holds the hostile ones (issue 12, items 4 and 8).

Every case carries a fresh ``marker`` (32 hex digits): the message id, and the sweep or
violation id where the payload has one, so that its dead letter, row or webhook is its own.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PROJECT = "camwatch-local"
PROCESSED, DEAD_LETTER = "processed", "dead letter"
# A camera the tests register beside the real ones (no other test reads its rows); nothing
# listens at its source, so a job gives a health row and runs no model.
KNOWN = "cam-900-hostile-offline"
KNOWN_SOURCE = "http://127.0.0.1:9/hostile.jpg"
UNKNOWN = "cam-404-nowhere"
DROP = object()  # a key to leave out of a message
TWELVE_MB = 12_000_000
PUBSUB = "google.cloud.pubsub.topic.v1.messagePublished"
STORAGE = "google.cloud.storage.object.v1.finalized"
NO_MESSAGE = "no Pub/Sub message"


@dataclass(frozen=True)
class Push:
    """One delivery to a push endpoint and its defined outcome."""

    topic: str
    body: bytes
    outcome: str  # PROCESSED or DEAD_LETTER; transient failures are tested on their own
    marker: str
    reason: str = ""  # DEAD_LETTER: a piece of the dead letter's ``reason`` attribute
    effect: str = ""  # PROCESSED: "row", "dropped" (an expired job), "webhook" or "jobs"
    content_type: str = "application/json"
    unit_only: bool = False  # would touch shared state of the local stack (a whole sweep)

    def owns(self, data: bytes, attributes: dict[str, str]) -> bool:
        """Whether a dead letter is this case's: by its message id, or the marker in its data."""
        if self.marker == attributes.get("source_message_id"):
            return True
        if not self.body:  # an empty push: an empty dead letter without a message id
            return not data and not attributes.get("source_message_id")
        return self.marker.encode() in data

    @property
    def path(self) -> str:
        """Where the push subscription posts."""
        return f"/projects/{PROJECT}/topics/{self.topic}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def message(marker: str, data: Any, **change: Any) -> dict[str, Any]:
    """A Pub/Sub message as a push carries it (``data`` bytes are base64-encoded)."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields: dict[str, Any] = {
        "data": b64(data) if isinstance(data, bytes) else data,
        "attributes": {},
        "messageId": marker,
        "message_id": marker,
        "publishTime": now,
        "publish_time": now,
        **change,
    }
    return {k: v for k, v in fields.items() if v is not DROP}


def push(topic: str, body: Any, **extra: Any) -> bytes:
    """A push body: the message (or whatever stands in for it) and the subscription."""
    subscription = f"projects/{PROJECT}/subscriptions/{topic}-push"
    return json.dumps({"message": body, "subscription": subscription, **extra}).encode()


def job(marker: str, **change: Any) -> bytes:
    """A camera job (a fresh one of ``KNOWN`` unless changed) as JSON bytes."""
    fields = {
        "sweep_id": f"s-{marker}",
        "camera_id": KNOWN,
        "scheduled_at": datetime.now(UTC).isoformat(),
        **change,
    }
    return json.dumps({k: v for k, v in fields.items() if v is not DROP}).encode()


def violation(marker: str, **change: Any) -> bytes:
    """A HIGH violation of ``KNOWN`` unless changed, as JSON bytes."""
    fields = {
        "violation_id": marker,
        "camera_id": KNOWN,
        "event_time": datetime.now(UTC).isoformat(),
        "type": "bus_lane",
        "zone": "lane",
        "class_name": "car",
        "confidence": 0.95,
        "box": {"x1": 1, "y1": 2, "x2": 30, "y2": 40},
        "observation_id": "o" * 32,
        "evidence_uri": f"gs://camwatch-demo-frames/evidence/{KNOWN}/{marker}.jpg",
        "sweep_id": None,
        **change,
    }
    return json.dumps(fields).encode()


def cloudevent(marker: str, topic: str, event_type: str, data: bytes) -> bytes:
    """A structured CloudEvent (``application/cloudevents+json``), as Eventarc sends it."""
    return json.dumps(
        {
            "specversion": "1.0",
            "type": event_type,
            "id": marker,
            "datacontenttype": "application/json",
            "source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/{topic}",
            "data": {"message": message(marker, data)},
        }
    ).encode()


def nested(depth: int) -> bytes:
    return b'{"a": ' * (depth - 1) + b"{}" + b"}" * (depth - 1)


Build = Callable[[str], bytes]  # the marker in, the push body out
JOBS, ALERTS, SWEEPS = "camera-jobs", "violations", "camera-sweep"


def to(topic: str, data: Any = None, **change: Any) -> Build:
    """A push to ``topic`` of ``data``: bytes, another JSON value (as ``message.data``), a
    function of the marker, or by default a fresh job or violation; ``change`` edits the
    message (``DROP`` leaves a key out)."""

    def build(marker: str) -> bytes:
        chosen = data if data is not None else (violation if topic == ALERTS else job)
        return push(
            topic, message(marker, chosen(marker) if callable(chosen) else chosen, **change)
        )

    return build


def with_job(**change: Any) -> Build:
    return lambda m: job(m, **change)


def with_violation(**change: Any) -> Build:
    return lambda m: violation(m, **change)


def lowercase(moment: datetime) -> str:
    """An RFC 3339 date-time with a lowercase ``t`` and ``z``, as the issue's job had."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dt%H:%M:%Sz")
