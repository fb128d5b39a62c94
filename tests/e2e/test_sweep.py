"""The sweep on the real Pub/Sub emulator: push subscriptions into functions-framework servers,
violations to the alert dispatcher, signed webhooks to a verifying receiver, emails to aiosmtpd."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
import pytest
import requests
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.blobstore import storage_client
from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.camera_server import IMAGES
from shared.devstack.stack import PROJECT, LocalStack
from shared.messages.topology import dead_letter_pull
from shared.settings import Settings
from tests.e2e.evidence_checks import SNAPSHOTS, check_delivery

pytestmark = pytest.mark.e2e
# Cameras no other test touches (the 24 h alert key of a camera and type is shared state).
# Registry zones hold known vehicles: cam-009 a car in a bus lane (0.84, HIGH), cam-011 a car
# in a kerb bus lane (0.76, MEDIUM), cam-012 a car in a bike lane (0.58: below 0.6, no alert).
# cam-014 (double parking) is tests/e2e/test_lifecycle.py's.
CAMERAS = [
    "cam-002-market-6th",
    "cam-009-market-van-ness",
    "cam-011-howard-11th",
    "cam-012-brannan-4th",
    "cam-017-embarcadero-plaza",
    "cam-020-plaza-recorder",
    "cam-021-offline",
]
EXPECTED_VIOLATIONS = {
    "cam-009-market-van-ness": ("bus_lane", "HIGH"),
    "cam-011-howard-11th": ("bus_lane", "MEDIUM"),
    "cam-012-brannan-4th": ("bike_lane", None),
}


@pytest.fixture(scope="module")
def events(event_stack: LocalStack) -> Iterator[pubsub_v1.PublisherClient]:
    """A publisher into the stack whose CloudEvent functions sit behind push subscriptions."""
    assert os.environ["PUBSUB_EMULATOR_HOST"] == event_stack.env["PUBSUB_EMULATOR_HOST"]
    return pubsub_v1.PublisherClient()


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
        f"SELECT camera_id, frame_status, cache_status FROM `{warehouse.table_id('observations')}` "
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


def wait_for(probe: Callable[[], Any], timeout_s: float = 60) -> Any:
    """Poll ``probe`` until it returns something truthy (or time runs out: its last answer)."""
    deadline = time.monotonic() + timeout_s
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return found


def test_sweep_processes_every_camera_and_alerts_by_severity(
    events, warehouse, event_stack: LocalStack
) -> None:
    sweep_id = f"e2e-{uuid.uuid4().hex[:8]}"
    health = f"{event_stack.inference_url}/health"
    before = requests.get(health, timeout=5).json()["images"]
    publish(events, "camera-sweep", {"sweep_id": sweep_id, "cameras": CAMERAS})
    found = wait_rows(warehouse, sweep_id, len(CAMERAS))
    assert [r["camera_id"] for r in found] == sorted(CAMERAS)
    # The workers detect through the inference service (DETECTOR_BACKEND=service): one image
    # per cache miss (cam-021 is offline; a frame seen before in this session is a hit).
    misses = sum(r["cache_status"] == "miss" for r in found)
    assert misses >= 4
    assert requests.get(health, timeout=5).json()["images"] - before == misses
    status = {r["camera_id"]: r["frame_status"] for r in found}
    assert status["cam-021-offline"] == "unreachable"  # health row, job not retried
    assert all(s == "ok" for c, s in status.items() if c != "cam-021-offline")

    violations = warehouse.query(
        f"SELECT v.violation_id, v.camera_id, v.type, v.confidence, v.alerted "
        f"FROM `{warehouse.table_id('violations')}` v JOIN "
        f"`{warehouse.table_id('observations')}` o ON v.observation_id = o.observation_id "
        "WHERE o.sweep_id = @sweep",
        {"sweep": sweep_id},
    )
    snapshot = {v["camera_id"]: v for v in violations if v["camera_id"] in EXPECTED_VIOLATIONS}
    assert {c: v["type"] for c, v in snapshot.items()} == {
        c: t for c, (t, _) in EXPECTED_VIOLATIONS.items()
    }
    assert all(v["alerted"] for v in snapshot.values())  # each opened, and alerted once
    alerted = {v["violation_id"]: v["camera_id"] for v in violations if v["alerted"]}

    # Every alerted violation is dispatched; the alerts table says with which severity.
    rows = wait_alerts(warehouse, "sweep_id = @sweep", {"sweep": sweep_id}, len(alerted))
    assert {r["violation_id"] for r in rows} == set(alerted)
    severity = {r["camera_id"]: r["severity"] for r in rows}
    assert {c: severity[c] for c in EXPECTED_VIOLATIONS} == {
        c: s for c, (_, s) in EXPECTED_VIOLATIONS.items()
    }
    # Webhooks: verified, one per HIGH or MEDIUM violation; emails for HIGH only.
    receiver = event_stack.webhooks
    assert receiver is not None
    took = [d for d in receiver.accepted() if d.body and d.body["data"].get("sweep_id") == sweep_id]
    expected_hooks = {r["violation_id"] for r in rows if r["severity"]}
    assert sorted(d.webhook_id for d in took) == sorted(expected_hooks)
    took_severity = {
        d.body["data"]["camera_id"]: d.body["data"]["severity"] for d in took if d.body
    }
    assert took_severity.items() >= {
        ("cam-009-market-van-ness", "HIGH"),
        ("cam-011-howard-11th", "MEDIUM"),
    }
    emails = {m["X-Camwatch-Violation-Id"] for m in event_stack.emails()} & set(alerted)
    assert emails == {r["violation_id"] for r in rows if r["severity"] == "HIGH"}
    assert any(alerted[e] == "cam-009-market-van-ness" for e in emails)
    # Each webhook's signed URL downloads its evidence: on the snapshot cameras, the frame at
    # its size, the offender outlined, the bystanders blurred, the offending vehicle kept.
    checked: dict[str, int] = {}
    for delivery in took:
        assert delivery.body is not None
        data = delivery.body["data"]
        got = requests.get(data["evidence_url"], timeout=10)
        assert got.status_code == 200, (data["evidence_uri"], got.text[:200])
        evidence = cv2.imdecode(np.frombuffer(got.content, np.uint8), cv2.IMREAD_COLOR)
        assert evidence is not None, data["evidence_uri"]
        assert f"/{data['violation_id']}.jpg" in data["evidence_uri"]
        if data["camera_id"] in SNAPSHOTS:
            checked[data["camera_id"]] = check_delivery(evidence, data, warehouse)
        else:  # a live clip: its frame is not known here
            assert evidence.shape[0] >= 240
            assert evidence.shape[1] >= 320
    assert checked.keys() == SNAPSHOTS.keys()
    assert checked["cam-009-market-van-ness"] >= 1  # the bus and the two people beside it
    # The latest frame of a camera of passers-by: every person in it blurred.
    latest = storage_client(PROJECT, os.environ["STORAGE_EMULATOR_HOST"]).bucket(
        os.environ["CAMWATCH_EVIDENCE_BUCKET"]
    )
    stored = latest.blob("latest/cam-002-market-6th.jpg").download_as_bytes(timeout=10)
    frame = cv2.imdecode(np.frombuffer(stored, np.uint8), cv2.IMREAD_GRAYSCALE)
    source = cv2.imread(str(IMAGES / "vtest_f300.jpg"), cv2.IMREAD_GRAYSCALE)
    assert frame is not None
    assert source is not None
    assert frame.shape == source.shape
    [row] = warehouse.query(
        f"SELECT detections FROM `{warehouse.table_id('observations')}` "
        "WHERE sweep_id = @sweep AND camera_id = 'cam-002-market-6th'",
        {"sweep": sweep_id},
    )
    # Inside each person's box the fine detail is gone: the median |Laplacian| (robust to the
    # boxes and labels drawn over it) falls from 6 to 16 in the source to 3 or less.
    seen = 0
    for box in (d["box"] for d in row["detections"] if d["class_name"] == "person"):
        x1, y1, x2, y2 = (int(box[k]) for k in ("x1", "y1", "x2", "y2"))
        if (x2 - x1) * (y2 - y1) < 400:
            continue
        inside = (slice(y1 + 3, y2 - 3), slice(x1 + 3, x2 - 3))
        detail = np.median(np.abs(cv2.Laplacian(source, cv2.CV_64F)[inside]))
        assert np.median(np.abs(cv2.Laplacian(frame, cv2.CV_64F)[inside])) * 2 < detail, box
        seen += 1
    assert seen


def wait_alerts(
    warehouse: BigQueryWarehouse, where: str, params: dict[str, Any], wanted: int
) -> list[dict[str, Any]]:
    """The ``alerts`` rows (violation, camera, severity) matching ``where``, once at least
    ``wanted`` are in (none when time runs out)."""

    def dispatched() -> list[dict[str, Any]]:
        rows = warehouse.query(
            f"SELECT violation_id, camera_id, severity FROM `{warehouse.table_id('alerts')}` "
            f"WHERE {where}",
            params,
        )
        return rows if len(rows) >= wanted else []

    found: list[dict[str, Any]] = wait_for(dispatched)
    return found


def violation_message(camera_id: str, confidence: float) -> dict[str, Any]:
    vid = uuid.uuid4().hex
    return {
        "violation_id": vid,
        "camera_id": camera_id,
        "event_time": datetime.now(UTC).isoformat(),
        "type": "bus_lane",
        "zone": "lane",
        "class_name": "car",
        "confidence": confidence,
        "box": {"x1": 1, "y1": 2, "x2": 30, "y2": 40},
        "evidence_uri": f"gs://camwatch-demo-frames/evidence/{camera_id}/{vid}.jpg",
        "observation_id": "o" * 32,
        "sweep_id": None,
    }


def test_receiver_failing_twice_still_gets_the_alert_once(events, event_stack) -> None:
    receiver = event_stack.webhooks
    message = violation_message("cam-016-union-square-west", 0.7)  # MEDIUM: webhook only
    receiver.fail("cam-016-union-square-west", 2, status=500)
    publish(events, "violations", message)
    vid = message["violation_id"]
    assert wait_for(lambda: [d for d in receiver.accepted() if d.webhook_id == vid], 90)
    time.sleep(2)  # nothing more arrives after the success
    attempts = [d for d in receiver.deliveries if d.webhook_id == vid]
    assert [d.status for d in attempts] == [500, 500, 200]
    assert all(d.verified for d in attempts)
    assert {d.webhook_id for d in attempts} == {vid}


def test_redelivered_violation_alerts_once(events, event_stack) -> None:
    message = violation_message("cam-017-embarcadero-plaza", 0.95)  # HIGH: webhook and email
    publish(events, "violations", message)
    publish(events, "violations", message)  # the same alert again, as a redelivery would
    vid = message["violation_id"]
    receiver = event_stack.webhooks
    assert wait_for(lambda: [d for d in receiver.accepted() if d.webhook_id == vid])
    assert wait_for(
        lambda: [m for m in event_stack.emails() if m["X-Camwatch-Violation-Id"] == vid]
    )
    time.sleep(3)  # let the second delivery run
    assert len([d for d in receiver.deliveries if d.webhook_id == vid]) == 1
    assert len([m for m in event_stack.emails() if m["X-Camwatch-Violation-Id"] == vid]) == 1


def test_redelivered_job_adds_no_second_row(events, warehouse) -> None:
    sweep_id = f"e2e-{uuid.uuid4().hex[:8]}"
    # A live camera: a second run would see a new frame and write a second row.
    job = {
        "sweep_id": sweep_id,
        "camera_id": "cam-015-union-square-east",
        "scheduled_at": datetime.now(UTC).isoformat(),
    }
    publish(events, "camera-jobs", job)
    publish(events, "camera-jobs", job)
    assert len(wait_rows(warehouse, sweep_id, 1)) == 1
    time.sleep(3)  # let the second delivery run
    assert len(rows_of(warehouse, sweep_id)) == 1


def test_poisoned_messages_are_dead_lettered_with_a_reason(events) -> None:
    publish(events, "camera-jobs", b"not json at all")
    publish(events, "camera-jobs", {"camera_id": "cam-001-market-5th"})
    publish(
        events,
        "camera-jobs",
        {
            "sweep_id": "p",
            "camera_id": "cam-404-nowhere",
            "scheduled_at": datetime.now(UTC).isoformat(),
        },
    )
    publish(events, "camera-sweep", {"cameras": ["cam-404-nowhere"]})
    publish(events, "violations", {**violation_message("cam-001-market-5th", 0.9), "confidence": 7})
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
    [bad] = dead_letters("violations", 1)
    assert "violation.confidence: 7 is greater than the maximum of 1" in bad.attributes["reason"]
