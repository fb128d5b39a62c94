"""The local backend's input and scale: series put on their grid, counts fitted on Anscombe's
square-root scale and mapped back, nothing forecast below zero, no collapsed interval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from shared.domain.forecasts import METRICS
from shared.domain.timestamps import iso_utc as iso
from shared.forecasting.local import group_series
from shared.forecasting.local_fit import (
    FitSettings,
    Transform,
    backward,
    fit_series,
    forward,
    regularise,
)
from tests.unit.test_forecast_local import END, job, run


@pytest.mark.parametrize("transform", ["anscombe", "log1p", "none"])
def test_transforms_round_trip_and_keep_order(transform: Transform) -> None:
    y = np.array([0.0, 0.1, 0.5, 1.0, 3.0, 40.0])
    z = forward(y, transform)
    assert backward(z, transform) == pytest.approx(y, abs=1e-9)
    assert np.all(np.diff(z) > 0)
    below = backward(z - 5.0, transform)  # far below the model scale's zero
    assert np.all(np.diff(below) >= 0)
    if transform != "none":
        assert np.all(below >= 0)


def quiet_night_rows(camera: str) -> list[dict[str, Any]]:
    """Hourly violations: a few at midday, almost none at night, 15 days."""
    rng = np.random.default_rng(7)
    hours = np.arange(END - 15 * 86_400, END, 3600)
    hour = (hours % 86_400) / 3600
    counts = rng.poisson(0.02 + 3.0 * np.exp(-0.5 * ((hour - 13) / 3) ** 2))
    return [
        {"camera_id": camera, "bucket": iso(int(t)), "value": float(c)}
        for t, c in zip(hours, counts, strict=True)
    ]


def test_quiet_nights_forecast_nothing_negative() -> None:
    metric = METRICS["violations"]
    rows = quiet_night_rows("cam-q")
    tables, _ = run(rows, job(("cam-q",), metric=metric))
    forecasts = tables.table("forecasts")
    assert len(forecasts) == 24
    for r in forecasts:
        assert r["forecast_value"] >= 0
        assert r["prediction_interval_lower_bound"] >= 0
        assert r["standard_error"] > 0  # a quiet hour is still uncertain
    values = [r["forecast_value"] for r in forecasts]
    assert max(values) > 1.0  # midday is still forecast busy
    # on the raw scale (the old model) the same series goes below zero at night
    raw, _ = run(rows, job(("cam-q",), metric=metric), FitSettings(transform="none"))
    assert min(r["prediction_interval_lower_bound"] for r in raw.table("forecasts")) < 0


def test_a_camera_gone_quiet_keeps_an_interval_above_zero() -> None:
    """Three days without violations after busy ones: the model-scale forecast dips below the
    value of 0 at some hour; it is raised to it with its interval, which keeps its width."""
    rng = np.random.default_rng(0)
    hours = np.arange(0, 15 * 86_400, 3600)
    hour = (hours % 86_400) // 3600
    rate = np.where((hour >= 8) & (hour < 18), 6.0, 0.5)
    rate[-3 * 24 :] = 0.0
    _, fit = fit_series(hours, rng.poisson(rate).astype(float), 3600, 24, 168, 24, "full")
    assert np.all(fit.lo >= 0)
    assert np.all(fit.mean >= fit.lo)
    assert np.all(fit.hi > 0)


def test_regularise_fills_gaps_and_averages_duplicates() -> None:
    buckets = np.array([0, 900, 900, 3600, 4500])
    values = np.array([1.0, 2.0, 4.0, 6.0, 7.0])
    grid, y, observed = regularise(buckets, values, 900)
    assert grid.tolist() == [0, 900, 1800, 2700, 3600, 4500]
    assert y.tolist() == [1.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # 1800 and 2700 between 3 and 6
    assert observed.tolist() == [True, True, False, False, True, True]


def test_group_series_reads_datetimes_and_text() -> None:
    rows: list[dict[str, Any]] = [
        {"camera_id": "a", "bucket": datetime(2026, 1, 1, tzinfo=UTC), "value": 1},
        {"camera_id": "a", "bucket": "2026-01-01T00:15:00Z", "value": 2.5},
        {"camera_id": "a", "bucket": "2026-01-01T00:30:00", "value": None},
    ]
    (buckets, values) = group_series(rows)["a"]
    assert buckets.tolist() == [1_767_225_600, 1_767_226_500]
    assert values.tolist() == [1.0, 2.5]
