-- counts_15min: objects in view per camera, 15-minute bucket and class, averaged over the
-- frames of the bucket that were fetched and decoded (frame_status = 'ok'); failed fetches are
-- not frames and count nowhere. Long format, one row per camera, bucket and metric: vehicles
-- (car + bus + truck + motorcycle), persons, bicycles, cars, buses, trucks, motorcycles.
-- `frames` is how many ok frames the average is over; `simulated` is TRUE when any of them
-- came from `make history`. The bucket is written portably (the emulator has no
-- TIMESTAMP_BUCKET). The metrics are unpivoted with UNNEST of a STRUCT array (the emulator runs
-- it), so the table is read once, not once per metric as a UNION ALL of the CTE would.
WITH observations AS (
  -- A row streamed twice (insertIds are best-effort) counts once.
  SELECT * FROM `${project}.${dataset}.observations`
  WHERE frame_status = 'ok'
  QUALIFY ROW_NUMBER() OVER (PARTITION BY observation_id ORDER BY event_time) = 1
),
frames AS (
  SELECT
    camera_id,
    TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(event_time), 900) * 900) AS bucket,
    COALESCE(counts.car, 0) + COALESCE(counts.bus, 0) + COALESCE(counts.truck, 0)
      + COALESCE(counts.motorcycle, 0) AS vehicles,
    COALESCE(counts.person, 0) AS persons,
    COALESCE(counts.bicycle, 0) AS bicycles,
    COALESCE(counts.car, 0) AS cars,
    COALESCE(counts.bus, 0) AS buses,
    COALESCE(counts.truck, 0) AS trucks,
    COALESCE(counts.motorcycle, 0) AS motorcycles,
    COALESCE(simulated, FALSE) AS simulated
  FROM observations
),
buckets AS (
  SELECT
    camera_id,
    bucket,
    COUNT(*) AS frames,
    LOGICAL_OR(simulated) AS simulated,
    AVG(vehicles) AS vehicles,
    AVG(persons) AS persons,
    AVG(bicycles) AS bicycles,
    AVG(cars) AS cars,
    AVG(buses) AS buses,
    AVG(trucks) AS trucks,
    AVG(motorcycles) AS motorcycles
  FROM frames
  GROUP BY camera_id, bucket
)
SELECT b.camera_id, b.bucket, m.metric, m.value, b.frames, b.simulated
FROM buckets AS b
CROSS JOIN UNNEST([
  STRUCT('vehicles' AS metric, b.vehicles AS value),
  STRUCT('persons' AS metric, b.persons AS value),
  STRUCT('bicycles' AS metric, b.bicycles AS value),
  STRUCT('cars' AS metric, b.cars AS value),
  STRUCT('buses' AS metric, b.buses AS value),
  STRUCT('trucks' AS metric, b.trucks AS value),
  STRUCT('motorcycles' AS metric, b.motorcycles AS value)
]) AS m
