-- Who came into the room, when, and how long did each stay near the table? Run from the
-- repository root, with the shared data beside it:
--     vql examples/room_visits.sql
-- tracks(room, 'person') has one row per person followed through the video (FastestDet's
-- people, linked by ByteTrack). dwell(path, polygon) is the seconds the person's feet (the
-- bottom centre of the box) spent inside the polygon; entered(path, polygon) the moment they
-- first were.

LOAD VIDEO '../shared/data/videos/one-by-one-person-detection.mp4' INTO room;

-- Each visit (computed once: the next question reads the result cache).
SELECT track_id, round(first_ts, 1) AS arrived, round(last_ts, 1) AS left_at,
       round(last_ts - first_ts, 1) AS stayed_s
FROM tracks(room, 'person') ORDER BY first_ts;

-- Time spent at the table: the floor around its base (its stand is at about x = 430).
SELECT track_id, round(dwell(path, [[380, 330], [540, 330], [540, 432], [380, 432]]), 1) AS at_table_s,
       round(entered(path, [[380, 330], [540, 330], [540, 432], [380, 432]]), 1) AS reached_table
FROM tracks(room, 'person') ORDER BY track_id;
