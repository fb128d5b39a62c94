-- explain_forecast: ML.EXPLAIN_FORECAST of one metric's model (trend, daily and weekly
-- seasonality, holidays, spikes and dips, step changes) into forecast_components: the last
-- explain_history history steps of each camera and every forecast step. Placeholders:
-- project, dataset, model, metric, horizon, explain_history, model_name, model_version,
-- trained_at, run_id.
INSERT INTO `${project}.${dataset}.forecast_components` (
  camera_id,
  metric,
  time_series_timestamp,
  time_series_type,
  time_series_data,
  time_series_adjusted_data,
  standard_error,
  confidence_level,
  prediction_interval_lower_bound,
  prediction_interval_upper_bound,
  trend,
  seasonal_period_daily,
  seasonal_period_weekly,
  holiday_effect,
  spikes_and_dips,
  step_changes,
  residual,
  model_name,
  model_version,
  backend,
  trained_at,
  run_id
)
SELECT
  camera_id,
  '${metric}',
  time_series_timestamp,
  time_series_type,
  time_series_data,
  time_series_adjusted_data,
  standard_error,
  confidence_level,
  prediction_interval_lower_bound,
  prediction_interval_upper_bound,
  trend,
  seasonal_period_daily,
  seasonal_period_weekly,
  holiday_effect,
  spikes_and_dips,
  step_changes,
  residual,
  '${model_name}',
  '${model_version}',
  'bigquery_ml',
  ${trained_at},
  '${run_id}'
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (
      PARTITION BY camera_id, time_series_type ORDER BY time_series_timestamp DESC
    ) AS steps_back
  FROM ML.EXPLAIN_FORECAST(
    MODEL `${project}.${dataset}.${model}`,
    STRUCT(${horizon} AS horizon, 0.95 AS confidence_level)
  )
)
WHERE time_series_type = 'forecast' OR steps_back <= ${explain_history}
