-- forecast: ML.FORECAST of one metric's model into the forecasts table, with exactly its
-- columns at confidence 0.95, plus camera, metric and the model columns. Server-side
-- INSERT ... SELECT: the rows never leave BigQuery. Placeholders: project, dataset, model,
-- metric, horizon, model_name, model_version, trained_at, run_id.
INSERT INTO `${project}.${dataset}.forecasts` (
  camera_id,
  metric,
  forecast_timestamp,
  forecast_value,
  standard_error,
  confidence_level,
  prediction_interval_lower_bound,
  prediction_interval_upper_bound,
  model_name,
  model_version,
  backend,
  trained_at,
  run_id
)
SELECT
  camera_id,
  '${metric}',
  forecast_timestamp,
  forecast_value,
  standard_error,
  confidence_level,
  prediction_interval_lower_bound,
  prediction_interval_upper_bound,
  '${model_name}',
  '${model_version}',
  'bigquery_ml',
  ${trained_at},
  '${run_id}'
FROM ML.FORECAST(
  MODEL `${project}.${dataset}.${model}`,
  STRUCT(${horizon} AS horizon, 0.95 AS confidence_level)
)
