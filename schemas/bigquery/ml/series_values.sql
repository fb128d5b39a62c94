-- series_values: the training rows of one metric for some cameras, as ARIMA_PLUS reads them
-- (the same SELECT as train_arima_plus.sql); the local backend fits these. Placeholders:
-- project, dataset, metric, window_start, cameras (a quoted, comma-separated list).
SELECT camera_id, bucket, value
FROM `${project}.${dataset}.forecast_series`
WHERE metric = '${metric}' AND bucket >= ${window_start} AND camera_id IN (${cameras})
ORDER BY camera_id, bucket
