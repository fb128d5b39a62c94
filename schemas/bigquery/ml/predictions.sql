-- predictions: what the predictions function answers from (shared/service_layer/predictions.py),
-- for a batch of cameras in one query: per camera and metric the latest forecast_status row
-- (its status, reason and model), how far that run's forecast reaches (last_point), and its
-- points from ${window_start} to ${until}. One row per point; a series without points in the
-- window (no forecast, or one that has ended) still has one row, with NULL point columns.
-- Placeholders: project, dataset, cameras (a quoted list), status_since, window_start and
-- until (TIMESTAMP literals), filled in by shared/forecasting/sql.py.
WITH latest AS (
  SELECT
    run_id, camera_id, metric, status, reason, model_name, model_version, backend, trained_at
  FROM `${project}.${dataset}.forecast_status`
  WHERE camera_id IN (${cameras}) AND trained_at >= ${status_since}
  QUALIFY
    ROW_NUMBER() OVER (PARTITION BY camera_id, metric ORDER BY trained_at DESC, run_id DESC) = 1
),
steps AS (
  SELECT
    f.run_id,
    f.camera_id,
    f.metric,
    f.forecast_timestamp,
    f.forecast_value,
    f.standard_error,
    f.prediction_interval_lower_bound,
    f.prediction_interval_upper_bound
  FROM `${project}.${dataset}.forecasts` AS f
  INNER JOIN latest AS l
    ON f.run_id = l.run_id AND f.camera_id = l.camera_id AND f.metric = l.metric
  WHERE f.forecast_timestamp >= ${window_start}
),
reach AS (
  SELECT run_id, camera_id, metric, MAX(forecast_timestamp) AS last_point
  FROM steps
  GROUP BY run_id, camera_id, metric
)
SELECT
  l.camera_id,
  l.metric,
  l.status,
  l.reason,
  l.run_id,
  l.trained_at,
  l.model_name,
  l.model_version,
  l.backend,
  r.last_point,
  s.forecast_timestamp,
  s.forecast_value,
  s.standard_error,
  s.prediction_interval_lower_bound AS lower_bound,
  s.prediction_interval_upper_bound AS upper_bound
FROM latest AS l
LEFT JOIN reach AS r
  ON l.run_id = r.run_id AND l.camera_id = r.camera_id AND l.metric = r.metric
LEFT JOIN steps AS s
  ON
    l.run_id = s.run_id
    AND l.camera_id = s.camera_id
    AND l.metric = s.metric
    AND s.forecast_timestamp <= ${until}
ORDER BY l.camera_id, l.metric, s.forecast_timestamp
