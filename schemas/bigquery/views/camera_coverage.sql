-- camera_coverage: per camera and UTC day, how well the camera was watched: sweeps attempted
-- (observation rows, whatever their status), frames ok, the success rate, the 15-minute
-- buckets that hold at least one ok frame and coverage = those buckets / the buckets expected.
-- A past day expects 96; the current, partial day expects the buckets begun so far (up to and
-- including the current one), so a camera watched since midnight reads 1.0 at noon, not 0.5. A
-- camera's first day counts from midnight too: it reads low until a full day has passed.
-- health: 'ok' (coverage >= 0.8, the forecast policy's minimum), 'degraded' (>= 0.2), 'down'.
-- violations_opened: violations that opened that day (distinct ids of the open rows).
-- Divisions are plain (no SAFE_DIVIDE needed): every group has at least one row.
WITH observations AS (
  -- A row streamed twice (insertIds are best-effort) counts once.
  SELECT
    camera_id,
    frame_status,
    UNIX_SECONDS(event_time) AS seconds,
    DIV(UNIX_SECONDS(event_time), 86400) * 86400 AS day_start
  FROM `${project}.${dataset}.observations`
  QUALIFY ROW_NUMBER() OVER (PARTITION BY observation_id ORDER BY event_time) = 1
),
days AS (
  SELECT
    camera_id,
    day_start,
    COUNT(*) AS sweeps,
    SUM(IF(frame_status = 'ok', 1, 0)) AS frames_ok,
    COUNT(DISTINCT IF(frame_status = 'ok', DIV(seconds, 900), NULL)) AS buckets_with_frames,
    LEAST(96, GREATEST(1, DIV(UNIX_SECONDS(CURRENT_TIMESTAMP()) - day_start, 900) + 1))
      AS buckets_expected
  FROM observations
  GROUP BY camera_id, day_start
),
opened AS (
  SELECT
    camera_id,
    DIV(UNIX_SECONDS(event_time), 86400) * 86400 AS day_start,
    COUNT(DISTINCT violation_id) AS violations_opened
  FROM `${project}.${dataset}.violations`
  WHERE COALESCE(event, 'open') = 'open'
  GROUP BY camera_id, day_start
),
measured AS (
  SELECT
    d.camera_id,
    DATE(TIMESTAMP_SECONDS(d.day_start)) AS day,
    d.sweeps,
    d.frames_ok,
    d.frames_ok / d.sweeps AS success_rate,
    d.buckets_with_frames,
    d.buckets_expected,
    LEAST(1.0, d.buckets_with_frames / d.buckets_expected) AS coverage,
    COALESCE(o.violations_opened, 0) AS violations_opened
  FROM days AS d
  LEFT JOIN opened AS o ON o.camera_id = d.camera_id AND o.day_start = d.day_start
)
SELECT
  *,
  CASE WHEN coverage >= 0.8 THEN 'ok' WHEN coverage >= 0.2 THEN 'degraded' ELSE 'down' END
    AS health
FROM measured
