-- written: what one run wrote for one metric, per camera: the model of its forecasts and the
-- rows in forecasts, anomalies and forecast_components (the BigQuery ML backend's counts, as
-- its INSERT ... SELECT statements write server-side). Placeholders: project, dataset; query
-- parameters @run_id and @metric.
WITH forecasts AS (
  SELECT camera_id, model_name, model_version, COUNT(*) AS forecasts
  FROM `${project}.${dataset}.forecasts`
  WHERE run_id = @run_id AND metric = @metric
  GROUP BY camera_id, model_name, model_version
),
anomalies AS (
  SELECT camera_id, COUNT(*) AS anomalies
  FROM `${project}.${dataset}.anomalies`
  WHERE run_id = @run_id AND metric = @metric
  GROUP BY camera_id
),
components AS (
  SELECT camera_id, COUNT(*) AS components
  FROM `${project}.${dataset}.forecast_components`
  WHERE run_id = @run_id AND metric = @metric
  GROUP BY camera_id
)
SELECT
  f.camera_id,
  f.model_name,
  f.model_version,
  f.forecasts,
  COALESCE(a.anomalies, 0) AS anomalies,
  COALESCE(c.components, 0) AS components
FROM forecasts AS f
LEFT JOIN anomalies AS a ON a.camera_id = f.camera_id
LEFT JOIN components AS c ON c.camera_id = f.camera_id
ORDER BY f.camera_id
