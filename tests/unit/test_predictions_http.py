"""The predictions function through functions-framework (``functions/predictions/main.py``):
routes, statuses and reasons, with the fakes of ``tests/unit/fakes.py`` behind the bootstrap and
a warehouse that answers the predictions query with a forecast starting now."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from shared import bootstrap
from shared.settings import Settings
from tests.conftest import ROOT
from tests.unit.fakes import TEST_KEYS, keyed, registry_of, wired
from tests.unit.test_predictions import schema_check

CAMERAS = ("cam-001-market-5th", "cam-002-market-6th")


class LiveTables:
    """Every camera the SQL names has a vehicles forecast: 4 hours of 15-minute points from the
    current bucket, value 20, standard error 3."""

    def __init__(self) -> None:
        self.queries = 0

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.queries += 1
        start = int(time.time()) // 900 * 900
        rows = []
        for camera in (c for c in CAMERAS if f"'{c}'" in sql):
            for i in range(16):
                rows.append(
                    {
                        "camera_id": camera,
                        "metric": "vehicles",
                        "status": "forecast",
                        "reason": None,
                        "run_id": "run-1",
                        "trained_at": datetime.fromtimestamp(start - 600, UTC),
                        "model_name": "local.statsforecast.mstl_autoarima",
                        "model_version": "v1",
                        "backend": "local",
                        "last_point": datetime.fromtimestamp(start + 15 * 900, UTC),
                        "forecast_timestamp": datetime.fromtimestamp(start + i * 900, UTC),
                        "forecast_value": 20.0,
                        "standard_error": 3.0,
                        "lower_bound": 14.12,
                        "upper_bound": 25.88,
                    }
                )
        return rows

    def insert(self, rows: Any) -> None:
        raise AssertionError("predictions never write")


@pytest.fixture
def client() -> Iterator[tuple[FlaskClient, LiveTables]]:
    tables = LiveTables()
    fakes = wired(registry_of(*({"id": c, "source": f"http://c/{c}.jpg"} for c in CAMERAS)))
    bootstrap.bootstrap(Settings(api_keys=TEST_KEYS), **fakes.overrides(), tables=tables)
    source = ROOT / "functions" / "predictions" / "main.py"
    yield keyed(create_app("predictions", str(source), "http").test_client()), tables
    bootstrap.reset()


def test_get_answers_points_from_now_within_the_horizon(
    client: tuple[FlaskClient, LiveTables],
) -> None:
    http, _ = client
    got = http.get(f"/predictions/{CAMERAS[0]}?horizon=60&confidence=0.9")
    assert got.status_code == 200, got.get_json()
    body = got.get_json()
    schema_check("prediction", body)
    assert body["status"] == "ok"
    assert body["model"]["backend"] == "local"
    assert 4 <= len(body["points"]) <= 5  # the bucket under way, and those starting within 1 h
    assert body["points"][0]["lower"] == pytest.approx(20 - 1.6449 * 3, abs=1e-3)
    assert got.headers["X-Request-Id"]


def test_bulk_answers_every_camera_then_from_the_cache(
    client: tuple[FlaskClient, LiveTables],
) -> None:
    http, tables = client
    body = {"cameras": list(CAMERAS), "horizon": 120, "metric": "vehicles"}
    first = http.post("/predictions/bulk", json=body)
    assert first.status_code == 200, first.get_json()
    schema_check("bulk_response", first.get_json())
    assert first.get_json()["cache"] == {"hits": 0, "misses": 2}
    second = http.post("/predictions/bulk", json=body)
    assert second.get_json()["cache"] == {"hits": 2, "misses": 0}
    assert tables.queries == 1
    metrics = http.get("/metrics").get_data(as_text=True)
    assert 'camwatch_prediction_cache_total{result="hit"}' in metrics
    assert 'camwatch_requests_total{code="200",route="predictions_bulk"}' in metrics


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error", "says"),
    [
        (
            "GET",
            "/predictions/cam-nope",
            {"query_string": {"horizon": "60"}},
            404,
            "camera_not_found",
            "unknown camera 'cam-nope'",
        ),
        (
            "GET",
            "/predictions/Bad%20Id",
            {"query_string": {"horizon": "60"}},
            400,
            "bad_request",
            "malformed camera id",
        ),
        ("GET", f"/predictions/{CAMERAS[0]}", {}, 400, "bad_request", "horizon is required"),
        (
            "GET",
            f"/predictions/{CAMERAS[0]}",
            {"query_string": {"horizon": "600"}},
            400,
            "bad_request",
            "at most",
        ),
        ("POST", f"/predictions/{CAMERAS[0]}", {}, 405, "method_not_allowed", "use GET"),
        ("GET", "/predictions/bulk", {}, 405, "method_not_allowed", "POST a JSON body"),
        (
            "POST",
            "/predictions/bulk",
            {"data": "cameras", "content_type": "text/plain"},
            400,
            "bad_request",
            "is not JSON",
        ),
        (
            "POST",
            "/predictions/bulk",
            {"data": "{", "content_type": "application/json"},
            400,
            "invalid_json",
            "",
        ),
        (
            "POST",
            "/predictions/bulk",
            {"json": {"cameras": ["cam-nope"], "horizon": 5}},
            404,
            "camera_not_found",
            "unknown cameras: 'cam-nope'",
        ),
        (
            "POST",
            "/predictions/bulk",
            {"json": {"cameras": list(CAMERAS) * 60, "horizon": 5}},
            400,
            "bad_request",
            "120 cameras is over the limit of 100",
        ),
        (
            "POST",
            "/predictions/bulk",
            {"json": {"cameras": list(CAMERAS), "horizon": 600}},
            400,
            "bad_request",
            "at most",
        ),
        ("GET", "/nowhere", {}, 404, "not_found", "no route GET /nowhere"),
    ],
)
def test_each_bad_request_has_its_status_and_reason(
    client: tuple[FlaskClient, LiveTables],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    error: str,
    says: str,
) -> None:
    http, tables = client
    got = http.open(path, method=method, **kwargs)
    assert got.status_code == status, got.get_json()
    assert got.get_json()["error"] == error
    assert says in got.get_json()["message"]
    # refused before any query, but for a horizon past the forecast (known once it is read)
    assert tables.queries == (1 if says == "at most" else 0)


def test_health_and_status(client: tuple[FlaskClient, LiveTables]) -> None:
    http, _ = client
    assert http.get("/health").get_json() == {"ok": True}
    status = http.get("/status").get_json()
    assert set(status["dependencies"]) == {"redis", "bigquery"}
    assert status["ok"]
