"""The BigQuery ML backend against a fake warehouse that records its SQL and answers its reads."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.domain.forecast_rows import Evaluation
from shared.domain.forecasts import METRICS
from shared.domain.records import Row
from shared.errors import WarehouseRejectedError
from shared.forecasting import sql
from shared.forecasting.bqml import TIMESFM_MODEL, BigQueryMLBackend, evaluation
from shared.forecasting.port import MetricJob

TRAINED = "2026-01-29T06:00:00Z"


@dataclass
class FakeTables:
    """Records every statement; answers evaluate and written; refuses what ``refuse`` names."""

    evaluate: list[dict[str, Any]] = field(default_factory=list)
    written: list[dict[str, Any]] = field(default_factory=list)
    refuse: str | None = None
    version: str | None = None
    statements: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)

    def query(self, text: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        self.statements.append((text, params))
        if self.refuse and self.refuse in text:
            raise WarehouseRejectedError(f"BigQuery: refused {self.refuse}")
        if "ML.ARIMA_EVALUATE" in text:
            return self.evaluate
        if "@run_id" in text:
            return self.written
        return []

    def insert(self, rows: Sequence[Row]) -> None:
        raise AssertionError("the BigQuery ML backend writes server-side, never row by row")

    def kinds(self) -> list[str]:
        """Each statement named by what it does."""
        names = {
            "CREATE OR REPLACE MODEL": "train",
            "ML.FORECAST": "forecast",
            "ML.DETECT_ANOMALIES": "detect",
            "ML.EXPLAIN_FORECAST": "explain",
            "ML.ARIMA_EVALUATE": "evaluate",
            "AI.FORECAST": "ai_forecast",
            "@run_id": "written",
        }
        return [next(v for k, v in names.items() if k in text) for text, _ in self.statements]


class VersionedTables(FakeTables):
    """A warehouse that can read a model's etag."""

    def model_version(self, model_id: str) -> str:
        self.version = model_id
        return "etag/AbC+1=="


def _job(**change: Any) -> MetricJob:
    values: dict[str, Any] = {
        "run_id": "run-20260129T060000Z-abc123",
        "metric": METRICS["vehicles"],
        "trained_at": TRAINED,
        "window_start": "2026-01-01T06:00:00Z",
        "full": ("cam-1", "cam-2"),
        "short": ("cam-3",),
        "horizon": 96,
        "anomaly_since": "2026-01-28T06:00:00Z",
        "anomaly_threshold": 0.99,
        "holiday_region": "GB",
        "explain_history": 192,
    }
    return MetricJob(**(values | change))


def _written(camera: str, model: str, forecasts: int = 96) -> dict[str, Any]:
    return {
        "camera_id": camera,
        "model_name": model,
        "model_version": "v1",
        "forecasts": forecasts,
        "anomalies": 2,
        "components": 288,
    }


def test_statements_run_in_order_with_the_jobs_values_written_in() -> None:
    tables = FakeTables(
        written=[_written(c, "bqml.arima_plus.forecast_vehicles") for c in ("cam-1", "cam-2")]
        + [_written("cam-3", TIMESFM_MODEL)]
    )
    result = BigQueryMLBackend(tables, "proj", "data").run(_job())

    assert tables.kinds() == [
        "train",
        "forecast",
        "detect",
        "explain",
        "evaluate",
        "ai_forecast",
        "written",
    ]
    train, forecast, detect, explain, _, ai, written = (t for t, _ in tables.statements)
    assert "CREATE OR REPLACE MODEL `proj.data.forecast_vehicles`" in train
    assert "holiday_region = 'GB'" in train
    assert "horizon = 96" in train
    assert "camera_id IN ('cam-1', 'cam-2')" in train  # the full cameras only
    assert "bucket >= TIMESTAMP '2026-01-01T06:00:00Z'" in train
    assert "INSERT INTO `proj.data.forecasts`" in forecast
    assert "STRUCT(96 AS horizon, 0.95 AS confidence_level)" in forecast
    assert f"'trained {TRAINED}'" in forecast  # no etag reader: the training time
    assert "STRUCT(0.99 AS anomaly_prob_threshold)" in detect
    assert "time_series_timestamp >= TIMESTAMP '2026-01-28T06:00:00Z'" in detect
    assert "steps_back <= 192" in explain
    assert "camera_id IN ('cam-3')" in ai
    assert f"'{TIMESFM_MODEL}'" in ai
    assert tables.statements[-1][1] == {
        "run_id": "run-20260129T060000Z-abc123",
        "metric": "vehicles",
    }
    assert "`proj.data.anomalies`" in written
    for text, _ in tables.statements:  # every placeholder filled, the run id everywhere it goes
        assert "$" not in text
    assert all("'run-20260129T060000Z-abc123'" in t for t in (forecast, detect, explain, ai))

    assert sorted(result.models) == ["cam-1", "cam-2", "cam-3"]
    assert result.models["cam-3"].name == TIMESFM_MODEL
    assert result.models["cam-1"].backend == "bigquery_ml"
    assert (result.forecasts, result.anomalies, result.components) == (288, 6, 864)
    assert result.failed == {}


