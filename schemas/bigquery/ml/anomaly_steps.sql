-- anomaly_steps: the anomalous steps of one metric that every run so far has written since a
-- time (rows accumulate, one per run that flagged a step), for the anomaly alerts
-- (shared/service_layer/anomaly_alerts.py groups them into intervals). Placeholders: project,
-- dataset, metric, anomaly_since (a TIMESTAMP literal), filled in by shared/forecasting/sql.py.
SELECT
  camera_id,
  metric,
  time_series_timestamp,
  time_series_data,
  lower_bound,
  upper_bound,
  anomaly_probability,
  model_name,
  model_version,
  backend,
  trained_at,
  run_id
FROM `${project}.${dataset}.anomalies`
WHERE metric = '${metric}' AND is_anomaly AND time_series_timestamp >= ${anomaly_since}
ORDER BY camera_id, time_series_timestamp, trained_at
