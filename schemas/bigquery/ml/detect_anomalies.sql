-- detect_anomalies: ML.DETECT_ANOMALIES of one metric's model over its training history, the
-- anomalous steps since anomaly_since into the anomalies table. anomaly_id is the domain's
-- (shared/domain/forecast_rows.py, anomaly_id): the first 24 hex digits of SHA-256 of
-- 'camera|metric|timestamp', the timestamp as YYYY-MM-DDTHH:MM:SSZ in UTC, so the same step
-- found again, by either backend, keeps its id. Placeholders: project, dataset, model, metric,
-- threshold, anomaly_since, model_name, model_version, trained_at, run_id.
INSERT INTO `${project}.${dataset}.anomalies` (
  anomaly_id,
  camera_id,
  metric,
  time_series_timestamp,
  time_series_data,
  is_anomaly,
  lower_bound,
  upper_bound,
  anomaly_probability,
  anomaly_prob_threshold,
  model_name,
  model_version,
  backend,
  trained_at,
  run_id
)
SELECT
  SUBSTR(TO_HEX(SHA256(CONCAT(
    camera_id, '|', '${metric}', '|',
    FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%SZ', time_series_timestamp, 'UTC')
  ))), 1, 24),
  camera_id,
  '${metric}',
  time_series_timestamp,
  time_series_data,
  is_anomaly,
  lower_bound,
  upper_bound,
  anomaly_probability,
  ${threshold},
  '${model_name}',
  '${model_version}',
  'bigquery_ml',
  ${trained_at},
  '${run_id}'
FROM ML.DETECT_ANOMALIES(
  MODEL `${project}.${dataset}.${model}`,
  STRUCT(${threshold} AS anomaly_prob_threshold)
)
WHERE is_anomaly AND time_series_timestamp >= ${anomaly_since}
