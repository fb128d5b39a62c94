"""alert_delivery through functions-framework: one alert-deliveries CloudEvent, one send."""

from __future__ import annotations

import base64
import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from shared import bootstrap
from shared.logs import configure_logging
from shared.messages.topology import ROUTE_BY_TOPIC
from shared.settings import Settings
from tests.conftest import ROOT, canned
from tests.unit.fakes import Wired, registry_of, wired

SOURCE = str(ROOT / "functions" / "alert_delivery" / "main.py")
HEADERS = {"Content-Type": "application/cloudevents+json"}
ALERT = {
    "id": "e" * 32,
    "event_type": "violation.detected",
    "severity": "HIGH",
    "camera_id": "cam-001-market-5th",
    "body": {"type": "violation.detected", "timestamp": "2026-11-27T16:00:00Z", "data": {}},
    "subject": "[camwatch HIGH] car in bus_lane",
    "text": "HIGH violation",
}


def event(payload: dict[str, Any]) -> dict[str, Any]:
    """The canned Pub/Sub CloudEvent carrying an alert-deliveries message."""
    found = copy.deepcopy(canned("violation_event.json"))
    found["source"] = "//pubsub.googleapis.com/projects/camwatch-local/topics/alert-deliveries"
    found["data"]["message"]["data"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return found


@pytest.fixture
def fakes() -> Iterator[Wired]:
    given = wired(registry_of({"id": "cam-001-market-5th", "source": "http://c/1.jpg"}))
    # A failing receiver answers 500 at once here (its ride-out has a test of its own).
    bootstrap.bootstrap(Settings(delivery_ride_out_s=0), **given.overrides())
    yield given
    bootstrap.reset()


@pytest.fixture
def client(fakes: Wired) -> FlaskClient:
    # Cloud Logging set up now, as the first request would: it replaces the root handlers,
    # caplog's among them, so it must not happen inside a test that reads caplog.
    configure_logging()
    return create_app("alert_delivery", SOURCE, "cloudevent").test_client()


def test_a_failing_receiver_answers_500_so_pubsub_redelivers(
    client: FlaskClient, fakes: Wired, caplog: pytest.LogCaptureFixture
) -> None:
    fakes.senders["webhook"].fail_next = 1
    delivery = event({"subscriber": "webhook", "alert": ALERT})
    with caplog.at_level(logging.WARNING, logger="shared.entrypoints.pubsub"):
        response = client.post("/", json=delivery, headers=HEADERS)
    assert response.status_code == 500
    [record] = [r for r in caplog.records if "will redeliver" in r.getMessage()]
    assert getattr(record, "kind") == "delivery_failed"  # noqa: B009
    # The redelivery succeeds and sends the webhook once; a third copy sends nothing.
    assert client.post("/", json=delivery, headers=HEADERS).status_code == 200
    assert client.post("/", json=delivery, headers=HEADERS).status_code == 200
    assert [a.id for a in fakes.senders["webhook"].sent] == ["e" * 32]
    assert fakes.senders["email"].sent == []


def test_a_short_redis_outage_is_ridden_out_within_one_delivery(
    client: FlaskClient, fakes: Wired, caplog: pytest.LogCaptureFixture
) -> None:
    fakes.cache.down_for_calls = 2  # the first two tries find Redis down, the third does not
    delivery = event({"subscriber": "webhook", "alert": ALERT})
    with caplog.at_level(logging.INFO, logger="shared.entrypoints.pubsub"):
        response = client.post("/", json=delivery, headers=HEADERS)
    assert response.status_code == 200  # no redelivery needed
    waits = [r for r in caplog.records if "trying again within this delivery" in r.getMessage()]
    assert [getattr(r, "dependency") for r in waits] == ["redis", "redis"]  # noqa: B009
    assert [a.id for a in fakes.senders["webhook"].sent] == ["e" * 32]


def test_a_receivers_bad_moment_is_ridden_out_within_one_delivery(
    client: FlaskClient, fakes: Wired
) -> None:
    bootstrap.reset()
    bootstrap.bootstrap(Settings(delivery_ride_out_s=5), **fakes.overrides())
    fakes.senders["webhook"].fail_next = 2  # 500, 500, then 200: pauses of 0.5 s and 1 s
    delivery = event({"subscriber": "webhook", "alert": ALERT})
    assert client.post("/", json=delivery, headers=HEADERS).status_code == 200
    assert [a.id for a in fakes.senders["webhook"].sent] == ["e" * 32]
    assert fakes.bus.sent == []  # nothing dead-lettered


def test_a_longer_outage_is_left_to_pubsub(client: FlaskClient, fakes: Wired) -> None:
    bootstrap.reset()
    bootstrap.bootstrap(
        Settings(dependency_ride_out_s=1, delivery_ride_out_s=0), **fakes.overrides()
    )
    fakes.cache.down = True
    delivery = event({"subscriber": "webhook", "alert": ALERT})
    assert client.post("/", json=delivery, headers=HEADERS).status_code == 500
    fakes.cache.down = False
    assert client.post("/", json=delivery, headers=HEADERS).status_code == 200
    assert len(fakes.senders["webhook"].sent) == 1


def test_a_message_failing_every_delivery_is_dead_lettered_with_its_last_error(
    client: FlaskClient, fakes: Wired
) -> None:
    """camwatch counts a message's failed deliveries (Redis) and dead-letters it at the route's
    max_delivery_attempts, with the last failure as the reason; Pub/Sub's policy stays the
    backstop."""
    limit = ROUTE_BY_TOPIC["alert-deliveries"].max_delivery_attempts
    fakes.senders["webhook"].fail_next = limit + 5
    delivery = event({"subscriber": "webhook", "alert": ALERT})
    answers = [client.post("/", json=delivery, headers=HEADERS).status_code for _ in range(limit)]
    assert answers == [500] * (limit - 1) + [200]  # the last one acknowledged: dead-lettered
    [(topic, data, attributes)] = fakes.bus.sent
    assert topic == "alert-deliveries-dead-letter"
    assert attributes["reason"].startswith(f"{limit} deliveries failed; the last: delivery_failed")
    assert json.loads(data["raw"])["alert"]["id"] == ALERT["id"]
    assert fakes.senders["webhook"].sent == []


def test_an_unknown_subscriber_is_dead_lettered(client: FlaskClient, fakes: Wired) -> None:
    response = client.post("/", json=event({"subscriber": "gone", "alert": ALERT}), headers=HEADERS)
    assert response.status_code == 200  # acknowledged: never retried
    [(topic, _, attributes)] = fakes.bus.sent
    assert topic == "alert-deliveries-dead-letter"
    assert "unknown alert subscriber 'gone'" in attributes["reason"]
