-- A function of your own, from a Python file, next to the built-in ones.
-- Run from the repository root, with the shared data beside it:
--     vql examples/custom_udf.sql

CREATE OR REPLACE FUNCTION redness FROM 'examples/redness.py';
LOAD VIDEO '../shared/data/videos/bottle-detection.mp4' INTO bottles;

-- The reddest moments, one frame per second, with the detector's opinion alongside.
SELECT frame_id, round(ts, 1) AS ts, round(redness, 4) AS redness,
       round(brightness, 3) AS brightness, count_objects(frame, 'bottle') AS bottles
FROM bottles
ORDER BY redness DESC LIMIT 5
SAMPLE 1 FPS;

-- A derived column is a function too: a predicate over the new one.
CREATE OR REPLACE FUNCTION quite_red AS redness(frame) > 0.01;
SELECT count(*) AS frames, count(*) FILTER (WHERE quite_red) AS quite_red_frames
FROM bottles SAMPLE 2 FPS;
