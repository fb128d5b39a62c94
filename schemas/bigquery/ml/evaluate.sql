-- evaluate: ML.ARIMA_EVALUATE's figures of each camera's chosen model (orders, drift,
-- log-likelihood, AIC, variance, seasonal periods; error_message when the series failed),
-- read by shared/forecasting/bqml.py into Evaluation and written with forecast_status.
-- Placeholders: project, dataset, model.
SELECT
  camera_id,
  non_seasonal_p,
  non_seasonal_d,
  non_seasonal_q,
  has_drift,
  log_likelihood,
  AIC AS aic,
  variance,
  seasonal_periods,
  error_message
FROM ML.ARIMA_EVALUATE(
  MODEL `${project}.${dataset}.${model}`,
  STRUCT(FALSE AS show_all_candidate_models)
)
