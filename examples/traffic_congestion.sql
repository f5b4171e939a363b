-- When is the road congested? Run from the repository root, with the shared data beside it:
--     vql examples/traffic_congestion.sql
-- congested(frame) is vehicle_count(frame) >= 2 (see SHOW FUNCTIONS).

LOAD VIDEO '../shared/data/videos/car-detection.mp4' INTO intersection;

-- Compute the per-frame values once into a plain table; the questions below read it.
CREATE TABLE traffic AS
  SELECT frame_id, ts, vehicle_count, congested FROM intersection;

-- One row per second of video: how many of its frames were congested.
SELECT floor(ts) AS second, count(*) FILTER (WHERE congested) AS congested_frames,
       max(vehicle_count) AS most_vehicles
FROM traffic
GROUP BY 1 ORDER BY 1;

-- The congested stretches: runs of consecutive congested frames (gaps and islands).
WITH marked AS (
  SELECT frame_id, ts, congested,
         frame_id - row_number() OVER (PARTITION BY congested ORDER BY frame_id) AS run
  FROM traffic
)
SELECT round(min(ts), 2) AS starts, round(max(ts), 2) AS ends, count(*) AS frames
FROM marked WHERE congested
GROUP BY run HAVING count(*) >= 5 ORDER BY starts;
