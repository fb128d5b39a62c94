"""The monitor function through functions-framework: a ``monitor-ticks`` push (Cloud
Scheduler's ``{}``) routes what is due; a malformed tick is dead-lettered."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from shared import bootstrap
from shared.domain.subscribers import Subscriber
from shared.service_layer import monitor
from shared.settings import Settings
from tests.conftest import ROOT, canned, with_payload
from tests.unit.fakes import FakeDeadLetters, Wired, registry_of, wired

CLOUDEVENT = {"Content-Type": "application/cloudevents+json"}


def tick_event() -> dict[str, Any]:
    event = copy.deepcopy(canned("sweep_event.json"))  # {} as Cloud Scheduler publishes it
    event["source"] = "//pubsub.googleapis.com/projects/camwatch-local/topics/monitor-ticks"
    event["data"]["subscription"] = "projects/camwatch-local/subscriptions/monitor-ticks-push"
    return event


@pytest.fixture
def fakes() -> Iterator[tuple[Wired, FakeDeadLetters]]:
    given = wired(registry_of({"id": "cam-1", "source": "http://c/1.jpg"}))
    dead = FakeDeadLetters({"camera-jobs-dead-letter-pull": 4})
    monitor.forget_local_states()
    given.subscribers = (Subscriber("ops", url="https://ops.example/hook"),)
    bootstrap.bootstrap(Settings(), **given.overrides(), dead_letters=dead)
    yield given, dead
    bootstrap.reset()
    monitor.forget_local_states()


def client() -> FlaskClient:
    source = str(ROOT / "functions" / "monitor" / "main.py")
    return create_app("monitor", source, "cloudevent").test_client()


def test_a_tick_routes_the_dead_letters_once(fakes: tuple[Wired, FakeDeadLetters]) -> None:
    given, _ = fakes
    for _ in range(2):
        response = client().post("/", json=tick_event(), headers=CLOUDEVENT)
        assert response.status_code == 200, response.get_data(as_text=True)
    [(topic, delivery, _)] = given.bus.sent
    assert topic == "alert-deliveries"
    assert delivery["subscriber"] == "ops"
    assert delivery["alert"]["event_type"] == "dead_letters.pending"
    data = delivery["alert"]["body"]["data"]
    assert data["details"] == {"subscription": "camera-jobs-dead-letter-pull", "pending": 4}


def test_a_malformed_tick_is_dead_lettered(fakes: tuple[Wired, FakeDeadLetters]) -> None:
    given, _ = fakes
    event = with_payload(tick_event(), surprise=1)
    response = client().post("/", json=event, headers=CLOUDEVENT)
    assert response.status_code == 200
    assert [topic for topic, _, _ in given.bus.sent] == ["monitor-ticks-dead-letter"]
