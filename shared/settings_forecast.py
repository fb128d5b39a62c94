"""The analysts' part of the one settings object: :class:`shared.settings.Settings` inherits
these fields (``CAMWATCH_FORECAST_*``, ``CAMWATCH_ANOMALY_*``, ``CAMWATCH_PREDICTION_*``),
documented with the rest in ``docs/reference/settings.md``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ForecastSettings(BaseSettings):
    """The forecasting, anomaly-alert and predictions settings (docs/forecasting.md,
    docs/predictions.md)."""

    model_config = SettingsConfigDict(env_prefix="CAMWATCH_", extra="ignore", frozen=True)

    # Forecasting (the forecast job; docs/forecasting.md)
    forecast_backend: Literal["auto", "bigquery_ml", "local"] = Field(
        "auto",
        description="Who trains: BigQuery ML, or statsforecast locally (no emulator trains "
        "models); auto: local when CAMWATCH_BIGQUERY_ENDPOINT points at an emulator.",
    )
    forecast_metrics: str = Field(
        "vehicles,persons,violations",
        description="Comma-separated metrics to forecast (vehicles, persons, violations).",
    )
    forecast_horizon_h: int = Field(
        24, gt=0, le=168, description="How far forecasts reach, in hours."
    )
    forecast_history_days: int = Field(
        28, gt=0, le=366, description="Training window: days of history each run reads."
    )
    forecast_min_days: float = Field(
        14.0, gt=0, description="History a full model (daily and weekly seasonality) needs."
    )
    forecast_short_min_days: float = Field(
        1.0,
        gt=0,
        description="History a forecast without training (AI.FORECAST, or its local stand-in) "
        "needs; less: no forecast.",
    )
    forecast_min_coverage: float = Field(
        0.8,
        ge=0.0,
        le=1.0,
        description="Share of buckets with data a series needs; below, it is left out "
        "(ARIMA_PLUS would interpolate the gaps).",
    )
    forecast_max_silence_h: float = Field(
        6.0, gt=0, description="A camera silent this long gets no forecast (it would start late)."
    )
    forecast_holiday_region: str = Field(
        "US", description="ARIMA_PLUS holiday_region (BigQuery ML only)."
    )
    anomaly_threshold: float = Field(
        0.99,
        gt=0.0,
        lt=1.0,
        description="ML.DETECT_ANOMALIES anomaly_prob_threshold: a step is anomalous above it.",
    )
    anomaly_window_h: int = Field(
        24, gt=0, description="Anomalies are looked for in this much of the latest history."
    )
    anomaly_alert_min_steps: int = Field(
        2,
        ge=1,
        description="Consecutive anomalous steps (15-minute buckets; hours for violations) an "
        "interval needs before it raises a traffic.anomaly alert.",
    )
    # Predictions (the predictions HTTP function; docs/predictions.md)
    prediction_cache_ttl_s: int = Field(
        1800, gt=0, description="How long a camera's forecast answer stays cached in Redis."
    )
    prediction_max_cameras: int = Field(
        100, ge=1, le=1000, description="Most cameras one POST /predictions/bulk may name."
    )
