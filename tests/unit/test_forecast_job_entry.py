"""The forecast job's entry point (``python -m shared.entrypoints.forecast_job``): the registry's
cameras forecast through the configured parts, one summary line, and the exit status Cloud Run
retries on."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.forecasts import Policy
from shared.entrypoints import forecast_job
from shared.errors import DependencyUnavailableError
from shared.logs import configure_logging
from shared.service_layer.anomaly_alerts import AnomalyAlerts
from shared.service_layer.forecasting import ForecastConfig, RunSummary
from shared.settings import Settings
from tests.unit.test_forecast_job import FakeBackend, FakeTables


@pytest.fixture(autouse=True)
def logs_configured() -> None:
    """Cloud Logging JSON set up before the test captures (the first set-up replaces the root
    logger's handlers, the capturing one among them)."""
    configure_logging()


class ReadyTables(FakeTables):
    """The fake warehouse, with the views the job makes sure of; no anomalous steps."""

    ensured = 0

    def ensure_tables(self) -> None:
        self.ensured += 1

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [] if ".anomalies`" in sql else super().query(sql, params)


def wire(monkeypatch: pytest.MonkeyPatch, summary: dict[str, list[dict[str, Any]]]) -> ReadyTables:
    """``forecasting(settings)`` gives fakes: the registry's cameras get ``summary``'s rows."""
    monkeypatch.setenv("CAMWATCH_DEMO_CAMERA_URL", "http://127.0.0.1:9")  # the demo registry's
    monkeypatch.setenv("CAMWATCH_DEMO_BUCKET", "demo")
    tables = ReadyTables(summary)
    config = ForecastConfig("demo", "camwatch", metrics=tuple(summary), policy=Policy())

    def parts(settings: Settings, publish: bool = True) -> tuple[Any, ...]:
        return tables, FakeBackend(), config, AnomalyAlerts(None)

    monkeypatch.setattr(forecast_job, "forecasting", parts)
    return tables


def test_every_registry_camera_is_planned_and_a_summary_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)  # the job runs now: 20 days of 15-minute buckets up to now
    rows = [
        {
            "camera_id": "cam-001-market-5th",
            "points": 20 * 96,
            "first_bucket": now - timedelta(days=20),
            "last_bucket": now - timedelta(minutes=15),
        }
    ]
    tables = wire(monkeypatch, {"vehicles": rows})
    with caplog.at_level(logging.INFO, logger="camwatch.forecast"):
        assert forecast_job.main() == 0
    assert tables.ensured == 1
    statuses = {r.camera_id: r.plan.status for r in tables.inserted}  # type: ignore[attr-defined]
    assert statuses["cam-001-market-5th"] == "forecast"
    assert statuses["cam-021-offline"] == "none"  # every camera of the registry has a row
    summary = [r.getMessage() for r in caplog.records if "series forecast" in r.getMessage()]
    assert len(summary) == 1
    assert "1 series forecast, 0 short history" in summary[0]


def test_a_run_that_forecast_nothing_succeeds_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    wire(monkeypatch, {"vehicles": []})
    with caplog.at_level(logging.INFO, logger="camwatch.forecast"):
        assert forecast_job.main() == 0  # retrying would not help
    assert any(
        r.levelno == logging.WARNING and "forecast nothing" in r.getMessage()
        for r in caplog.records
    )


def test_a_failed_dependency_exits_non_zero_for_cloud_run_to_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def down(settings: Settings, progress: Any = None, publish: bool = True) -> RunSummary:
        raise DependencyUnavailableError("bigquery", "503")

    monkeypatch.setattr(forecast_job, "run_job", down)
    assert forecast_job.main() == 1
