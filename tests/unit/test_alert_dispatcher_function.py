"""alert_dispatcher through functions-framework, posting a canned Pub/Sub CloudEvent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from shared import bootstrap
from shared.settings import Settings
from tests.conftest import ROOT, canned, with_payload
from tests.unit.fakes import Wired, registry_of, wired

SOURCE = str(ROOT / "functions" / "alert_dispatcher" / "main.py")
EVENT = canned("violation_event.json")
HEADERS = {"Content-Type": "application/cloudevents+json"}


@pytest.fixture
def fakes() -> Iterator[Wired]:
    given = wired(registry_of({"id": "cam-001-market-5th", "source": "http://c/1.jpg"}))
    bootstrap.bootstrap(Settings(), **given.overrides())
    yield given
    bootstrap.reset()


@pytest.fixture
def client(fakes: Wired) -> FlaskClient:
    return create_app("alert_dispatcher", SOURCE, "cloudevent").test_client()


def test_a_high_violation_is_routed_to_webhook_and_email(client: FlaskClient, fakes: Wired) -> None:
    response = client.post("/", json=EVENT, headers=HEADERS)
    assert response.status_code == 200
    routed = [(t, m["subscriber"], m["alert"]["id"]) for t, m, _ in fakes.bus.sent]
    assert routed == [
        ("alert-deliveries", "webhook", "d" * 32),
        ("alert-deliveries", "email", "d" * 32),
    ]
    [row] = fakes.warehouse.rows["alerts"]
    assert row["severity"] == "HIGH"
    assert row["sweep_id"] == "sweep-42"
    assert row["channels"] == ["webhook", "email"]


def test_a_poisoned_violation_is_dead_lettered_and_acknowledged(
    client: FlaskClient, fakes: Wired
) -> None:
    response = client.post("/", json=with_payload(EVENT, type="jaywalking"), headers=HEADERS)
    assert response.status_code == 200  # acknowledged: never retried
    [(topic, sent, attributes)] = fakes.bus.sent
    assert topic == "violations-dead-letter"
    assert b'"jaywalking"' in sent["raw"]
    assert "violation.type" in attributes["reason"]
    assert attributes["source_message_id"] == "1001"
    assert fakes.senders["webhook"].sent == []