def test_the_model_version_is_the_etag_when_the_warehouse_reads_it() -> None:
    tables = VersionedTables()
    BigQueryMLBackend(tables, "proj", "data").run(_job(short=()))
    assert tables.version == "proj.data.forecast_vehicles"
    forecast = tables.statements[1][0]
    assert "'etag/AbC+1=='" in forecast


def test_evaluations_are_read_and_failed_series_reported() -> None:
    tables = FakeTables(
        evaluate=[
            {
                "camera_id": "cam-1",
                "non_seasonal_p": 2,
                "non_seasonal_d": 1,
                "non_seasonal_q": 1,
                "has_drift": False,
                "log_likelihood": -120.5,
                "aic": 251.0,
                "variance": 1.7,
                "seasonal_periods": ["DAILY", "WEEKLY"],
                "error_message": None,
            },
            {"camera_id": "cam-2", "error_message": "too few points"},
        ],
        written=[_written("cam-1", "bqml.arima_plus.forecast_vehicles")],
    )
    result = BigQueryMLBackend(tables, "proj", "data").run(_job(short=()))
    assert result.evaluations == {
        "cam-1": Evaluation(2, 1, 1, False, -120.5, 251.0, 1.7, ("DAILY", "WEEKLY"))
    }
    assert result.failed == {"cam-2": "ARIMA_PLUS: too few points"}
    assert list(result.models) == ["cam-1"]


def test_a_refused_training_fails_its_cameras_and_the_short_ones_still_run() -> None:
    tables = FakeTables(
        refuse="CREATE OR REPLACE MODEL", written=[_written("cam-3", TIMESFM_MODEL)]
    )
    result = BigQueryMLBackend(tables, "proj", "data").run(_job())
    assert tables.kinds() == ["train", "ai_forecast", "written"]
    assert set(result.failed) == {"cam-1", "cam-2"}
    assert "refused CREATE OR REPLACE MODEL" in result.failed["cam-1"]
    assert list(result.models) == ["cam-3"]


def test_a_camera_without_written_rows_is_reported() -> None:
    tables = FakeTables(written=[_written("cam-1", "bqml.arima_plus.forecast_vehicles")])
    result = BigQueryMLBackend(tables, "proj", "data").run(_job())
    assert result.failed == {
        "cam-2": "BigQuery ML wrote no forecast for this camera",
        "cam-3": "BigQuery ML wrote no forecast for this camera",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"full": ("cam-1", "x'); DROP TABLE t; --")},  # a camera id that is not one
        {"holiday_region": "us'"},
        {"window_start": "yesterday"},
        {"run_id": "run 1"},
        {"anomaly_threshold": float("nan")},
    ],
)
def test_unchecked_values_never_reach_sql(change: dict[str, Any]) -> None:
    tables = FakeTables()
    with pytest.raises(sql.SqlValueError):
        BigQueryMLBackend(tables, "proj", "data").run(_job(**change))
    assert tables.statements == []  # checked before the first statement


def test_bad_project_or_dataset_is_refused() -> None:
    with pytest.raises(sql.SqlValueError):
        BigQueryMLBackend(FakeTables(), "proj`; --", "data")


def test_labels_refuse_quotes() -> None:
    assert sql.label("bqml.arima_plus.forecast_vehicles") == "bqml.arima_plus.forecast_vehicles"
    for bad in ("it's", "a\\b", "line\nbreak", ""):
        with pytest.raises(sql.SqlValueError):
            sql.label(bad)


def test_evaluation_keeps_missing_figures_missing() -> None:
    assert evaluation({"camera_id": "c"}) == Evaluation()
    got = evaluation({"non_seasonal_p": 1.0, "has_drift": 1, "seasonal_periods": None})
    assert (got.non_seasonal_p, got.has_drift, got.seasonal_periods) == (1, True, ())


def test_model_name_in_rows_says_the_backend() -> None:
    tables = FakeTables()
    BigQueryMLBackend(tables, "proj", "data").run(_job(short=()))
    assert re.search(r"'bqml\.arima_plus\.forecast_vehicles'", tables.statements[1][0])
