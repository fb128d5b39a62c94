"""The forecast job's wiring: its warehouse, backend, configuration and anomaly alerts."""

from __future__ import annotations

from shared.adapters.bus import PubSubBus
from shared.adapters.warehouse import BigQueryWarehouse, bigquery_client
from shared.domain.forecasts import Policy
from shared.forecasting.port import ForecastBackend
from shared.service_layer.anomaly_alerts import AnomalyAlerts
from shared.service_layer.forecasting import ForecastConfig
from shared.settings import Settings


def forecasting(
    settings: Settings, publish: bool = True
) -> tuple[BigQueryWarehouse, ForecastBackend, ForecastConfig, AnomalyAlerts]:
    """The forecast job's warehouse, backend, configuration (``CAMWATCH_FORECAST_*``) and
    anomaly alerts (``CAMWATCH_ANOMALY_*``: published on Pub/Sub, or only found when not
    ``publish``).

    ``auto`` picks the local backend when BigQuery is an emulator (no emulator trains models),
    BigQuery ML otherwise. The local backend's library (statsforecast) is a development
    dependency: the cloud image never imports it.
    """
    s = settings
    tables = BigQueryWarehouse(
        bigquery_client(s.project_id, s.bigquery_endpoint),
        s.bigquery_dataset,
        s.bigquery_location,
        s.bigquery_timeout_s,
        job_timeout_s=3600,  # training ARIMA_PLUS takes minutes; DML over the history too
    )
    kind = s.forecast_backend
    if kind == "auto":
        kind = "local" if s.bigquery_endpoint else "bigquery_ml"
    backend: ForecastBackend
    if kind == "local":
        from shared.forecasting.local import LocalBackend

        backend = LocalBackend(tables, s.project_id, s.bigquery_dataset)
    else:
        from shared.forecasting.bqml import BigQueryMLBackend

        backend = BigQueryMLBackend(tables, s.project_id, s.bigquery_dataset)
    config = ForecastConfig(
        project=s.project_id,
        dataset=s.bigquery_dataset,
        metrics=tuple(m.strip() for m in s.forecast_metrics.split(",") if m.strip()),
        horizon_h=s.forecast_horizon_h,
        history_days=s.forecast_history_days,
        policy=Policy(
            min_days=s.forecast_min_days,
            short_min_days=s.forecast_short_min_days,
            min_coverage=s.forecast_min_coverage,
            max_silence_h=s.forecast_max_silence_h,
        ),
        holiday_region=s.forecast_holiday_region,
        anomaly_threshold=s.anomaly_threshold,
        anomaly_window_h=s.anomaly_window_h,
    )
    alerts = AnomalyAlerts(
        PubSubBus(s.project_id) if publish else None,
        s.anomaly_alert_min_steps,
        s.anomaly_window_h,
    )
    return tables, backend, config, alerts
