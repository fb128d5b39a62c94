"""The sweep on the real Pub/Sub emulator: push subscriptions into functions-framework servers."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.devstack.stack import PROJECT, LocalStack
from shared.devstack.topology import dead_letter_pull
from shared.settings import Settings
from shared.warehouse import BigQueryWarehouse, bigquery_client

pytestmark = pytest.mark.e2e
CAMERAS = ["cam-002-market-6th", "cam-008-bryant-9th", "cam-014-civic-center-plaza-south",
           "cam-019-harbour-gateway", "cam-020-plaza-recorder", "cam-021-offline"]  # fmt: skip


@pytest.fixture(scope="module")
def events(local_stack: LocalStack) -> Iterator[pubsub_v1.PublisherClient]:
    """The Pub/Sub emulator, sweep and camera_worker servers and the topology."""
    local_stack.start_event_functions()
    assert os.environ["PUBSUB_EMULATOR_HOST"] == local_stack.env["PUBSUB_EMULATOR_HOST"]
    yield pubsub_v1.PublisherClient()


@pytest.fixture(scope="module")
def warehouse(local_stack: LocalStack) -> BigQueryWarehouse:
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    warehouse = BigQueryWarehouse(client, settings.bigquery_dataset, "US", 10)
    warehouse.ensure_tables()  # the workers create them too; the queries may come first
    return warehouse


def publish(publisher: pubsub_v1.PublisherClient, topic: str, payload: Any) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    publisher.publish(publisher.topic_path(PROJECT, topic), data).result(timeout=10)


def rows_of(warehouse: BigQueryWarehouse, sweep_id: str) -> list[dict[str, Any]]:
    return warehouse.query(
        f"SELECT camera_id, frame_status FROM `{warehouse.table_id('observations')}` "
        "WHERE sweep_id = @sweep ORDER BY camera_id",
        {"sweep": sweep_id},
    )


def wait_rows(
    warehouse: BigQueryWarehouse, sweep_id: str, n: int, timeout_s: float = 60
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = rows_of(warehouse, sweep_id)
        if len(found) >= n:
            return found
        time.sleep(0.5)
    return rows_of(warehouse, sweep_id)


def dead_letters(topic: str, n: int, timeout_s: float = 30) -> list[Any]:
    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(PROJECT, dead_letter_pull(f"{topic}-dead-letter"))
    got: list[Any] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < n and time.monotonic() < deadline:
        response = subscriber.pull(subscription=path, max_messages=10, timeout=5)
        ack_ids = [m.ack_id for m in response.received_messages]
        if ack_ids:
            subscriber.acknowledge(subscription=path, ack_ids=ack_ids)
        got += [m.message for m in response.received_messages]
    return got


def test_sweep_processes_every_named_camera_once(events, warehouse) -> None:
    sweep_id = f"e2e-{uuid.uuid4().hex[:8]}"
    publish(events, "camera-sweep", {"sweep_id": sweep_id, "cameras": CAMERAS})
    found = wait_rows(warehouse, sweep_id, len(CAMERAS))
    assert [r["camera_id"] for r in found] == sorted(CAMERAS)
    status = {r["camera_id"]: r["frame_status"] for r in found}
    assert status["cam-021-offline"] == "unreachable"  # health row, job not retried
    assert all(s == "ok" for c, s in status.items() if c != "cam-021-offline")


def test_redelivered_job_adds_no_second_row(events, warehouse) -> None:
    sweep_id = f"e2e-{uuid.uuid4().hex[:8]}"
    # A live camera: a second run would see a new frame and write a second row.
    job = {"sweep_id": sweep_id, "camera_id": "cam-015-union-square-east",
           "scheduled_at": datetime.now(UTC).isoformat()}  # fmt: skip
    publish(events, "camera-jobs", job)
    publish(events, "camera-jobs", job)
    assert len(wait_rows(warehouse, sweep_id, 1)) == 1
    time.sleep(3)  # let the second delivery run
    assert len(rows_of(warehouse, sweep_id)) == 1


def test_poisoned_messages_are_dead_lettered_with_a_reason(events) -> None:
    publish(events, "camera-jobs", b"not json at all")
    publish(events, "camera-jobs", {"camera_id": "cam-001-market-5th"})
    publish(events, "camera-jobs", {"sweep_id": "p", "camera_id": "cam-404-nowhere",
                                    "scheduled_at": datetime.now(UTC).isoformat()})  # fmt: skip
    publish(events, "camera-sweep", {"cameras": ["cam-404-nowhere"]})
    jobs = dead_letters("camera-jobs", 3)
    reasons = sorted(m.attributes["reason"] for m in jobs)
    assert len(reasons) == 3, reasons
    assert any("data is not JSON" in r for r in reasons)
    assert any("'sweep_id' is a required property" in r for r in reasons)
    assert any("unknown camera 'cam-404-nowhere'" in r for r in reasons)
    assert b"not json at all" in [m.data for m in jobs]  # the original bytes are kept
    [sweep] = dead_letters("camera-sweep", 1)
    assert "unknown cameras: ['cam-404-nowhere']" in sweep.attributes["reason"]
    assert sweep.attributes["source_topic"] == "camera-sweep"
