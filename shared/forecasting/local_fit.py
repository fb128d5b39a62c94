"""The local backend's fitting core: one series in, forecast, fitted values and parts out.

Pure numpy and statsforecast, no I/O, so the benchmark fits exactly what the backend fits.
A series is first put on its bucket grid (gaps filled by linear interpolation, as ARIMA_PLUS
does), then decomposed by MSTL (STL per season, daily then weekly) and the deseasonalised series
(trend plus remainder) forecast by AutoARIMA (full history) or AutoETS (short history); the
seasonal parts are continued by repeating their last cycle, as statsforecast's MSTL does.
Counts are fitted on Anscombe's ``sqrt(y + 3/8)`` (by default); forecast and interval are mapped
back by their end points (the point forecast becomes a median, never below zero).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import statsforecast
from statsforecast.models import MSTL, AutoARIMA, AutoETS, SeasonalNaive

Kind = Literal["full", "short"]
Transform = Literal["none", "anscombe", "log1p"]
LEVEL = 95  # the interval written to the forecasts table (ML.FORECAST's 0.95)


@dataclass(frozen=True)
class FitSettings:
    """How a series is fitted; the defaults are the measured trade-off (docs/benchmarks.md)."""

    loess_jump: int = 10  # statsmodels STL's seasonal/trend/low-pass jumps: speed, same parts
    trend_days: float | None = 7.0  # fit the trend model on the last days only (None: all)
    max_order: int = 2  # AutoARIMA's largest p and q
    approximation: bool = True  # AutoARIMA's order search by conditional sum of squares
    spike_z: float | None = 5.0  # clean spikes and dips beyond this robust z (None: keep all)
    level: int = LEVEL
    transform: Transform = "anscombe"  # the scale the model is fitted on (counts: Anscombe)

    def stl_kwargs(self) -> dict[str, int]:
        """The LOESS jumps passed to statsmodels' STL."""
        j = self.loess_jump
        return {"seasonal_jump": j, "trend_jump": j, "low_pass_jump": j}


@dataclass
class Fit:
    """One series' fit on its bucket grid (``n`` history steps, ``h`` forecast steps).

    ``y``, ``adjusted``, ``mean``, ``lo`` and ``hi`` are in the series' units; the in-sample fit
    and the MSTL parts are on the model's scale (``forward(y, transform)``).
    """

    kind: Kind
    model: str  # the statsforecast model, with its settings, for ModelInfo.version
    seasons: tuple[int, ...]
    y: np.ndarray  # the regularised history (n)
    adjusted: np.ndarray  # the history after spike and dip cleaning (what was decomposed)
    observed: np.ndarray  # bool (n): a real bucket, not an interpolated one
    mean: np.ndarray  # forecast (h): the back-transformed model forecast (a median)
    lo: np.ndarray  # the model's interval, back-transformed by its end points
    hi: np.ndarray
    fitted: np.ndarray  # in-sample one-step fit (n), model scale
    fitted_lo: np.ndarray  # model scale
    fitted_hi: np.ndarray
    transform: Transform = "none"
    trend: np.ndarray | None = None  # MSTL parts (n), None when there is no decomposition
    seasonal: dict[int, np.ndarray] = field(default_factory=dict)  # season -> part (n)
    remainder: np.ndarray | None = None
    trend_forecast: np.ndarray | None = None  # (h)
    seasonal_forecast: dict[int, np.ndarray] = field(default_factory=dict)  # season -> (h)
    arima: dict[str, Any] | None = None  # the AutoARIMA trend model's figures


