"""The hostile pushes and the outcome each must get (issue 12, items 4 and 8), built with
``tests/pushes.py``; the unit tier (fakes) and the integration tier (the Pub/Sub emulator and
the local stack) both run the table."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.pushes import (
    ALERTS,
    DEAD_LETTER,
    DROP,
    JOBS,
    NO_MESSAGE,
    PROCESSED,
    PUBSUB,
    STORAGE,
    SWEEPS,
    TWELVE_MB,
    UNKNOWN,
    Build,
    Push,
    cloudevent,
    job,
    lowercase,
    nested,
    push,
    to,
    violation,
    with_job,
    with_violation,
)

P, D = PROCESSED, DEAD_LETTER


def case(name: str, topic: str, build: Build, outcome: str, note: str, **kw: Any) -> Any:
    """A table row; ``note`` is the dead letter's reason, or what processing leaves."""
    marker = uuid.uuid4().hex
    reason, effect = (note, "") if outcome == D else ("", note)
    return name, Push(topic, build(marker), outcome, marker, reason, effect, **kw)


NOW = datetime.now(UTC)
DEEP = b"[" * 100_000 + b"]" * 100_000
CE = "application/cloudevents+json"
PUSHES: list[tuple[str, Push]] = [
    # Well-formed jobs: processed once (a camera-health row), or dropped as expired.
    case("job", JOBS, to(JOBS), P, "row"),
    case("job-lowercase-t-z", JOBS, to(JOBS, with_job(scheduled_at=lowercase(NOW))), P, "row"),
    case(
        "job-lowercase-t-z-an-hour-old",
        JOBS,
        to(JOBS, with_job(scheduled_at=lowercase(NOW - timedelta(hours=1)))),
        P,
        "dropped",
    ),
    case("job-no-message-id", JOBS, to(JOBS, messageId=DROP, message_id=DROP), P, "row"),
    case("job-no-publish-time", JOBS, to(JOBS, publishTime=DROP, publish_time=DROP), P, "row"),
    case("job-text-plain", JOBS, to(JOBS), P, "row", content_type="text/plain"),
    case(
        "job-structured-cloudevent",
        JOBS,
        lambda m: cloudevent(m, JOBS, PUBSUB, job(m)),
        P,
        "row",
        content_type=CE,
    ),
    # Payloads that break the schema, or name a camera nobody registered.
    case(
        "job-no-offset",
        JOBS,
        to(JOBS, with_job(scheduled_at="2026-11-29T16:21:14")),
        D,
        "scheduled_at",
    ),
    case(
        "job-leap-second",
        JOBS,
        to(JOBS, with_job(scheduled_at="2026-12-31T23:59:60Z")),
        D,
        "scheduled_at",
    ),
    case(
        "job-unknown-camera",
        JOBS,
        to(JOBS, with_job(camera_id=UNKNOWN)),
        D,
        f"unknown camera '{UNKNOWN}'",
    ),
    case(
        "job-no-sweep-id",
        JOBS,
        to(JOBS, with_job(sweep_id=DROP)),
        D,
        "'sweep_id' is a required property",
    ),
    case("job-extra-field", JOBS, to(JOBS, with_job(priority=1)), D, "Additional properties"),
    case(
        "job-multibyte-reason",
        JOBS,
        to(JOBS, with_job(sweep_id="é" * 900)),
        D,
        "camera_job.sweep_id",
    ),
    case(
        "job-lone-surrogate",
        JOBS,
        to(JOBS, with_job(camera_id="\ud800" * 9)),
        D,
        "camera_job.camera_id",
    ),
    case("payload-array", JOBS, to(JOBS, b"[1]"), D, "is not of type 'object'"),
    case("payload-string", JOBS, to(JOBS, b'"job"'), D, "is not of type 'object'"),
    case("payload-null", JOBS, to(JOBS, b"null"), D, "is not of type 'object'"),
    # message.data that is not base64 of strict, shallow JSON.
    case("data-not-json", JOBS, to(JOBS, b"not json at all"), D, "data is not JSON"),
    case("data-bad-base64", JOBS, to(JOBS, "%%%"), D, "not base64"),
    case("data-not-utf8", JOBS, to(JOBS, b"\xff\xfe{}"), D, "utf-8"),
    case("data-nan", JOBS, to(JOBS, b'{"a": NaN}'), D, "NaN"),
    case("data-5000-digits", JOBS, to(JOBS, b"1" * 5000), D, "4300 digits"),
    case("data-100000-deep", JOBS, to(JOBS, DEEP), D, "nested more than 32 deep"),
    case("data-33-deep", JOBS, to(JOBS, nested(33)), D, "nested more than 32 deep"),
    case("data-empty", JOBS, to(JOBS, ""), D, "'sweep_id' is a required property"),
    case(
        "data-absent",
        JOBS,
        to(JOBS, DROP, attributes={"k": "v"}),
        D,
        "'sweep_id' is a required property",
    ),
    case("data-number", JOBS, to(JOBS, 5), D, "data is a int"),
    case("data-list", JOBS, to(JOBS, [1]), D, "data is a list"),
    case("data-object", JOBS, to(JOBS, {"a": 1}), D, "data is a dict"),
    case("data-12mb", JOBS, to(JOBS, b"x" * TWELVE_MB), D, "data is not JSON"),
    # attributes that are not strings by name.
    case("attributes-list", JOBS, to(JOBS, attributes=["x"]), D, "attributes"),
    case("attributes-string", JOBS, to(JOBS, attributes="x"), D, "attributes"),
    case("attributes-number", JOBS, to(JOBS, attributes={"a": 1}), D, "attributes"),
    # Push bodies functions-framework cannot convert (it answered 400 or 500 before camwatch).
    case("message-string", JOBS, lambda m: push(JOBS, f"data messageId {m}"), D, NO_MESSAGE),
    case("message-list", JOBS, lambda m: push(JOBS, ["data", "messageId", m]), D, NO_MESSAGE),
    case("message-null", JOBS, lambda m: push(JOBS, None, id=m), D, NO_MESSAGE),
    case("message-absent", JOBS, lambda m: json.dumps({"id": m}).encode(), D, NO_MESSAGE),
    case("body-array", JOBS, lambda m: json.dumps([m]).encode(), D, NO_MESSAGE),
    case("body-string", JOBS, lambda m: json.dumps(m).encode(), D, NO_MESSAGE),
    case(
        "body-context-number",
        JOBS,
        lambda m: json.dumps({"context": 1, "data": m}).encode(),
        D,
        NO_MESSAGE,
    ),
    case("body-empty", JOBS, lambda m: b"", D, "push body is not JSON"),
    case("body-invalid-json", JOBS, lambda m: b'{"m": "' + m.encode(), D, "push body is not JSON"),
    case(
        "body-not-utf8", JOBS, lambda m: b'{"m": "%s\xff"}' % m.encode(), D, "push body is not JSON"
    ),
    case(
        "body-100000-deep",
        JOBS,
        lambda m: b'{"m": "%s", "x": %s}' % (m.encode(), DEEP),
        D,
        "nested more than 32 deep",
    ),
    case(
        "body-5000-digit-message-id",
        JOBS,
        lambda m: b'{"message": {"messageId": %s}, "m": "%s"}' % (b"1" * 5000, m.encode()),
        D,
        "4300 digits",
    ),
    case(
        "cloudevent-wrong-type",
        JOBS,
        lambda m: cloudevent(m, JOBS, STORAGE, job(m)),
        D,
        "unexpected CloudEvent type",
        content_type=CE,
    ),
    # violations (item 8): only cameras of the registry are alerted.
    case("violation", ALERTS, to(ALERTS), P, "webhook"),
    case(
        "violation-lowercase-t-z",
        ALERTS,
        to(ALERTS, with_violation(event_time=lowercase(NOW))),
        P,
        "webhook",
    ),
    case(
        "violation-unknown-camera",
        ALERTS,
        to(ALERTS, with_violation(camera_id=UNKNOWN)),
        D,
        f"unknown camera '{UNKNOWN}'",
    ),
    case(
        "violation-confidence-7",
        ALERTS,
        to(ALERTS, with_violation(confidence=7)),
        D,
        "7 is greater than the maximum of 1",
    ),
    case(
        "violation-confidence-nan",
        ALERTS,
        to(ALERTS, lambda m: violation(m).replace(b"0.95", b"NaN")),
        D,
        "NaN",
    ),
    case(
        "violation-no-offset",
        ALERTS,
        to(ALERTS, with_violation(event_time="2026-11-29T16:21:14")),
        D,
        "event_time",
    ),
    # camera-sweep: a whole sweep would touch every camera of the local stack: unit tier only.
    case(
        "sweep-unknown-camera",
        SWEEPS,
        to(SWEEPS, lambda m: json.dumps({"sweep_id": f"s-{m}", "cameras": [UNKNOWN]}).encode()),
        D,
        f"unknown cameras: ['{UNKNOWN}']",
    ),
    case("sweep-empty-object", SWEEPS, to(SWEEPS, b"{}"), P, "jobs", unit_only=True),
    case("sweep-data-empty", SWEEPS, to(SWEEPS, ""), P, "jobs", unit_only=True),
    case(
        "sweep-data-absent",
        SWEEPS,
        to(SWEEPS, DROP, attributes={"origin": "scheduler"}),
        P,
        "jobs",
        unit_only=True,
    ),
]
