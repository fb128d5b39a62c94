"""alert_dispatcher through functions-framework, posting a canned Pub/Sub CloudEvent."""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from shared import bootstrap
from shared.settings import Settings
from tests.unit.fakes import (
    FakeBus,
    FakeCache,
    FakeEvidence,
    FakeSender,
    FakeWarehouse,
    registry_of,
)

ROOT = Path(__file__).parents[2]
SOURCE = str(ROOT / "functions" / "alert_dispatcher" / "main.py")
EVENT = json.loads((ROOT / "tests" / "data" / "violation_event.json").read_text())
HEADERS = {"Content-Type": "application/cloudevents+json"}


@pytest.fixture
def parts() -> Iterator[dict[str, Any]]:
    fakes: dict[str, Any] = {
        "senders": {"webhook": FakeSender("webhook"), "email": FakeSender("email")},
        "cache": FakeCache(),
        "warehouse": FakeWarehouse(),
        "bus": FakeBus(),
        "blobs": FakeEvidence(),
        "registry": registry_of({"id": "cam-001-market-5th", "source": "http://c/1.jpg"}),
    }
    bootstrap.bootstrap(Settings(), **fakes)
    fakes["client"] = create_app("alert_dispatcher", SOURCE, "cloudevent").test_client()
    yield fakes
    bootstrap.reset()


def with_payload(change: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    message = event["data"]["message"]
    payload = {**json.loads(base64.b64decode(message["data"])), **change}
    message["data"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return event


def test_a_high_violation_goes_to_webhook_and_email(parts) -> None:
    response = parts["client"].post("/", json=EVENT, headers=HEADERS)
    assert response.status_code == 200
    webhook, email = parts["senders"]["webhook"], parts["senders"]["email"]
    assert [a.id for a in webhook.sent] == ["d" * 32]
    assert len(email.sent) == 1
    [row] = parts["warehouse"].rows["alerts"]
    assert row["severity"] == "HIGH"
    assert row["sweep_id"] == "sweep-42"


def test_a_failing_receiver_answers_500_so_pubsub_redelivers(parts, caplog) -> None:
    parts["senders"]["webhook"].fail_next = 1
    with caplog.at_level(logging.WARNING, logger="shared.entrypoints.pubsub"):
        response = parts["client"].post("/", json=EVENT, headers=HEADERS)
    assert response.status_code == 500
    [record] = [r for r in caplog.records if "will redeliver" in r.getMessage()]
    assert record.kind == "delivery_failed"
    assert "500" in record.error
    # The redelivery succeeds and sends the webhook once.
    assert parts["client"].post("/", json=EVENT, headers=HEADERS).status_code == 200
    assert len(parts["senders"]["webhook"].sent) == 1


def test_a_poisoned_violation_is_dead_lettered_and_acknowledged(parts) -> None:
    response = parts["client"].post("/", json=with_payload({"type": "jaywalking"}), headers=HEADERS)
    assert response.status_code == 200  # acknowledged: never retried
    [(topic, sent, attributes)] = parts["bus"].sent
    assert topic == "violations-dead-letter"
    assert b'"jaywalking"' in sent["raw"]
    assert "violation.type" in attributes["reason"]
    assert attributes["source_message_id"] == "1001"
    assert parts["senders"]["webhook"].sent == []
