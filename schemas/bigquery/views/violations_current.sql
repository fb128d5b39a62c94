-- violations_current: each violation's current state, one row per violation_id, from its latest
-- event (highest event_seq). Rows from before lifecycles (no event, no event_seq) count as the
-- open event, seq 0. The project and dataset placeholders are filled in by
-- shared/adapters/warehouse.py (string.Template) and by Terraform (templatefile).
WITH events AS (
  SELECT
    v.*,
    COALESCE(v.event, 'open') AS kind,
    COALESCE(v.event_seq, 0) AS seq
  FROM `${project}.${dataset}.violations` AS v
),
latest AS (
  SELECT * FROM events
  QUALIFY ROW_NUMBER() OVER (PARTITION BY violation_id ORDER BY seq DESC, event_time DESC) = 1
),
opened AS (
  SELECT * FROM events
  QUALIFY ROW_NUMBER() OVER (PARTITION BY violation_id ORDER BY seq, event_time) = 1
),
counted AS (
  -- A row streamed twice (insertIds are best-effort) counts once.
  SELECT violation_id, COUNT(DISTINCT seq) AS events
  FROM events
  GROUP BY violation_id
)
SELECT
  l.violation_id,
  l.camera_id,
  l.type,
  l.zone,
  l.class_name,
  COALESCE(l.track_id, o.track_id) AS track_id,
  l.confidence,
  l.box,
  COALESCE(o.evidence_uri, l.evidence_uri) AS evidence_uri,
  o.event_time AS opened_at,
  COALESCE(l.started_at, o.started_at) AS started_at,
  l.last_seen_at,
  l.dwell_s,
  IF(l.kind = 'close', 'closed', 'open') AS state,
  IF(l.kind = 'close', l.event_time, NULL) AS closed_at,
  l.event_time AS updated_at,
  l.kind AS last_event,
  c.events,
  o.alerted
FROM latest AS l
JOIN opened AS o ON o.violation_id = l.violation_id
JOIN counted AS c ON c.violation_id = l.violation_id
