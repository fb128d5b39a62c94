-- camera_latest: the latest state of each camera that has observations: its last observation
-- (time and frame status), its last ok frame (time and counts per class), its last error
-- (time and text), the violations open now (from violations_current) and when the last one
-- opened. One row per camera.
WITH observations AS (
  SELECT * FROM `${project}.${dataset}.observations`
),
last_seen AS (
  SELECT camera_id, event_time AS last_observation_at, frame_status AS last_status
  FROM observations
  QUALIFY ROW_NUMBER() OVER (PARTITION BY camera_id ORDER BY event_time DESC) = 1
),
last_frame AS (
  SELECT
    camera_id,
    event_time AS last_frame_at,
    COALESCE(counts.car, 0) + COALESCE(counts.bus, 0) + COALESCE(counts.truck, 0)
      + COALESCE(counts.motorcycle, 0) AS vehicles,
    COALESCE(counts.person, 0) AS persons,
    COALESCE(counts.bicycle, 0) AS bicycles,
    COALESCE(counts.car, 0) AS cars,
    COALESCE(counts.bus, 0) AS buses,
    COALESCE(counts.truck, 0) AS trucks,
    COALESCE(counts.motorcycle, 0) AS motorcycles
  FROM observations
  WHERE frame_status = 'ok'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY camera_id ORDER BY event_time DESC) = 1
),
last_error AS (
  SELECT camera_id, event_time AS last_error_at, frame_status AS last_error_status, error
    AS last_error
  FROM observations
  WHERE frame_status != 'ok'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY camera_id ORDER BY event_time DESC) = 1
),
violations AS (
  SELECT
    camera_id,
    SUM(IF(state = 'open', 1, 0)) AS open_violations,
    MAX(opened_at) AS last_violation_at
  FROM `${project}.${dataset}.violations_current`
  GROUP BY camera_id
)
SELECT
  s.camera_id,
  s.last_observation_at,
  s.last_status,
  f.last_frame_at,
  f.vehicles,
  f.persons,
  f.bicycles,
  f.cars,
  f.buses,
  f.trucks,
  f.motorcycles,
  e.last_error_at,
  e.last_error_status,
  e.last_error,
  COALESCE(v.open_violations, 0) AS open_violations,
  v.last_violation_at
FROM last_seen AS s
LEFT JOIN last_frame AS f ON f.camera_id = s.camera_id
LEFT JOIN last_error AS e ON e.camera_id = s.camera_id
LEFT JOIN violations AS v ON v.camera_id = s.camera_id
