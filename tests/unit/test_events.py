"""Envelope decoding, message schemas, the sweep fan-out and the idempotent worker."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.errors import DependencyUnavailableError, FrameTimeoutError, MessageRejectedError
from shared.messages.envelope import PUBSUB_EVENT, PubsubMessage, decode_pubsub, original_bytes
from shared.messages.schemas import validate
from shared.messages.topology import ROUTES
from shared.service_layer.camera_job import handle_job
from shared.service_layer.sweep import fan_out
from tests.conftest import jpeg
from tests.unit.fakes import FakeBus, registry_of, rig

REGISTRY = registry_of(
    {"id": "cam-a", "source": "http://a/1.jpg"},
    {"id": "cam-b", "source": "http://b/1.jpg"},
)


def envelope(data: bytes, message_id: str = "7") -> dict[str, Any]:
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "messageId": message_id,
            "attributes": {"k": "v"},
        }
    }


def msg(payload: Any, message_id: str = "7") -> PubsubMessage:
    raw = json.dumps(payload).encode()
    return PubsubMessage(payload, {}, message_id, raw)


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


def test_sweep_fans_out_every_camera_or_a_subset() -> None:
    bus = FakeBus()
    assert fan_out(msg({}, "42"), REGISTRY, bus) == 2
    assert [(t, p["camera_id"], p["sweep_id"]) for t, p, _ in bus.sent] == [
        ("camera-jobs", "cam-a", "sweep-42"),
        ("camera-jobs", "cam-b", "sweep-42"),
    ]
    bus.sent.clear()
    assert fan_out(msg({"sweep_id": "s1", "cameras": ["cam-b"]}), REGISTRY, bus) == 1
    assert bus.sent[0][1]["camera_id"] == "cam-b"
    assert bus.sent[0][2] == {"sweep_id": "s1"}
    with pytest.raises(MessageRejectedError, match="unknown cameras"):
        fan_out(msg({"cameras": ["cam-zzz"]}), REGISTRY, bus)


@pytest.fixture
def worker_parts():
    r = rig(
        REGISTRY, {"http://a/1.jpg": jpeg("car1.jpg"), "http://b/1.jpg": FrameTimeoutError("t")}
    )
    return r.processor, r.cache, r.warehouse


def job(camera_id: str, sweep_id: str = "s1", age_s: float = 5) -> PubsubMessage:
    scheduled = (datetime.now(UTC) - timedelta(seconds=age_s)).isoformat()
    return msg({"sweep_id": sweep_id, "camera_id": camera_id, "scheduled_at": scheduled})


def test_worker_processes_once_per_sweep(worker_parts) -> None:
    processor, cache, warehouse = worker_parts
    assert handle_job(job("cam-a"), processor, cache) == "processed"
    assert handle_job(job("cam-a"), processor, cache) == "duplicate"  # a redelivery
    assert len(warehouse.rows["observations"]) == 1
    assert warehouse.rows["observations"][0]["sweep_id"] == "s1"
    assert handle_job(job("cam-b"), processor, cache) == "timeout"  # health row, not retried
    assert [r["frame_status"] for r in warehouse.rows["observations"]] == ["ok", "timeout"]
    # The next sweep sees the same frame: a cache hit, still one row for that sweep.
    assert handle_job(job("cam-a", "s9"), processor, cache) == "processed"
    last = warehouse.rows["observations"][-1]
    assert (last["sweep_id"], last["cache_status"]) == ("s9", "hit")
    assert len(warehouse.rows["observations"]) == 3


def test_expired_job_is_dropped_not_processed(worker_parts) -> None:
    processor, cache, warehouse = worker_parts
    assert (
        handle_job(job("cam-a", age_s=processor.settings.max_job_age_s + 1), processor, cache)
        == "expired"
    )
    assert "observations" not in warehouse.rows
    assert handle_job(job("cam-a", age_s=60), processor, cache) == "processed"


def test_worker_rejects_unknown_and_retries_transient(worker_parts) -> None:
    processor, cache, warehouse = worker_parts
    with pytest.raises(MessageRejectedError, match="unknown camera"):
        handle_job(job("cam-zzz"), processor, cache)
    warehouse.fail_next = 1
    with pytest.raises(DependencyUnavailableError):
        handle_job(job("cam-a", "s2"), processor, cache)
    assert handle_job(job("cam-a", "s2"), processor, cache) == "processed"  # the redelivery


def test_every_route_has_a_dead_letter_topic_and_bounded_retries() -> None:
    for route in ROUTES:
        assert route.dead_letter_topic == f"{route.topic}-dead-letter"
        assert 5 <= route.max_delivery_attempts <= 100  # Pub/Sub's allowed range
        assert 0 < route.min_backoff_s <= route.max_backoff_s <= 600
