"""A rolling-origin backtest of the local backend's full model against seasonal naive.

At each cut-off the model is fitted on everything before it and forecasts the next day; the
errors at horizons up to 1 h, 6 h and 24 h are scaled by the in-sample MAE of the weekly
seasonal-naive forecast (MASE), and the 95 % intervals' coverage is counted. Only buckets that
were observed (not interpolated) are scored.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from statsforecast.models import SeasonalNaive

from shared.forecasting.local import judge
from shared.forecasting.local_fit import FitSettings, fit_series, regularise

HORIZONS_H = (1, 6, 24)
METHODS = ("model", "naive_weekly", "naive_daily")


@dataclass(frozen=True)
class Series:
    """One series to backtest: bucket starts (epoch s), values, the bucket and seasons."""

    name: str
    buckets_s: np.ndarray
    values: np.ndarray
    bucket_s: int
    daily: int
    weekly: int


@dataclass
class Scores:
    """Per method and horizon (hours): scaled absolute errors and interval hits, pooled."""

    errors: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    hits: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def add(self, method: str, hours: int, errors: np.ndarray, hits: np.ndarray) -> None:
        """Pool one cut-off's scaled errors and hits."""
        self.errors.setdefault((method, hours), []).extend(errors.tolist())
        self.hits.setdefault((method, hours), []).extend(hits.tolist())

    def mase(self, method: str, hours: int) -> float:
        """Mean absolute scaled error."""
        return float(np.mean(self.errors[(method, hours)]))

    def coverage(self, method: str, hours: int) -> float:
        """Share of actual values inside the 95 % interval."""
        return float(np.mean(self.hits[(method, hours)]))


def _naive(train: np.ndarray, season: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = SeasonalNaive(season_length=season).forecast(train, h, level=[95])
    return f["mean"], f["lo-95"], f["hi-95"]


def backtest(series: Sequence[Series], cutoffs: int, settings: FitSettings | None = None) -> Scores:
    """Cut-offs one day apart, the last one a day before each series' end."""
    scores = Scores()
    for s in series:
        grid, y, observed = regularise(s.buckets_s, s.values, s.bucket_s)
        h = s.daily  # forecast one day
        for k in range(cutoffs, 0, -1):
            cut = len(y) - k * s.daily
            train, actual, seen = y[:cut], y[cut : cut + h], observed[cut : cut + h]
            scale = float(np.mean(np.abs(train[s.weekly :] - train[: -s.weekly])))
            keep = observed[:cut]
            _, fit = fit_series(
                grid[:cut][keep], train[keep], s.bucket_s, s.daily, s.weekly, h, "full", settings
            )
            forecasts = {
                "model": (fit.mean, fit.lo, fit.hi),
                "naive_weekly": _naive(train, s.weekly, h),
                "naive_daily": _naive(train, s.daily, h),
            }
            for method, (mean, lo, hi) in forecasts.items():
                for hours in HORIZONS_H:
                    n = hours * 3600 // s.bucket_s
                    m = seen[:n]
                    errors = np.abs(actual[:n] - mean[:n])[m] / scale
                    hits = ((actual[:n] >= lo[:n]) & (actual[:n] <= hi[:n]))[m]
                    scores.add(method, hours, errors, hits.astype(float))
    return scores


def anomalies_per_day(
    series: Sequence[Series], days: int, threshold: float, settings: FitSettings | None = None
) -> float:
    """In-sample anomalies per series per day over the last ``days`` (observed buckets only).

    Each series is fitted on its whole history, as the backend does, and its last days judged
    with the backend's :func:`~shared.forecasting.local.judge`; on history without incidents
    every anomaly is a false alarm.
    """
    found = 0
    for s in series:
        _, fit = fit_series(
            s.buckets_s, s.values, s.bucket_s, s.daily, s.weekly, 1, "full", settings
        )
        for i in np.flatnonzero(fit.observed)[-days * s.daily :]:
            verdict = judge(fit, int(i), threshold)
            found += verdict is not None and verdict.is_anomaly
    return found / (len(series) * days)


def report(title: str, scores: Scores) -> list[str]:
    """The table printed by the benchmark (and copied into docs/benchmarks.md)."""
    lines = [
        f"== backtest: {title} ==",
        "MASE scaled by the in-sample weekly seasonal-naive MAE; coverage of the 95 % interval",
        f"{'horizon':>8} {'model':>7} {'naive_w':>8} {'naive_d':>8} {'ratio':>6}"
        f" {'cov_model':>9} {'cov_naive_w':>11}",
    ]
    for hours in HORIZONS_H:
        model, weekly = scores.mase("model", hours), scores.mase("naive_weekly", hours)
        lines.append(
            f"{'≤' + str(hours) + ' h':>8} {model:7.3f} {weekly:8.3f} "
            f"{scores.mase('naive_daily', hours):8.3f} {model / weekly:6.3f}"
            f" {scores.coverage('model', hours):9.1%}"
            f" {scores.coverage('naive_weekly', hours):11.1%}"
        )
    return lines
