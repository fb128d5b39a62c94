"""The predictions function through functions-framework on the local stack, over a simulated
history: 15 days of five demo cameras and one broken one up to two hours ago, forecast by the
forecast job (local backend) then, and asked for by HTTP now: first from BigQuery, then from
Redis, and the 404 and 400 cases."""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import requests

from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.devstack.credentials import auth_headers
from shared.devstack.history import end_of_history, plan_injected, write_history
from shared.devstack.stack import LocalStack
from shared.domain.registry import load_registry
from shared.forecasting.local import LocalBackend
from shared.service_layer.forecasting import ForecastConfig, run_forecasts
from shared.settings import Settings
from tests.unit.test_predictions import schema_check

pytestmark = pytest.mark.e2e

DAYS = 15  # a full model needs 14


@dataclass(frozen=True)
class Forecast:
    url: str
    full: tuple[str, ...]
    short: str
    flaky: str
    broken: str


@pytest.fixture(scope="module")
def forecast(local_stack: LocalStack) -> Forecast:
    """The history and one forecast run in a dataset of its own, and the function reading it."""
    settings = Settings()
    dataset = f"pred_{uuid.uuid4().hex[:8]}"
    warehouse = BigQueryWarehouse(
        bigquery_client(settings.project_id, settings.bigquery_endpoint), dataset, "US", 30, 300
    )
    cameras = load_registry(settings.registry_path).cameras
    broken = next(c for c in cameras if c.id == "cam-021-offline")
    chosen = [*[c for c in cameras if c.id[4:7] in ("001", "002", "003", "004", "005")], broken]
    now = datetime.now(UTC) - timedelta(hours=2)  # the job ran 2 h ago: forecasts reach 22 h
    end_s = end_of_history(now)
    injected = plan_injected(chosen, end_s)
    write_history(warehouse, chosen, DAYS, end_s, seed=5, injected=injected)
    config = ForecastConfig(settings.project_id, dataset, metrics=("vehicles",))
    backend = LocalBackend(warehouse, settings.project_id, dataset)
    run_forecasts(warehouse, backend, config, [c.id for c in chosen], now=now)
    url = local_stack.start_function(
        "predictions", extra_env={"CAMWATCH_BIGQUERY_DATASET": dataset}
    )
    assert injected.short
    assert injected.flaky
    full = tuple(c.id for c in chosen if c.id not in (injected.short, injected.flaky, broken.id))
    return Forecast(url, full, injected.short, injected.flaky, broken.id)


def key() -> dict[str, str]:
    """The stack's API key header (the session's stack exports it)."""
    return auth_headers(dict(os.environ))


