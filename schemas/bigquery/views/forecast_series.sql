-- forecast_series: the training series of every forecast metric, one row per camera, metric
-- and bucket (its start) with at least one ok frame; both forecasting backends train from it
-- (schemas/bigquery/ml/series_*.sql, train_arima_plus.sql). vehicles and persons: the
-- 15-minute averages of counts_15min. violations: violations opened in the hour (all types,
-- violations_hourly), 0 for an hour with ok frames and none opened; an hour without an ok
-- frame has no row (the camera was not watching: no value, not a zero). `frames` is the ok
-- frames behind the value; `simulated` is TRUE when any of them came from `make history`.
WITH counts AS (
  SELECT camera_id, metric, bucket, value, frames, simulated
  FROM `${project}.${dataset}.counts_15min`
  WHERE metric IN ('vehicles', 'persons')
),
watched_hours AS (
  SELECT
    camera_id,
    TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(bucket), 3600) * 3600) AS hour,
    SUM(frames) AS frames,
    LOGICAL_OR(simulated) AS simulated
  FROM counts
  WHERE metric = 'vehicles'
  GROUP BY camera_id, hour
),
opened AS (
  SELECT camera_id, hour, SUM(opened) AS opened, LOGICAL_OR(simulated) AS simulated
  FROM `${project}.${dataset}.violations_hourly`
  GROUP BY camera_id, hour
)
SELECT camera_id, metric, bucket, CAST(value AS FLOAT64) AS value, frames, simulated
FROM counts
UNION ALL
SELECT
  h.camera_id,
  'violations' AS metric,
  h.hour AS bucket,
  CAST(COALESCE(o.opened, 0) AS FLOAT64) AS value,
  h.frames,
  h.simulated OR COALESCE(o.simulated, FALSE) AS simulated
FROM watched_hours AS h
LEFT JOIN opened AS o ON o.camera_id = h.camera_id AND o.hour = h.hour
