"""Hostile Pub/Sub push deliveries and the outcome each must get (issue 12, items 4 and 8).

A push subscription POSTs ``{"message": {...}, "subscription": ...}`` as ``application/json``
to ``<function URL>/projects/<project>/topics/<topic>`` (``shared/devstack/topology.py`` and
``terraform/pubsub.tf``); functions-framework turns that into a CloudEvent. ``PUSHES`` holds
those bodies, well formed and not, and the unit tier (fakes) and the integration tier (the
Pub/Sub emulator, Redis and the rest of the local stack) both run them.

Every case carries a fresh ``marker`` (32 hex digits): the message id, and the sweep or
violation id where the payload has one, so that its dead letter, row or webhook is its own.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

PROJECT = "camwatch-local"
PROCESSED, DEAD_LETTER = "processed", "dead letter"
KNOWN = "cam-021-offline"  # registered; its frames never come (a health row, no model)
UNKNOWN = "cam-404-nowhere"
DROP = object()  # a key to leave out of a message
TWELVE_MB = 12_000_000


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


def _cases() -> list[tuple[str, Push]]:
    cases: list[tuple[str, Push]] = []

    def add(name: str, topic: str, make: Any, outcome: str, note: str, **kw: Any) -> None:
        """A case; ``note`` is the dead letter's reason, or what processing leaves."""
        marker = uuid.uuid4().hex
        reason, effect = (note, "") if outcome == DEAD_LETTER else ("", note)
        cases.append((name, Push(topic, make(marker), outcome, marker, reason, effect, **kw)))

    jobs, alerts, sweeps = "camera-jobs", "violations", "camera-sweep"

    def jobs_push(data: Any = None, payload: Any = DROP, **change: Any) -> Any:
        """A camera-jobs push whose data is ``data``, or the JSON of ``payload``, or a job."""

        def make(m: str) -> bytes:
            chosen = (
                data
                if data is not None
                else (job(m) if payload is DROP else json.dumps(payload).encode())
            )
            return push(jobs, message(m, chosen(m) if callable(chosen) else chosen, **change))

        return make

    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    # Well-formed jobs: processed once (a health row), or dropped as expired.
    add("job", jobs, jobs_push(), PROCESSED, "row")
    add(
        "job-lowercase-t-z",
        jobs,
        jobs_push(lambda m: job(m, scheduled_at=datetime.now(UTC).strftime("%Y-%m-%dt%H:%M:%Sz"))),
        PROCESSED,
        "row",
    )
    add(
        "job-lowercase-t-z-an-hour-old",
        jobs,
        jobs_push(lambda m: job(m, scheduled_at=hour_ago.strftime("%Y-%m-%dt%H:%M:%Sz"))),
        PROCESSED,
        "dropped",
    )
    add("job-no-message-id", jobs, jobs_push(messageId=DROP, message_id=DROP), PROCESSED, "row")
    add(
        "job-no-publish-time",
        jobs,
        jobs_push(publishTime=DROP, publish_time=DROP),
        PROCESSED,
        "row",
    )
    add("job-text-plain", jobs, jobs_push(), PROCESSED, "row", content_type="text/plain")
    add(
        "job-structured-cloudevent",
        jobs,
        lambda m: cloudevent(m, jobs, "google.cloud.pubsub.topic.v1.messagePublished", job(m)),
        PROCESSED,
        "row",
        content_type="application/cloudevents+json",
    )
    # Payloads that break the schema, or name a camera nobody registered.
    add(
        "job-no-offset",
        jobs,
        jobs_push(lambda m: job(m, scheduled_at="2026-11-29T16:21:14")),
        DEAD_LETTER,
        "scheduled_at",
    )
    add(
        "job-leap-second",
        jobs,
        jobs_push(lambda m: job(m, scheduled_at="2026-12-31T23:59:60Z")),
        DEAD_LETTER,
        "scheduled_at",
    )
    add(
        "job-unknown-camera",
        jobs,
        jobs_push(lambda m: job(m, camera_id=UNKNOWN)),
        DEAD_LETTER,
        f"unknown camera '{UNKNOWN}'",
    )
    add(
        "job-no-sweep-id",
        jobs,
        jobs_push(lambda m: job(m, sweep_id=DROP)),
        DEAD_LETTER,
        "'sweep_id' is a required property",
    )
    add(
        "job-extra-field",
        jobs,
        jobs_push(lambda m: job(m, priority=1)),
        DEAD_LETTER,
        "Additional properties",
    )
    add(
        "job-multibyte-reason",
        jobs,
        jobs_push(lambda m: job(m, sweep_id="é" * 900)),
        DEAD_LETTER,
        "camera_job.sweep_id",
    )
    add(
        "job-lone-surrogate-reason",
        jobs,
        jobs_push(lambda m: job(m, camera_id="\ud800" * 9)),
        DEAD_LETTER,
        "camera_job.camera_id",
    )
    add("payload-array", jobs, jobs_push(payload=[1]), DEAD_LETTER, "is not of type 'object'")
    add("payload-string", jobs, jobs_push(payload="job"), DEAD_LETTER, "is not of type")
    add("payload-null", jobs, jobs_push(payload=None), DEAD_LETTER, "is not of type")
    # message.data that is not base64 of strict, shallow JSON.
    add("data-not-json", jobs, jobs_push(b"not json at all"), DEAD_LETTER, "data is not JSON")
    add("data-bad-base64", jobs, jobs_push("%%%"), DEAD_LETTER, "not base64")
    add("data-not-utf8", jobs, jobs_push(b"\xff\xfe{}"), DEAD_LETTER, "utf-8")
    add("data-nan", jobs, jobs_push(b'{"a": NaN}'), DEAD_LETTER, "NaN")
    add("data-5000-digits", jobs, jobs_push(b"1" * 5000), DEAD_LETTER, "digits")
    add(
        "data-100000-deep",
        jobs,
        jobs_push(b"[" * 100_000 + b"]" * 100_000),
        DEAD_LETTER,
        "nested more than 32 deep",
    )
    add("data-33-deep", jobs, jobs_push(nested(33)), DEAD_LETTER, "nested more than 32 deep")
    add("data-empty", jobs, jobs_push(""), DEAD_LETTER, "'sweep_id' is a required property")
    add(
        "data-absent",
        jobs,
        jobs_push(data=DROP, attributes={"k": "v"}),
        DEAD_LETTER,
        "'sweep_id' is a required property",
    )
    add("data-number", jobs, jobs_push(5), DEAD_LETTER, "data is a int")
    add("data-list", jobs, jobs_push([1]), DEAD_LETTER, "data is a list")
    add("data-object", jobs, jobs_push({"a": 1}), DEAD_LETTER, "data is a dict")
    add("data-12mb", jobs, jobs_push(b"x" * TWELVE_MB), DEAD_LETTER, "data is not JSON")
    # attributes that are not strings by name.
    add("attributes-list", jobs, jobs_push(attributes=["x"]), DEAD_LETTER, "attributes")
    add("attributes-string", jobs, jobs_push(attributes="x"), DEAD_LETTER, "attributes")
    add("attributes-number", jobs, jobs_push(attributes={"a": 1}), DEAD_LETTER, "attributes")
    # Push bodies functions-framework cannot convert (it answered 400 or 500 before camwatch).
    add(
        "message-string",
        jobs,
        lambda m: push(jobs, f"data messageId {m}"),
        DEAD_LETTER,
        "no Pub/Sub message",
    )
    add(
        "message-list",
        jobs,
        lambda m: push(jobs, ["data", "messageId", m]),
        DEAD_LETTER,
        "no Pub/Sub message",
    )
    add("message-null", jobs, lambda m: push(jobs, None, id=m), DEAD_LETTER, "no Pub/Sub message")
    add(
        "message-absent",
        jobs,
        lambda m: json.dumps({"marker": m}).encode(),
        DEAD_LETTER,
        "no Pub/Sub message",
    )
    add("body-array", jobs, lambda m: json.dumps([m]).encode(), DEAD_LETTER, "no Pub/Sub message")
    add("body-string", jobs, lambda m: json.dumps(m).encode(), DEAD_LETTER, "no Pub/Sub message")
    add(
        "body-context-number",
        jobs,
        lambda m: json.dumps({"context": 1, "data": m}).encode(),
        DEAD_LETTER,
        "no Pub/Sub message",
    )
    add("body-empty", jobs, lambda m: b"", DEAD_LETTER, "push body is not JSON")
    add(
        "body-invalid-json",
        jobs,
        lambda m: b'{"m": "' + m.encode(),
        DEAD_LETTER,
        "push body is not JSON",
    )
    add(
        "body-not-utf8",
        jobs,
        lambda m: b'{"m": "' + m.encode() + b'\xff"}',
        DEAD_LETTER,
        "push body is not JSON",
    )
    add(
        "body-100000-deep",
        jobs,
        lambda m: b'{"m": "%s", "x": %s}' % (m.encode(), b"[" * 100_000 + b"]" * 100_000),
        DEAD_LETTER,
        "nested more than 32 deep",
    )
    add(
        "body-5000-digit-message-id",
        jobs,
        lambda m: (
            b'{"message": {"messageId": %s, "data": '
            b'""}, "subscription": "%s"}' % (b"1" * 5000, m.encode())
        ),
        DEAD_LETTER,
        "push body is not JSON",
    )
    add(
        "cloudevent-wrong-type",
        jobs,
        lambda m: cloudevent(m, jobs, "google.cloud.storage.object.v1.finalized", job(m)),
        DEAD_LETTER,
        "unexpected CloudEvent type",
        content_type="application/cloudevents+json",
    )
    # violations (item 8): only cameras of the registry are alerted.
    add("violation", alerts, lambda m: push(alerts, message(m, violation(m))), PROCESSED, "webhook")
    add(
        "violation-lowercase-t-z",
        alerts,
        lambda m: push(
            alerts,
            message(m, violation(m, event_time=datetime.now(UTC).strftime("%Y-%m-%dt%H:%M:%Sz"))),
        ),
        PROCESSED,
        "webhook",
    )
    add(
        "violation-unknown-camera",
        alerts,
        lambda m: push(alerts, message(m, violation(m, camera_id=UNKNOWN))),
        DEAD_LETTER,
        f"unknown camera '{UNKNOWN}'",
    )
    add(
        "violation-confidence-7",
        alerts,
        lambda m: push(alerts, message(m, violation(m, confidence=7))),
        DEAD_LETTER,
        "7 is greater than the maximum of 1",
    )
    add(
        "violation-confidence-nan",
        alerts,
        lambda m: push(alerts, message(m, violation(m).replace(b"0.95", b"NaN"))),
        DEAD_LETTER,
        "NaN",
    )
    add(
        "violation-no-offset",
        alerts,
        lambda m: push(alerts, message(m, violation(m, event_time="2026-11-29T16:21:14"))),
        DEAD_LETTER,
        "event_time",
    )
    # camera-sweep: a whole sweep would touch every camera of the local stack: unit tier only.
    add(
        "sweep-unknown-camera",
        sweeps,
        lambda m: push(
            sweeps, message(m, json.dumps({"sweep_id": f"s-{m}", "cameras": [UNKNOWN]}).encode())
        ),
        DEAD_LETTER,
        f"unknown cameras: ['{UNKNOWN}']",
    )
    add(
        "sweep-empty-object",
        sweeps,
        lambda m: push(sweeps, message(m, b"{}")),
        PROCESSED,
        "jobs",
        unit_only=True,
    )
    add(
        "sweep-data-empty",
        sweeps,
        lambda m: push(sweeps, message(m, b"")),
        PROCESSED,
        "jobs",
        unit_only=True,
    )
    add(
        "sweep-data-absent",
        sweeps,
        lambda m: push(sweeps, message(m, DROP, attributes={"origin": "scheduler"})),
        PROCESSED,
        "jobs",
        unit_only=True,
    )
    return cases


PUSHES = _cases()
