-- How many cars passed, and which way? Run from the repository root, with the shared data beside it:
--     vql examples/cars_per_direction.sql
-- tracks(table, 'vehicle') has one row per car followed through the video (track(frame,
-- 'vehicle'): YOLO where its weights are installed, moving objects otherwise). Its path is the
-- bottom centre of the car's box in each frame; crossings(path, x1, y1, x2, y2) counts how it
-- crosses the line drawn from (x1, y1) to (x2, y2): +1 downwards on the screen for a line drawn
-- left to right, -1 upwards.

LOAD VIDEO '../shared/data/videos/car-detection.mp4' INTO intersection;

-- The cars, one row each (computed once: later questions read the result cache).
SELECT track_id, round(first_ts, 1) AS first_ts, round(last_ts, 1) AS last_ts, frames
FROM tracks(intersection, 'vehicle') ORDER BY first_ts;

-- Per direction across the middle of the picture.
SELECT CASE crossings(path, 0, 216, 768, 216) WHEN 1 THEN 'down' WHEN -1 THEN 'up'
       ELSE 'did not cross' END AS direction, count(*) AS cars
FROM tracks(intersection, 'vehicle') GROUP BY direction ORDER BY direction;

-- The most cars in view at once.
SELECT max(len(track(frame, 'vehicle'))) AS most_at_once FROM intersection;
