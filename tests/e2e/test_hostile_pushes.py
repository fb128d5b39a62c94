"""Hostile messages published to the Pub/Sub emulator and pushed to the functions' servers.

Issue 12, items 4 and 8, end to end: each message that can never succeed is dead-lettered at
once with its reason (not retried until the subscription's policy moves it without one), and a
job stamped with a lowercase ``t`` and ``z`` is processed. ``tests/push_cases.py`` holds the
table; this module checks the real push path (the emulator's push body, functions-framework
under gunicorn, the adapters).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from google.cloud import pubsub_v1  # type: ignore[attr-defined]

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.stack import PROJECT, LocalStack
from shared.settings import Settings
from tests.dead_letters import Letter, pull, subscribe, take_back
from tests.pushes import UNKNOWN, job, violation

pytestmark = pytest.mark.e2e
CAMERA = "cam-018-yerba-buena-gardens"  # a camera no other test reads the rows of


@dataclass(frozen=True)
class Published:
    """The messages published: the job's marker, and each message's dead letters."""

    marker: str
    letters: dict[str, list[Letter]]


@pytest.fixture(scope="module")
def published(event_stack: LocalStack) -> Published:
    """Each message published once, and the dead letters that name its message id."""
    marker = uuid.uuid4().hex
    messages: dict[str, tuple[str, bytes, dict[str, str]]] = {
        "lowercase-t-z": (
            "camera-jobs",
            job(
                marker,
                camera_id=CAMERA,
                scheduled_at=datetime.now(UTC).strftime("%Y-%m-%dt%H:%M:%Sz"),
            ),
            {},
        ),
        "100000-deep": ("camera-jobs", b"[" * 100_000 + b"]" * 100_000, {}),
        "5000-digits": ("camera-jobs", b"1" * 5000, {}),
        "attributes-only": ("camera-jobs", b"", {"origin": "test"}),
        "violation-unknown-camera": (
            "violations",
            violation(uuid.uuid4().hex, camera_id=UNKNOWN),
            {},
        ),
    }
    publisher = pubsub_v1.PublisherClient()
    ids = {}
    with subscribe() as subscriptions:
        for name, (topic, data, attributes) in messages.items():
            path = publisher.topic_path(PROJECT, topic)
            ids[name] = publisher.publish(path, data, **attributes).result(timeout=10)
        letters: list[Letter] = []
        deadline = time.monotonic() + 60
        while len(letters) < len(messages) - 1 and time.monotonic() < deadline:
            letters += pull(subscriptions, quiet_s=2.0)
    mine = set(ids.values())
    take_back(lambda letter: letter.attributes.get("source_message_id") in mine)
    by_id = {
        name: [x for x in letters if x.attributes.get("source_message_id") == ids[name]]
        for name in messages
    }
    return Published(marker, by_id)


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("100000-deep", "data is JSON nested more than 32 deep"),
        ("5000-digits", "Exceeds the limit (4300 digits)"),
        ("attributes-only", "'sweep_id' is a required property"),
        ("violation-unknown-camera", f"unknown camera '{UNKNOWN}'"),
    ],
)
def test_a_message_that_can_never_succeed_is_dead_lettered_at_once(
    published: Published, name: str, reason: str
) -> None:
    [letter] = published.letters[name]  # once: acknowledged, not redelivered
    assert reason in letter.attributes["reason"]


def test_a_job_with_lowercase_t_and_z_is_processed(
    published: Published, event_stack: LocalStack
) -> None:
    assert published.letters["lowercase-t-z"] == []
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    warehouse = BigQueryWarehouse(client, settings.bigquery_dataset, "US", 10)
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while not rows and time.monotonic() < deadline:
        rows = warehouse.query(
            f"SELECT camera_id, frame_status FROM `{warehouse.table_id('observations')}` "
            "WHERE sweep_id = @s",
            {"s": f"s-{published.marker}"},
        )
        time.sleep(0.5)
    assert [(r["camera_id"], r["frame_status"]) for r in rows] == [(CAMERA, "ok")]


def test_the_unknown_cameras_violation_was_never_alerted(
    published: Published, event_stack: LocalStack
) -> None:
    assert published.letters["violation-unknown-camera"]
    receiver = event_stack.webhooks
    assert receiver is not None
    hooks = [d for d in receiver.deliveries if d.body and d.body["data"]["camera_id"] == UNKNOWN]
    assert hooks == []
    emails = [m for m in event_stack.emails() if UNKNOWN in str(m["Subject"])]
    assert emails == []
