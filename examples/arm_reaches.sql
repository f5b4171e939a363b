-- Your own detector, tracked: each time an arm reaches in to move a bottle.
-- Run from the repository root, with the shared data beside it:
--     vql examples/arm_reaches.sql
-- A person watching counts 8 reaches, two of them at once (tests/labels/bottle_reaches.csv);
-- so does this. The built-in detector, tracks(bottles, 'person'), finds 11 that do not line
-- up with them: it sees a person where there is none (one track lasts 12 s), and splits arms.

CREATE OR REPLACE FUNCTION red_sleeves FROM 'examples/sleeves.py';
LOAD VIDEO '../shared/data/videos/bottle-detection.mp4' INTO bottles;

SELECT track_id, round(first_ts, 1) AS first_ts, round(last_ts, 1) AS last_ts, frames
FROM tracks(bottles, 'red_sleeves') ORDER BY first_ts;
