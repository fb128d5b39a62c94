-- violations_hourly: violations OPENED per camera, hour and type. Each violation's lifecycle
-- writes several rows (open, updates, close) and a row may be streamed twice, so the count is
-- of distinct violation ids among the open rows; rows from before lifecycles (no event) count
-- as the open. The hour is the open row's event_time, bucketed portably (no TIMESTAMP_BUCKET
-- on the emulator). `simulated` is TRUE when any counted row came from `make history`.
SELECT
  camera_id,
  TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(event_time), 3600) * 3600) AS hour,
  type,
  COUNT(DISTINCT violation_id) AS opened,
  LOGICAL_OR(COALESCE(simulated, FALSE)) AS simulated
FROM `${project}.${dataset}.violations`
WHERE COALESCE(event, 'open') = 'open'
GROUP BY camera_id, hour, type