def queries(url: str) -> float:
    """``camwatch_prediction_queries_total`` of the function."""
    text = requests.get(f"{url}/metrics", headers=key(), timeout=10).text
    found = re.search(r"^camwatch_prediction_queries_total (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_bulk_answers_from_bigquery_then_from_redis(forecast: Forecast) -> None:
    cameras = [*forecast.full, forecast.short, forecast.flaky, forecast.broken]
    body = {"cameras": cameras, "horizon": 60}
    before = queries(forecast.url)
    first = requests.post(f"{forecast.url}/predictions/bulk", json=body, headers=key(), timeout=30)
    assert first.status_code == 200, first.text
    answer = first.json()
    schema_check("bulk_response", answer)
    assert answer["cache"] == {"hits": 0, "misses": len(cameras)}
    assert queries(forecast.url) == before + 1  # every miss in one query
    by_camera = {p["camera_id"]: p for p in answer["predictions"]}
    assert [p["camera_id"] for p in answer["predictions"]] == cameras
    for camera in (*forecast.full, forecast.short):
        got = by_camera[camera]
        assert got["status"] == "ok", got
        assert 4 <= len(got["points"]) <= 5, got  # the bucket under way and 4 within the hour
        first_start = datetime.fromisoformat(got["points"][0]["timestamp"])
        assert first_start.timestamp() + 900 > time.time()  # nothing already past
        assert got["model"]["backend"] == "local"
    assert by_camera[forecast.short]["forecast_status"] == "short_history"
    assert by_camera[forecast.flaky]["status"] == "no_forecast"
    assert "low coverage" in by_camera[forecast.flaky]["reason"]
    assert by_camera[forecast.broken]["reason"].endswith("no frames in the training window")

    second = requests.post(f"{forecast.url}/predictions/bulk", json=body, headers=key(), timeout=30)
    assert second.json()["cache"] == {"hits": len(cameras), "misses": 0}
    assert queries(forecast.url) == before + 1  # no query the second time
    assert second.json()["predictions"] == answer["predictions"]
    settings = Settings()
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    r = redis.Redis(settings.redis_host, settings.redis_port, password=password)
    ttl = r.ttl(f"prediction:camera:{forecast.full[0]}:horizon:60")
    assert 1700 < ttl <= 1800


def test_a_lower_confidence_narrows_the_interval(forecast: Forecast) -> None:
    camera = forecast.full[0]
    answers: dict[float, dict[str, Any]] = {}
    for level in (0.95, 0.8):
        got = requests.get(
            f"{forecast.url}/predictions/{camera}",
            params={"horizon": "30", "confidence": str(level)},
            headers=key(),
            timeout=30,
        )
        assert got.status_code == 200, got.text
        answers[level] = got.json()["points"][0]
    wide, narrow = answers[0.95], answers[0.8]
    assert narrow["value"] == wide["value"]
    assert narrow["upper"] - narrow["lower"] < wide["upper"] - wide["lower"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "says"),
    [
        (
            "GET",
            "/predictions/cam-999-nowhere",
            {"params": {"horizon": "60"}},
            404,
            "unknown camera 'cam-999-nowhere'",
        ),
        (
            "POST",
            "/predictions/bulk",
            {"json": {"cameras": ["cam-999-nowhere"], "horizon": 60}},
            404,
            "unknown cameras: 'cam-999-nowhere'",
        ),
        (
            "GET",
            "/predictions/{full}",
            {"params": {"horizon": "2000"}},
            400,
            "out of range: 1 to 1440",
        ),
        (
            "GET",
            "/predictions/{full}",
            {"params": {"horizon": "1440"}},
            400,
            "ask for a horizon of at most",
        ),
        (
            "POST",
            "/predictions/bulk",
            {"json": {"cameras": "{full}", "horizon": 60}},
            400,
            "cameras must be a non-empty list",
        ),
        (
            "POST",
            "/predictions/bulk",
            {"data": b"[1, 2", "headers": {"Content-Type": "application/json"}},
            400,
            "not JSON",
        ),
    ],
)
def test_bad_requests_are_404_and_400_with_the_reason(
    forecast: Forecast, method: str, path: str, kwargs: dict[str, Any], status: int, says: str
) -> None:
    if "json" in kwargs and kwargs["json"].get("cameras") == "{full}":
        kwargs = {"json": {**kwargs["json"], "cameras": forecast.full[0]}}
    url = forecast.url + path.format(full=forecast.full[0])
    headers = {**kwargs.pop("headers", {}), **key()}
    got = requests.request(method, url, headers=headers, timeout=30, **kwargs)
    assert got.status_code == status, got.text
    assert says in got.json()["message"], got.json()


def test_bulk_refuses_a_horizon_beyond_every_forecast(forecast: Forecast) -> None:
    cameras = [*forecast.full, forecast.short, forecast.flaky, forecast.broken]
    url = f"{forecast.url}/predictions/bulk"
    got = requests.post(url, json={"cameras": cameras, "horizon": 1440}, headers=key(), timeout=30)
    assert got.status_code == 400, got.text
    message = got.json()["message"]
    assert got.json()["error"] == "bad_request"
    assert message.startswith("a horizon of 1440 minutes is beyond every camera's forecast: ")
    assert f"{forecast.full[0]}: vehicles forecasts reach " in message
    assert forecast.flaky not in message  # no forecast: nothing to reach
    assert forecast.broken not in message
    reach = re.search(r"ask for a horizon of at most (\d+) minutes", message)
    assert reach, message
    inside = {"cameras": cameras, "horizon": int(reach.group(1)) - 1}
    again = requests.post(url, json=inside, headers=key(), timeout=30)
    assert again.status_code == 200, again.text
    assert again.json()["predictions"][0]["status"] == "ok"
