"""The forecasting port: one metric's series in, rows in the output tables out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from shared.domain.forecast_rows import Evaluation, ModelInfo
from shared.domain.forecasts import Metric
from shared.domain.records import Row

Backend = Literal["bigquery_ml", "local"]


class Tables(Protocol):
    """What a backend needs of the warehouse: queries (SQL files) and row inserts."""

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement; rows as dicts (none for DDL and DML)."""
        ...

    def insert(self, rows: Sequence[Row]) -> None:
        """Insert rows of one table, their ids as insertIds."""
        ...


@dataclass(frozen=True)
class MetricJob:
    """One run's work for one metric: which cameras get which model, and the run's settings."""

    run_id: str
    metric: Metric
    trained_at: str  # ISO 8601, UTC: the run's start
    window_start: str  # ISO 8601, UTC: the training window's first bucket
    full: tuple[str, ...]  # cameras with enough history for a full model
    short: tuple[str, ...]  # cameras forecast without training (AI.FORECAST or stand-in)
    horizon: int  # time steps (buckets) to forecast
    anomaly_since: str  # ISO 8601, UTC: anomalies are looked for from here on
    anomaly_threshold: float
    holiday_region: str = "US"
    explain_history: int = 192  # history steps kept in forecast_components per series


@dataclass
class MetricResult:
    """What a backend did for one metric: the model of each camera, quality, and row counts."""

    models: dict[str, ModelInfo] = field(default_factory=dict)  # camera -> model
    evaluations: dict[str, Evaluation] = field(default_factory=dict)  # camera -> figures
    failed: dict[str, str] = field(default_factory=dict)  # camera -> why no forecast
    forecasts: int = 0
    anomalies: int = 0
    components: int = 0


class ForecastBackend(Protocol):
    """Trains (or fits) one metric's series and writes forecasts, anomalies and components."""

    name: Backend

    def run(self, job: MetricJob) -> MetricResult:
        """Do ``job``; rows go to ``forecasts``, ``anomalies`` and ``forecast_components``."""
        ...
