"""System alerts and subscribers on the local stack: a camera goes dark and comes back, the
monitor (ticked through Pub/Sub as Cloud Scheduler does) raises and resolves ``camera.offline``
once each, and each subscriber gets only the events it asked for."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.warehouse import BigQueryWarehouse
from shared.devstack.stack import LocalStack
from shared.devstack.webhook_receiver import Delivery
from tests.e2e.test_sweep import events, publish, wait_for, wait_rows, warehouse

pytestmark = pytest.mark.e2e
__all__ = ["events", "warehouse"]  # the fixtures, shared with the sweep tests

CAMERA = "cam-013-civic-center-plaza-north"  # a clip camera no other e2e test sweeps
PATH = "/clip/cam-013.jpg"
SYSTEM = ("camera.", "inference.", "dependency.", "dead_letters.")


def _sweep(publisher: pubsub_v1.PublisherClient, warehouse: BigQueryWarehouse) -> str:
    sweep_id = f"e2e-offline-{uuid.uuid4().hex[:8]}"
    publish(publisher, "camera-sweep", {"sweep_id": sweep_id, "cameras": [CAMERA]})
    [row] = wait_rows(warehouse, sweep_id, 1)
    return str(row["frame_status"])


def _tick(publisher: pubsub_v1.PublisherClient) -> None:
    publish(publisher, "monitor-ticks", {"reason": "e2e"})


def _about(receiver: Any, subscriber: str, event_type: str) -> list[Delivery]:
    return [
        d
        for d in receiver.accepted(subscriber)
        if d.event_type == event_type and CAMERA in json.dumps(d.body)
    ]


def test_an_offline_camera_raises_and_resolves_camera_offline_once(
    events: pubsub_v1.PublisherClient, event_stack: LocalStack, warehouse: BigQueryWarehouse
) -> None:
    server, receiver = event_stack.camera_server, event_stack.webhooks
    assert server
    assert receiver
    assert _sweep(events, warehouse) == "ok"
    server.outages.add(PATH)
    try:
        # Two sweeps in a row without a frame (CAMWATCH_MONITOR_OFFLINE_SWEEPS=2 here).
        failed = [_sweep(events, warehouse) for _ in range(2)]
        assert all(status not in ("ok", "stale") for status in failed), failed
        _tick(events)
        raised = wait_for(lambda: _about(receiver, "ops-chat", "camera.offline"), 60)
        assert len(raised) == 1, raised
        # Slack's shape, signed like every delivery (the receiver verified the signature).
        assert raised[0].body
        assert raised[0].body["text"]
        assert raised[0].body["blocks"]
        _tick(events)  # still offline: nothing new
    finally:
        server.outages.discard(PATH)
    assert _sweep(events, warehouse) == "ok"
    _tick(events)
    resolved = wait_for(lambda: _about(receiver, "ops-chat", "camera.offline.resolved"), 60)
    assert len(resolved) == 1, resolved
    _tick(events)
    time.sleep(3)  # time for any duplicate to arrive
    assert len(_about(receiver, "ops-chat", "camera.offline")) == 1
    assert len(_about(receiver, "ops-chat", "camera.offline.resolved")) == 1
    # Each subscriber got only its own events.
    enforcement = {d.event_type for d in receiver.accepted("enforcement")}
    chat = {d.event_type for d in receiver.accepted("ops-chat")}
    assert enforcement <= {"violation.detected", "traffic.anomaly"}, enforcement
    assert chat, "ops-chat got nothing"
    assert all(t.startswith(SYSTEM) for t in chat), chat
    # camera.offline is MEDIUM: ops-email asked for HIGH only.
    mails = [str(m["X-Camwatch-Event"]) for m in event_stack.emails()]
    assert not [t for t in mails if t.startswith("camera.")], mails
