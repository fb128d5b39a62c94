-- train_arima_plus: one ARIMA_PLUS model per metric, one series per camera
-- (time_series_id_col), trained on the same rows as series_values.sql: the metric's buckets of
-- forecast_series in the training window, for the cameras with enough history and coverage
-- (shared/domain/forecasts.py, plan_series). BigQuery ML has no 15-minute frequency, so the
-- frequency is inferred (AUTO_FREQUENCY); spike, dip and step-change cleaning stay on, and the
-- parts are kept for ML.EXPLAIN_FORECAST. CREATE MODEL takes no query parameters: the values
-- are checked and written in by shared/forecasting/sql.py. Placeholders: project, dataset,
-- model, metric, window_start, cameras, horizon, holiday_region.
CREATE OR REPLACE MODEL `${project}.${dataset}.${model}`
OPTIONS (
  model_type = 'ARIMA_PLUS',
  time_series_timestamp_col = 'bucket',
  time_series_data_col = 'value',
  time_series_id_col = 'camera_id',
  data_frequency = 'AUTO_FREQUENCY',
  holiday_region = '${holiday_region}',
  horizon = ${horizon},
  auto_arima = TRUE,
  clean_spikes_and_dips = TRUE,
  adjust_step_changes = TRUE,
  decompose_time_series = TRUE
) AS
SELECT camera_id, bucket, value
FROM `${project}.${dataset}.forecast_series`
WHERE metric = '${metric}' AND bucket >= ${window_start} AND camera_id IN (${cameras})
