-- ai_forecast: AI.FORECAST (the built-in TimesFM model, no training) of the cameras with too
-- little history for ARIMA_PLUS, from the same rows as series_values.sql, into the forecasts
-- table at confidence 0.95. AI.FORECAST gives no standard error: it is derived from the
-- interval as the domain does (standard_error_from_interval): (upper - lower) / (2 z), z the
-- two-sided normal quantile of 0.95. Rows without a value (a series TimesFM could not
-- forecast) are left out. Placeholders: project, dataset, metric, window_start, cameras,
-- horizon, model_name, model_version, trained_at, run_id.
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
  (prediction_interval_upper_bound - prediction_interval_lower_bound) / (2 * 1.959963984540054),
  confidence_level,
  prediction_interval_lower_bound,
  prediction_interval_upper_bound,
  '${model_name}',
  '${model_version}',
  'bigquery_ml',
  ${trained_at},
  '${run_id}'
FROM AI.FORECAST(
  (
    SELECT camera_id, bucket, value
    FROM `${project}.${dataset}.forecast_series`
    WHERE metric = '${metric}' AND bucket >= ${window_start} AND camera_id IN (${cameras})
  ),
  data_col => 'value',
  timestamp_col => 'bucket',
  id_cols => ['camera_id'],
  horizon => ${horizon},
  confidence_level => 0.95
)
WHERE forecast_value IS NOT NULL
