"""process_camera through functions-framework on the real local stack."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
from flask.testing import FlaskClient
from functions_framework import create_app

from shared import bootstrap
from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.credentials import KEY_VARIABLE, auth_headers
from shared.devstack.procs import free_port
from shared.devstack.stack import LocalStack
from shared.settings import Settings, get_settings
from tests.unit.fakes import keyed

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
SOURCE = str(ROOT / "functions" / "process_camera" / "main.py")
RESPONSE = json.loads((ROOT / "schemas" / "process_camera_response.schema.json").read_text())
SNAPSHOT_CAMERAS = [
    "cam-001-market-5th",
    "cam-003-mission-3rd",
    "cam-007-harrison-8th",
    "cam-019-harbour-gateway",
    "cam-020-plaza-recorder",
]


@pytest.fixture(scope="module")
def client(local_stack: LocalStack) -> Iterator[FlaskClient]:
    get_settings.cache_clear()
    bootstrap.reset()
    app = create_app("process_camera", SOURCE, "http")
    yield keyed(app.test_client(), os.environ[KEY_VARIABLE])  # the stack's API key
    bootstrap.reset()
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def warehouse(local_stack: LocalStack) -> BigQueryWarehouse:
    settings = Settings()
    client = bigquery_client(settings.project_id, settings.bigquery_endpoint)
    return BigQueryWarehouse(client, settings.bigquery_dataset, "US", 10)


def rows(warehouse: BigQueryWarehouse, camera_id: str) -> list[dict[str, Any]]:
    return warehouse.query(
        "SELECT observation_id, frame_status, frame_hash, cache_status, counts, error, "
        f"ARRAY_LENGTH(detections) AS n FROM `{warehouse.table_id('observations')}` "
        "WHERE camera_id = @cam ORDER BY event_time",
        {"cam": camera_id},
    )


def test_cameras_are_processed_and_recorded(client: FlaskClient, warehouse) -> None:
    for camera_id in SNAPSHOT_CAMERAS:
        response = client.post(f"/process/camera/{camera_id}")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        jsonschema.validate(body, RESPONSE)
        assert body["cache"] == "miss"
        assert body["recorded"] is True
        assert response.headers["X-Request-Id"] == body["request_id"]
        [row] = rows(warehouse, camera_id)
        assert row["observation_id"] == body["observation_id"]
        assert row["frame_status"] == "ok"
        assert row["cache_status"] == "miss"
        assert row["frame_hash"] == body["frame"]["hash"]
        assert row["counts"] == body["counts"]
        assert row["n"] == len(body["detections"])
    # The bus camera reproduces the reference detections of ../shared/README.md.
    bus = client.post("/process/camera/cam-001-market-5th").get_json()
    assert bus["counts"] == {
        "person": 2,
        "bicycle": 0,
        "car": 1,
        "motorcycle": 0,
        "bus": 1,
        "truck": 0,
    }
    assert len({d["track_id"] for d in bus["detections"]}) == 4  # one track per road user


def test_unchanged_camera_hits_the_cache_without_a_new_row(client: FlaskClient, warehouse) -> None:
    camera_id = "cam-010-mission-16th"
    first = client.post(f"/process/camera/{camera_id}").get_json()
    second = client.post(f"/process/camera/{camera_id}").get_json()
    assert (first["cache"], second["cache"]) == ("miss", "hit")
    assert second["detections"] == first["detections"]
    assert "detect" not in second["latency_ms"]  # no inference on a hit
    assert "decode" not in second["latency_ms"]  # the same bytes: no decode either
    assert len(rows(warehouse, camera_id)) == 1


def test_live_camera_misses_on_each_new_frame(client: FlaskClient, warehouse) -> None:
    camera_id = "cam-013-civic-center-plaza-north"
    bodies = [client.post(f"/process/camera/{camera_id}").get_json() for _ in range(2)]
    assert [b["cache"] for b in bodies] == ["miss", "miss"]
    assert bodies[0]["frame"]["hash"] != bodies[1]["frame"]["hash"]
    assert len(rows(warehouse, camera_id)) == 2


def test_bursting_camera_detects_its_frames_together(client: FlaskClient, warehouse) -> None:
    # cam-016 bursts 3 frames 1 s apart; the clip moves a frame per request.
    camera_id = "cam-016-union-square-west"
    response = client.post(f"/process/camera/{camera_id}")
    body = response.get_json()
    assert response.status_code == 200, body
    jsonschema.validate(body, RESPONSE)
    assert (body["cache"], body["burst_frames"]) == ("miss", 3)
    assert body["latency_ms"]["fetch"] >= 2000  # polled 1 s apart
    assert all("track_id" in d for d in body["detections"])
    second = client.post(f"/process/camera/{camera_id}").get_json()
    assert second["frame"]["hash"] != body["frame"]["hash"]
    assert len(rows(warehouse, camera_id)) == 2  # one row per job, not per frame


@pytest.mark.parametrize(
    ("camera_id", "kind"),
    [
        ("cam-023-plaza-mjpeg", "mjpeg"),  # an endless multipart/x-mixed-replace stream
        ("cam-024-plaza-hls", "hls"),  # a live HLS playlist of MPEG-TS segments
    ],
)
def test_stream_cameras_give_frames(
    client: FlaskClient, warehouse, camera_id: str, kind: str
) -> None:
    response = client.post(f"/process/camera/{camera_id}")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["frame"]["source_kind"] == kind
    assert (body["frame"]["width"], body["frame"]["height"]) == (768, 576)
    assert rows(warehouse, camera_id)[0]["frame_status"] == "ok"


@pytest.mark.parametrize(
    ("camera_id", "kind", "message"),
    [
        ("cam-021-offline", "unreachable", "127.0.0.1:9"),  # nothing listens
        ("cam-022-maintenance", "not_image", "text/html"),  # an HTML page with 200
    ],
)
def test_broken_cameras_answer_502_and_record_health(
    client: FlaskClient, warehouse, camera_id: str, kind: str, message: str
) -> None:
    response = client.post(f"/process/camera/{camera_id}")
    assert response.status_code == 502
    body = response.get_json()
    assert body["error"] == kind
    assert message in body["message"]
    [row] = rows(warehouse, camera_id)
    assert row["frame_status"] == kind
    assert message in row["error"]
    assert row["n"] == 0


@pytest.mark.parametrize(
    ("method", "path", "data", "status", "error"),
    [
        ("POST", "/process/camera/cam-404-nowhere", None, 404, "camera_not_found"),
        ("POST", "/process/camera/Bad%20Id!", None, 400, "bad_request"),
        ("POST", "/process/camera/cam-001-market-5th", b"{not json", 400, "invalid_json"),
        ("GET", "/process/camera/cam-001-market-5th", None, 405, "method_not_allowed"),
        ("GET", "/no/such/route", None, 404, "not_found"),
    ],
)
def test_bad_requests(client: FlaskClient, method, path, data, status, error) -> None:
    response = client.open(path, method=method, data=data, content_type="application/json")
    assert response.status_code == status
    assert response.get_json()["error"] == error


def test_health_status_and_metrics(client: FlaskClient) -> None:
    assert client.get("/health").get_json() == {"ok": True}
    status = client.get("/status")
    assert status.status_code == 200
    deps = status.get_json()["dependencies"]
    assert set(deps) == {"redis", "bigquery", "storage"}
    assert all(d["ok"] for d in deps.values())
    client.post("/process/camera/cam-002-market-6th")
    client.post("/process/camera/cam-002-market-6th")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'camwatch_cache_total{result="hit"}' in text
    assert 'camwatch_stage_seconds_bucket{le="0.001",stage="detect"}' in text
    assert 'camwatch_frame_errors_total{kind="unreachable"}' in text
    assert 'camwatch_requests_total{code="200",route="process"}' in text


def test_dependency_down_is_503_naming_it(local_stack: LocalStack, monkeypatch) -> None:
    monkeypatch.setenv("CAMWATCH_REDIS_PORT", str(free_port()))
    get_settings.cache_clear()
    bootstrap.reset()
    try:
        app = create_app("process_camera", SOURCE, "http")
        dead = keyed(app.test_client(), os.environ[KEY_VARIABLE])
        response = dead.post("/process/camera/cam-001-market-5th")
        assert response.status_code == 503
        assert response.get_json()["dependency"] == "redis"
        # /status too: its caller's rate limit lives in Redis, and a limiter that cannot
        # count refuses (fail closed), naming the dependency.
        status = dead.get("/status")
        assert status.status_code == 503
        assert status.get_json()["dependency"] == "redis"
        assert status.headers["Retry-After"]
    finally:
        get_settings.cache_clear()
        bootstrap.reset()


def test_functions_framework_server_process(local_stack: LocalStack) -> None:
    """The CLI entry point Cloud Run runs (gunicorn), as a separate process."""
    url = local_stack.start_function()
    assert requests.get(f"{url}/health", timeout=10).json() == {"ok": True}
    camera = f"{url}/process/camera/cam-006-folsom-1st"
    response = requests.post(camera, headers=auth_headers(local_stack.env), timeout=60)
    assert response.status_code == 200
    assert response.json()["counts"]["person"] > 0


def test_violation_recorded_with_evidence_and_published(client: FlaskClient, warehouse) -> None:
    """cam-005's registry bus lane holds the car of the reference frame."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from shared.adapters.blobstore import GcsBlobStore, storage_client
    from shared.devstack.stack import PROJECT

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(PROJECT, "violations-e2e-tap")  # a copy of each message
    subscriber.create_subscription(
        name=path, topic=f"projects/{PROJECT}/topics/violations", timeout=15
    )
    body = client.post("/process/camera/cam-005-howard-2nd").get_json()
    [v] = body["violations"]
    assert (v["type"], v["zone"], v["class_name"], v["alerted"]) == (
        "bus_lane",
        "market-bus-lane",
        "car",
        True,
    )
    settings = Settings()
    bucket, name = v["evidence_uri"].removeprefix("gs://").split("/", 1)
    blobs = GcsBlobStore(storage_client(settings.project_id, settings.storage_emulator_host))
    assert blobs.read(bucket, name, 10**7)[:3] == b"\xff\xd8\xff"  # a JPEG
    [row] = warehouse.query(
        f"SELECT type, zone, confidence, observation_id FROM `{warehouse.table_id('violations')}`"
        " WHERE violation_id = @id",
        {"id": v["violation_id"]},
    )
    assert row["observation_id"] == body["observation_id"]
    assert 0.6 < row["confidence"] <= 0.84
    ids = []
    for _ in range(5):
        response = subscriber.pull(subscription=path, max_messages=50, timeout=5)
        ids += [json.loads(m.message.data)["violation_id"] for m in response.received_messages]
        if v["violation_id"] in ids:
            break
    assert v["violation_id"] in ids
    assert client.post("/process/camera/cam-005-howard-2nd").get_json()["violations"] == []
