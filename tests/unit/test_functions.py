"""All seven functions through functions-framework, each fed a canned payload of ``tests/data``.

``create_app(target, source, signature)`` loads ``functions/<target>/main.py`` as Cloud Run
does; the CloudEvent functions get a structured CloudEvent (a Pub/Sub push), the HTTP ones a
request. The adapters are the fakes of ``tests/unit/fakes.py``, given to ``shared.bootstrap``;
the inference service (which never uses the bootstrap) loads a hand-built graph that always
finds a car and a person (``tests/graphs.py``), so no model runs here.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app
from werkzeug.test import TestResponse

from shared import bootstrap
from shared.entrypoints import inference
from shared.settings import Settings, get_settings
from tests.conftest import ROOT, canned, jpeg, with_payload
from tests.graphs import known_yolo
from tests.unit.fakes import TEST_KEYS, Wired, keyed, registry_of, wired
from tests.unit.test_alert_delivery_function import ALERT

CLOUDEVENT = {"Content-Type": "application/cloudevents+json"}
REGISTRY = registry_of(
    {"id": "cam-001-market-5th", "source": "http://c/1.jpg"},
    {"id": "cam-002-market-6th", "source": "http://c/2.jpg"},
)


@dataclass(frozen=True)
class Case:
    """One function, one canned payload, the answer and one effect on the fakes."""

    target: str  # functions/<target>/main.py, and the function's name in it
    signature: str  # "http" or "cloudevent"
    payload: str  # a file of tests/data
    status: int
    effect: Callable[[Wired, TestResponse], Any]  # what the call left behind ...
    expected: Any  # ... and what it should be
    prepare: Callable[[dict[str, Any]], dict[str, Any]] = lambda payload: payload
    loads_model: bool = False  # wait for GET /health to answer 200 first


def fresh(event: dict[str, Any]) -> dict[str, Any]:
    """The job scheduled now: an old one is dropped as expired (CAMWATCH_MAX_JOB_AGE_S)."""
    return with_payload(event, scheduled_at=datetime.now(UTC).isoformat())


def observations(fakes: Wired, _: TestResponse) -> list[tuple[str, str, str | None]]:
    """The observation rows written: camera, cache status, sweep."""
    rows = fakes.warehouse.rows.get("observations", [])
    return [(r["camera_id"], r["cache_status"], r["sweep_id"]) for r in rows]


def detected(_: Wired, response: TestResponse) -> list[str]:
    """The classes found in the first image of a prediction answer."""
    return [d["class_name"] for d in response.get_json()["predictions"][0]["detections"]]


def published(fakes: Wired, _: TestResponse) -> list[tuple[str, str, str]]:
    """The messages published: topic, camera, sweep."""
    return [(topic, m["camera_id"], m["sweep_id"]) for topic, m, _ in fakes.bus.sent]


def as_anomaly(event: dict[str, Any]) -> dict[str, Any]:
    """The violations CloudEvent carrying an anomalies message instead: an hour and a half of
    unusual traffic at cam-001 (HIGH)."""
    message = {
        "interval_id": "a1" * 12,
        "camera_id": "cam-001-market-5th",
        "metric": "vehicles",
        "start": "2026-11-27T16:00:00Z",
        "end": "2026-11-27T17:30:00Z",
        "steps": 6,
        "direction": "above",
        "peak_at": "2026-11-27T16:30:00Z",
        "peak_value": 63.7,
        "expected_lower": 14.7,
        "expected_upper": 23.0,
        "max_probability": 1.0,
        "run_id": "run-20261127T1807Z-abc123",
        "model_name": "local.statsforecast.mstl_autoarima",
        "model_version": "v1",
        "backend": "local",
    }
    event = copy.deepcopy(event)
    event["source"] = "//pubsub.googleapis.com/projects/camwatch-local/topics/anomalies"
    event["data"]["message"]["data"] = base64.b64encode(json.dumps(message).encode()).decode()
    event["data"]["subscription"] = "projects/camwatch-local/subscriptions/anomalies-push"
    return event


def as_delivery(event: dict[str, Any]) -> dict[str, Any]:
    """The violations CloudEvent carrying an alert-deliveries message instead: a rendered
    alert for the subscriber ``webhook``."""
    alert = dict(ALERT)
    event = copy.deepcopy(event)
    payload = {"subscriber": "webhook", "alert": alert}
    event["source"] = "//pubsub.googleapis.com/projects/camwatch-local/topics/alert-deliveries"
    event["data"]["message"]["data"] = base64.b64encode(json.dumps(payload).encode()).decode()
    event["data"]["subscription"] = "projects/camwatch-local/subscriptions/alert-deliveries-push"
    return event


def routed(fakes: Wired, _: TestResponse) -> list[tuple[str, str]]:
    """The alert-deliveries messages published: subscriber, alert id."""
    sent = [m for topic, m, _ in fakes.bus.sent if topic == "alert-deliveries"]
    return [(m["subscriber"], m["alert"]["id"]) for m in sent]


def webhooks(fakes: Wired, _: TestResponse) -> list[str]:
    """The ids of the alerts the webhook channel took."""
    return [alert.id for alert in fakes.senders["webhook"].sent]


CASES = [
    pytest.param(
        # POST /process/camera/{id}: the frame is fetched, detected and one row written.
        Case(
            "process_camera",
            "http",
            "process_camera_request.json",
            200,
            observations,
            [("cam-001-market-5th", "miss", None)],
        ),
        id="process_camera",
    ),
    pytest.param(
        # POST /predict (Vertex AI's protocol): the hand-built graph's car and person come back.
        Case(
            "inference",
            "http",
            "inference_request.json",
            200,
            detected,
            ["car", "person"],
            loads_model=True,
        ),
        id="inference",
    ),
    pytest.param(
        # camera-sweep (Cloud Scheduler's {}): one camera-jobs message per registered camera.
        Case(
            "sweep",
            "cloudevent",
            "sweep_event.json",
            200,
            published,
            [
                ("camera-jobs", "cam-001-market-5th", "sweep-2001"),
                ("camera-jobs", "cam-002-market-6th", "sweep-2001"),
            ],
        ),
        id="sweep",
    ),
    pytest.param(
        # camera-jobs: the worker processes the camera for its sweep and writes the row.
        Case(
            "camera_worker",
            "cloudevent",
            "camera_job_event.json",
            200,
            observations,
            [("cam-001-market-5th", "miss", "sweep-2001")],
            prepare=fresh,
        ),
        id="camera_worker",
    ),
    pytest.param(
        # violations: a HIGH violation (0.84) is routed to the webhook and email subscribers.
        Case(
            "alert_dispatcher",
            "cloudevent",
            "violation_event.json",
            200,
            routed,
            [("webhook", "d" * 32), ("email", "d" * 32)],
        ),
        id="alert_dispatcher",
    ),
    pytest.param(
        # anomalies: an interval the forecast job found is routed to both subscribers.
        Case(
            "anomaly_dispatcher",
            "cloudevent",
            "violation_event.json",
            200,
            routed,
            [("webhook", "a1" * 12), ("email", "a1" * 12)],
            prepare=as_anomaly,
        ),
        id="anomaly_dispatcher",
    ),
    pytest.param(
        # alert-deliveries: one alert sent to its one subscriber, once.
        Case(
            "alert_delivery",
            "cloudevent",
            "violation_event.json",
            200,
            webhooks,
            ["e" * 32],
            prepare=as_delivery,
        ),
        id="alert_delivery",
    ),
]


@pytest.fixture
def fakes() -> Iterator[Wired]:
    """The fakes, given to the bootstrap that every non-inference function calls."""
    given = wired(
        REGISTRY, {"http://c/1.jpg": jpeg("car1.jpg"), "http://c/2.jpg": jpeg("car1.jpg")}
    )
    bootstrap.bootstrap(Settings(api_keys=TEST_KEYS), **given.overrides())
    yield given
    bootstrap.reset()


@pytest.fixture
def tiny_inference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh inference instance whose model is a hand-built graph with known outputs."""
    monkeypatch.setenv("CAMWATCH_MODEL_PATH", str(known_yolo(tmp_path / "known.onnx")))
    monkeypatch.setenv("CAMWATCH_MODEL_VERSION", "known")
    get_settings.cache_clear()
    monkeypatch.setattr(inference, "_service", None)  # as a new instance starts
    yield
    service = inference._service
    if service is not None and service.batcher is not None:
        service.batcher.close()
    get_settings.cache_clear()


def ready(client: FlaskClient, timeout_s: float = 30) -> None:
    """Wait for ``GET /health`` to answer 200: the model loads in the background."""
    deadline = time.monotonic() + timeout_s
    while (health := client.get("/health")).status_code != 200:
        assert time.monotonic() < deadline, health.get_json()
        time.sleep(0.02)


def call(client: FlaskClient, case: Case) -> TestResponse:
    payload = case.prepare(canned(case.payload))
    if case.signature == "cloudevent":
        return client.post("/", json=payload, headers=CLOUDEVENT)
    return client.open(
        payload["path"], method=payload["method"], json=payload["json"], headers=payload["headers"]
    )


@pytest.mark.parametrize("case", CASES)
def test_each_function_takes_its_canned_payload(
    case: Case, fakes: Wired, tiny_inference: None
) -> None:
    source = str(ROOT / "functions" / case.target / "main.py")
    client = keyed(create_app(case.target, source, case.signature).test_client())
    if case.loads_model:
        ready(client)
    response = call(client, case)
    assert response.status_code == case.status, response.get_data(as_text=True)
    assert case.effect(fakes, response) == case.expected
