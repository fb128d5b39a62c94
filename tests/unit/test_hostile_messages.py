"""Hostile Pub/Sub pushes (``tests/push_cases.py``) through functions-framework, to the fakes.

Issue 12, items 4 and 8. Each push is POSTed as a push subscription posts it; the outcome is
2xx with a dead letter whose ``reason`` says why, or 2xx processed, or 500 for a transient
failure. The fake bus refuses what Pub/Sub refuses (over 10 MB, attribute values over 1,024
bytes or not UTF-8), so a dead letter that Pub/Sub could not take fails here too.
``tests/integration/test_hostile_messages.py`` runs the same pushes on the Pub/Sub emulator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from werkzeug.test import TestResponse

from shared import bootstrap
from shared.errors import FrameUnreachableError
from shared.messages.envelope import DEAD_LETTER_MAX_BYTES
from shared.messages.topology import ROUTES
from shared.settings import Settings
from tests.conftest import ROOT, jpeg
from tests.push_cases import PUSHES
from tests.pushes import DEAD_LETTER, KNOWN, KNOWN_SOURCE, TWELVE_MB, Push
from tests.unit.fakes import Wired, registry_of, wired

FUNCTION = {route.topic: route.function for route in ROUTES}
REGISTRY = registry_of(
    {"id": KNOWN, "source": KNOWN_SOURCE},
    {"id": "cam-001-market-5th", "source": "http://c/1.jpg"},
)


@pytest.fixture
def fakes() -> Iterator[Wired]:
    given = wired(
        REGISTRY,
        {
            KNOWN_SOURCE: FrameUnreachableError("connection refused"),
            "http://c/1.jpg": jpeg("car1.jpg"),
        },
    )
    # No ride-out: a transient failure answers 500 at once (the ride-out has its own tests).
    bootstrap.bootstrap(Settings(dependency_ride_out_s=0), **given.overrides())
    yield given
    bootstrap.reset()


def client_for(topic: str) -> FlaskClient:
    """The topic's function under functions-framework, loaded as Cloud Run loads it."""
    name = FUNCTION[topic]
    source = str(ROOT / "functions" / name / "main.py")
    return create_app(name, source, "cloudevent").test_client()


def deliver(push: Push) -> TestResponse:
    headers = {"Content-Type": push.content_type}
    return client_for(push.topic).post(push.path, data=push.body, headers=headers)


def dead_letters(fakes: Wired) -> list[tuple[str, bytes, dict[str, str]]]:
    return [(t, m["raw"], a) for t, m, a in fakes.bus.sent if t.endswith("-dead-letter")]


def effects(fakes: Wired, push: Push) -> dict[str, int]:
    """What processing left behind: rows of this job's sweep, alerts routed (one
    alert-deliveries message per subscriber), jobs published."""
    rows = fakes.warehouse.rows.get("observations", [])
    return {
        "rows": sum(r["sweep_id"] == f"s-{push.marker}" for r in rows),
        "alerts": sum(
            t == "alert-deliveries" and m["alert"]["id"] == push.marker
            for t, m, _ in fakes.bus.sent
        ),
        "jobs": sum(t == "camera-jobs" for t, _, _ in fakes.bus.sent),
    }


NOTHING = {"rows": 0, "alerts": 0, "jobs": 0}
PROCESSED_EFFECTS = {
    "row": NOTHING | {"rows": 1},  # a camera-health row of the job's sweep
    "dropped": NOTHING,  # an expired job: logged and acknowledged
    "webhook": NOTHING | {"alerts": 2},  # HIGH: routed to the webhook and email subscribers
    "jobs": NOTHING | {"jobs": len(REGISTRY.cameras)},
}


@pytest.mark.parametrize("push", [pytest.param(p, id=name) for name, p in PUSHES])
def test_each_push_gets_its_defined_outcome(push: Push, fakes: Wired) -> None:
    response = deliver(push)
    assert response.status_code == 200, response.get_data()[:500]  # acknowledged either way
    letters = dead_letters(fakes)
    if push.outcome != DEAD_LETTER:
        assert letters == []
        assert effects(fakes, push) == PROCESSED_EFFECTS[push.effect]
        return
    [(topic, data, attributes)] = letters
    assert topic == f"{push.topic}-dead-letter"
    assert push.reason in attributes["reason"]
    assert attributes["source_topic"] == push.topic
    assert push.owns(data, attributes)
    assert effects(fakes, push) == NOTHING


def test_a_message_too_large_for_pubsub_is_dead_lettered_truncated(fakes: Wired) -> None:
    [push] = [p for name, p in PUSHES if name == "data-12mb"]
    assert deliver(push).status_code == 200
    [(_, data, attributes)] = dead_letters(fakes)
    assert data == b"x" * DEAD_LETTER_MAX_BYTES  # the first 9 MiB
    assert attributes["original_size"] == str(TWELVE_MB)
    assert attributes["original_sha256"] == hashlib.sha256(b"x" * TWELVE_MB).hexdigest()
    assert attributes["truncated"] == "true"


def test_a_transient_failure_answers_500_and_dead_letters_nothing(fakes: Wired) -> None:
    [push] = [p for name, p in PUSHES if name == "job"]
    fakes.cache.down = True  # Redis is down: the job's claim cannot be taken
    assert deliver(push).status_code == 500  # Pub/Sub redelivers
    assert dead_letters(fakes) == []
    fakes.cache.down = False
    assert deliver(push).status_code == 200  # the redelivery is processed
    assert effects(fakes, push)["rows"] == 1


def test_a_dead_letter_that_cannot_be_published_is_retried(fakes: Wired) -> None:
    [push] = [p for name, p in PUSHES if name == "job-unknown-camera"]
    fakes.bus.fail_next = 1  # Pub/Sub is down: acknowledging would lose the message
    assert deliver(push).status_code == 500
    assert deliver(push).status_code == 200
    assert len(dead_letters(fakes)) == 1


def test_a_transient_failure_of_an_unconverted_push_is_retried(fakes: Wired) -> None:
    # An attribute-only sweep: functions-framework refuses it (no data); camwatch runs it.
    [push] = [p for name, p in PUSHES if name == "sweep-data-absent"]
    fakes.bus.fail_next = 1  # publishing the jobs fails
    assert deliver(push).status_code == 500
    assert deliver(push).status_code == 200
    assert effects(fakes, push)["jobs"] == len(REGISTRY.cameras)


def test_other_methods_get_the_frameworks_answer(fakes: Wired) -> None:
    client = client_for("camera-jobs")
    assert client.get("/").status_code == 405
    assert client.put("/projects/p/topics/t", data=b"{}").status_code == 405
    assert dead_letters(fakes) == []
