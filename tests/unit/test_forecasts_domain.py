"""Forecasting's domain rules: the interval and standard error, the anomaly verdict, the
coverage rule that decides each series' model."""

from __future__ import annotations

import math

import pytest

from shared.domain.forecasts import (
    METRICS,
    Policy,
    Status,
    coverage_of,
    detect,
    interval,
    plan_series,
    standard_error_from_interval,
    z_score,
)

Z95, Z99 = 1.959964, 2.575829  # two-sided normal quantiles, from tables
DAY = 86_400
NOW = 1_795_000_000 // 900 * 900
VEHICLES = METRICS["vehicles"]


def test_z_score_matches_the_normal_table() -> None:
    assert z_score(0.95) == pytest.approx(Z95, abs=1e-6)
    assert z_score(0.99) == pytest.approx(Z99, abs=1e-6)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 95.0])
def test_z_score_refuses_levels_outside_0_1(level: float) -> None:
    with pytest.raises(ValueError, match="confidence level"):
        z_score(level)


@pytest.mark.parametrize(
    ("lower", "upper", "level", "expected"),
    [
        (-Z95, Z95, 0.95, 1.0),  # the unit interval at 0.95
        (10.0 - 2 * Z95, 10.0 + 2 * Z95, 0.95, 2.0),  # centred elsewhere, se 2
        (0.0, 2 * Z99, 0.99, 1.0),  # another level
        (5.0, 5.0, 0.95, 0.0),  # a point: no uncertainty
    ],
)
def test_standard_error_from_interval(
    lower: float, upper: float, level: float, expected: float
) -> None:
    assert standard_error_from_interval(lower, upper, level) == pytest.approx(expected, abs=1e-6)


def test_interval_and_standard_error_round_trip() -> None:
    lower, upper = interval(12.5, 3.0, 0.95)
    assert lower == pytest.approx(12.5 - 3.0 * Z95, abs=1e-5)
    assert upper == pytest.approx(12.5 + 3.0 * Z95, abs=1e-5)
    assert standard_error_from_interval(lower, upper, 0.95) == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("observed", "expected", "se", "threshold", "probability", "is_anomaly"),
    [
        (10.0, 10.0, 1.0, 0.99, 0.0, False),  # on the expected value
        (10.0 + Z95, 10.0, 1.0, 0.99, 0.95, False),  # at the 95 % bound: not at 0.99
        (10.0 - Z95, 10.0, 1.0, 0.90, 0.95, True),  # a dip, at a lower threshold
        (13.0, 10.0, 1.0, 0.99, 0.997300, True),  # three standard errors
        (16.0, 10.0, 2.0, 0.99, 0.997300, True),  # the same z with a wider error
        (10.0 + Z99, 10.0, 1.0, 0.99, 0.99, False),  # exactly at the threshold: not above
        (10.0, 10.0, 0.0, 0.99, 0.0, False),  # no error, no deviation
        (10.5, 10.0, 0.0, 0.99, 1.0, True),  # no error, any deviation
    ],
)
def test_detect_probability_and_verdict(
    observed: float,
    expected: float,
    se: float,
    threshold: float,
    probability: float,
    is_anomaly: bool,
) -> None:
    verdict = detect(observed, expected, se, threshold)
    assert verdict.anomaly_probability == pytest.approx(probability, abs=1e-5)
    assert verdict.is_anomaly is is_anomaly


@pytest.mark.parametrize(("expected", "se", "threshold"), [(10.0, 1.0, 0.99), (3.0, 0.5, 0.95)])
def test_detect_bounds_are_the_interval_at_the_threshold(
    expected: float, se: float, threshold: float
) -> None:
    verdict = detect(expected + 100, expected, se, threshold)
    half = z_score(threshold) * se
    assert verdict.lower_bound == pytest.approx(expected - half)
    assert verdict.upper_bound == pytest.approx(expected + half)
    assert math.isclose(verdict.upper_bound - verdict.lower_bound, 2 * half)


@pytest.mark.parametrize(
    ("points", "first_s", "last_s", "status", "reason"),
    [
        # no frames in the window
        (0, 0, 0, "none", "no frames"),
        # silent for 10 h: the camera is down now
        (20 * 96, NOW - 21 * DAY, NOW - 10 * 3600, "none", "no data for"),
        # three weeks, half the buckets: low coverage
        (21 * 48, NOW - 21 * DAY, NOW - 900, "none", "low coverage"),
        # three days, all buckets: short history (AI.FORECAST)
        (3 * 96, NOW - 3 * DAY, NOW - 900, "short_history", "AI.FORECAST"),
        # half a day: too little even for that
        (48, NOW - DAY // 2, NOW - 900, "none", "too little history"),
        # three weeks, all buckets: a full model
        (21 * 96, NOW - 21 * DAY, NOW - 900, "forecast", "21.0 days"),
        # exactly two weeks: the full model's minimum
        (14 * 96, NOW - 14 * DAY, NOW - 900, "forecast", "14.0 days"),
    ],
)
def test_plan_series_coverage_rule(
    points: int, first_s: float, last_s: float, status: Status, reason: str
) -> None:
    plan = plan_series(VEHICLES, points, first_s, last_s, NOW, Policy())
    assert plan.status == status
    assert reason in plan.reason


def test_coverage_counts_buckets_from_the_first_to_the_window_end() -> None:
    assert coverage_of(VEHICLES, 96, NOW - DAY, NOW) == pytest.approx(1.0)
    assert coverage_of(VEHICLES, 48, NOW - DAY, NOW) == pytest.approx(0.5)
    assert coverage_of(VEHICLES, 0, NOW - DAY, NOW) == 0.0


def test_metric_seasons_in_buckets() -> None:
    assert (METRICS["vehicles"].daily, METRICS["vehicles"].weekly) == (96, 672)
    assert (METRICS["violations"].daily, METRICS["violations"].weekly) == (24, 168)