def regularise(
    buckets_s: np.ndarray, values: np.ndarray, bucket_s: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The series on its bucket grid: ``(grid starts, values, observed mask)``.

    Duplicate buckets are averaged (as ARIMA_PLUS does), missing buckets between the first and
    the last are filled by linear interpolation between their neighbours.
    """
    order = np.argsort(buckets_s, kind="stable")
    b = (np.asarray(buckets_s, dtype=np.int64)[order] // bucket_s) * bucket_s
    v = np.asarray(values, dtype=float)[order]
    starts, inverse = np.unique(b, return_inverse=True)
    means = np.bincount(inverse, weights=v) / np.bincount(inverse)
    grid = np.arange(starts[0], starts[-1] + bucket_s, bucket_s, dtype=np.int64)
    observed = np.isin(grid, starts)
    return grid, np.interp(grid, starts, means), observed


def forward(y: np.ndarray, transform: Transform) -> np.ndarray:
    """Values on the model's scale: Anscombe's ``sqrt(y + 3/8)``, ``log1p(y)`` or as they are."""
    if transform == "anscombe":
        return np.asarray(np.sqrt(np.maximum(y, 0.0) + 0.375))
    if transform == "log1p":
        return np.asarray(np.log1p(np.maximum(y, 0.0)))
    return np.asarray(y, dtype=float)


def backward(z: np.ndarray, transform: Transform) -> np.ndarray:
    """The inverse of :func:`forward`, monotone, so quantiles map to quantiles; never below 0."""
    if transform == "anscombe":
        return np.asarray(np.maximum(np.maximum(z, np.sqrt(0.375)) ** 2 - 0.375, 0.0))
    if transform == "log1p":
        return np.asarray(np.expm1(np.maximum(z, 0.0)))
    return np.asarray(z, dtype=float)


def _seasons(n: int, daily: int, weekly: int, kind: Kind) -> tuple[int, ...]:
    """The seasons a series of ``n`` steps can be decomposed by (two cycles each)."""
    wanted = (daily, weekly) if kind == "full" else (daily,)
    return tuple(s for s in wanted if n >= 2 * s)


def fit_series(
    buckets_s: np.ndarray,
    values: np.ndarray,
    bucket_s: int,
    daily: int,
    weekly: int,
    horizon: int,
    kind: Kind,
    settings: FitSettings | None = None,
) -> tuple[np.ndarray, Fit]:
    """Fit one series and forecast ``horizon`` steps; returns the grid and the fit.

    ``kind`` 'full' decomposes by the daily and weekly seasons and forecasts the trend with
    AutoARIMA; 'short' (the stand-in for AI.FORECAST) uses the daily season only and AutoETS,
    or a seasonal naive forecast when the series holds less than two days.
    """
    s = settings or FitSettings()
    if len(values) < 4:
        raise ValueError(f"{len(values)} points: too few to fit")
    grid, y, observed = regularise(buckets_s, values, bucket_s)
    seasons = _seasons(len(y), daily, weekly, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            fit = _fit(forward(y, s.transform), observed, seasons, daily, horizon, kind, s)
    fit.y, fit.adjusted, fit.transform = y, backward(fit.adjusted, s.transform), s.transform
    if s.transform != "none":  # a median below 0 counts: raise it to 0, the interval with it
        lift = np.maximum(forward(np.zeros(1), s.transform) - fit.mean, 0.0)
        fit.mean, fit.lo, fit.hi = fit.mean + lift, fit.lo + lift, fit.hi + lift
    fit.mean, fit.lo, fit.hi = (backward(v, s.transform) for v in (fit.mean, fit.lo, fit.hi))
    if not (np.all(np.isfinite(fit.mean)) and np.all(np.isfinite(fit.lo))):
        raise ValueError("the model gave a non-finite forecast")
    return grid, fit


def _trend_model(kind: Kind, s: FitSettings) -> AutoARIMA | AutoETS:
    if kind == "full":
        return AutoARIMA(
            max_p=s.max_order, max_q=s.max_order, seasonal=False, approximation=s.approximation
        )
    return AutoETS(model="ZZN")


def _fit(
    y: np.ndarray,
    observed: np.ndarray,
    seasons: tuple[int, ...],
    daily: int,
    horizon: int,
    kind: Kind,
    s: FitSettings,
) -> Fit:
    level = [s.level]
    lo_key, hi_key = f"lo-{s.level}", f"hi-{s.level}"
    version = f"statsforecast-{statsforecast.__version__}"
    if not seasons:  # under two days: repeat yesterday, with its residual spread
        naive = SeasonalNaive(season_length=daily if len(y) >= daily else 1)
        f = naive.forecast(y, horizon, level=level, fitted=True)
        fitted = np.nan_to_num(f["fitted"], nan=float(y[0]))
        return Fit(
            kind,
            f"{version} seasonal_naive={naive.season_length}"
            + (f" transform={s.transform}" if s.transform != "none" else ""),
            (),
            y,
            y,
            observed,
            f["mean"],
            f[lo_key],
            f[hi_key],
            fitted,
            np.nan_to_num(f[f"fitted-{lo_key}"], nan=fitted[0]),
            np.nan_to_num(f[f"fitted-{hi_key}"], nan=fitted[0]),
        )
    trend_model = _trend_model(kind, s)
    model = MSTL(
        season_length=list(seasons), trend_forecaster=trend_model, stl_kwargs=s.stl_kwargs()
    )
    window = None if s.trend_days is None else int(s.trend_days * daily)
    adjusted = clean_spikes(y, seasons, s) if s.spike_z else y
    model = _fit_mstl(model, adjusted, window)
    forecast = model.predict(h=horizon, level=level)
    insample = _in_sample(model, adjusted, window, level)
    parts = model.model_
    names = [f"seasonal{p}" for p in seasons] if len(seasons) > 1 else ["seasonal"]
    seasonal = {p: parts[n].to_numpy() for p, n in zip(seasons, names, strict=True)}
    trend_fc = model.trend_forecaster.predict(h=horizon)["mean"]
    settings = (
        f"seasons={','.join(map(str, seasons))} jump={s.loess_jump} "
        f"trend={'auto_arima' if kind == 'full' else 'auto_ets'}"
        + (f" trend_days={s.trend_days:g}" if s.trend_days else "")
        + (f" spike_z={s.spike_z:g}" if s.spike_z else "")
        + (f" transform={s.transform}" if s.transform != "none" else "")
    )
    return Fit(
        kind=kind,
        model=f"{version} {settings}",
        seasons=seasons,
        y=y,
        adjusted=adjusted,
        observed=observed,
        mean=forecast["mean"],
        lo=forecast[lo_key],
        hi=forecast[hi_key],
        fitted=insample["fitted"],
        fitted_lo=insample[f"fitted-{lo_key}"],
        fitted_hi=insample[f"fitted-{hi_key}"],
        trend=parts["trend"].to_numpy(),
        seasonal=seasonal,
        remainder=parts["remainder"].to_numpy(),
        trend_forecast=trend_fc,
        seasonal_forecast={p: np.resize(seasonal[p][-p:], horizon) for p in seasons},
        arima=_arima_figures(model.trend_forecaster) if kind == "full" else None,
    )


def clean_spikes(y: np.ndarray, seasons: tuple[int, ...], s: FitSettings) -> np.ndarray:
    """The series with spikes and dips replaced by interpolation (ARIMA_PLUS' cleaning).

    A quick first decomposition (coarse LOESS jumps) gives a remainder; steps whose remainder
    lies more than ``spike_z`` robust standard deviations (1.4826 MAD) from its median are
    treated as missing and interpolated, so an incident does not leak into the seasons.
    """
    from statsforecast.mstl import mstl

    if s.spike_z is None:
        return y
    coarse = max(20, 2 * s.loess_jump)
    kwargs = {"seasonal_jump": coarse, "trend_jump": coarse, "low_pass_jump": coarse}
    r = mstl(x=y, period=list(seasons), stl_kwargs=kwargs)["remainder"].to_numpy()
    deviation = np.abs(r - np.median(r))
    scale = 1.4826 * float(np.median(deviation))
    spikes = deviation > s.spike_z * scale if scale > 0 else np.zeros(len(y), bool)
    if not spikes.any() or spikes.mean() > 0.2:
        return y
    steps = np.arange(len(y))
    cleaned = y.copy()
    cleaned[spikes] = np.interp(steps[spikes], steps[~spikes], y[~spikes])
    return cleaned


def _fit_mstl(model: MSTL, y: np.ndarray, window: int | None) -> MSTL:
    """MSTL's fit, with the trend model fitted on the last ``window`` steps only."""
    if window is None or window >= len(y):
        fitted: MSTL = model.fit(y)
        return fitted
    from statsforecast.mstl import mstl

    model.model_ = mstl(x=y, period=model.season_length, stl_kwargs=model.stl_kwargs)
    deseasonalised = (model.model_["trend"] + model.model_["remainder"]).to_numpy()
    model.trend_forecaster = model.trend_forecaster.new().fit(y=deseasonalised[-window:])
    return model


def _in_sample(model: MSTL, y: np.ndarray, window: int | None, level: list[int]) -> dict[str, Any]:
    """In-sample fit over the whole history; before the trend window, trend plus seasons."""
    res: dict[str, np.ndarray] = model.trend_forecaster.predict_in_sample(level=level)
    seas = model.model_.filter(regex="seasonal*").sum(axis=1).to_numpy()
    n, m = len(y), len(next(iter(res.values())))
    out = {}
    for key, val in res.items():
        full = np.full(n, np.nan)
        full[n - m :] = val
        if m < n:  # older steps: the decomposition's trend, the same half-width as the window's
            spread = 0.0 if key == "fitted" else float(np.nanmedian(val - res["fitted"]))
            full[: n - m] = model.model_["trend"].to_numpy()[: n - m] + spread
        out[key] = full + seas
    return out


def _arima_figures(model: AutoARIMA) -> dict[str, Any]:
    """``ML.ARIMA_EVALUATE``'s figures from statsforecast's fitted ARIMA."""
    fitted = model.model_
    p, q, _, _, _, d, _ = fitted["arma"]
    return {
        "p": int(p),
        "d": int(d),
        "q": int(q),
        "has_drift": "drift" in fitted["coef"],
        "log_likelihood": float(fitted["loglik"]),
        "aic": float(fitted["aic"]),
        "variance": float(fitted["sigma2"]),
    }
