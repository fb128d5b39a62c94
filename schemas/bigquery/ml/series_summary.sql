-- series_summary: per camera, the history of one metric in the training window: how many
-- buckets hold data, the first and the last. The forecast job decides each camera's model from
-- it (shared/domain/forecasts.py, plan_series). Placeholders: project, dataset, metric,
-- window_start (a TIMESTAMP literal), filled in by shared/forecasting/sql.py.
SELECT
  camera_id,
  COUNT(*) AS points,
  MIN(bucket) AS first_bucket,
  MAX(bucket) AS last_bucket
FROM `${project}.${dataset}.forecast_series`
WHERE metric = '${metric}' AND bucket >= ${window_start}
GROUP BY camera_id
ORDER BY camera_id
