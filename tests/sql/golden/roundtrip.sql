-- One statement per line: the VQL dialect must print it back exactly, or as the text after
-- "=>" when generation normalises it. Lines starting with "--" are comments.
CREATE VIDEO TABLE intersection FROM '../shared/data/videos/car-detection.mp4'
CREATE VIDEO TABLE clips FROM 'archive/**/*.mp4'
LOAD VIDEO 'room.mp4' INTO room
load video 'room.mp4' into room  =>  LOAD VIDEO 'room.mp4' INTO room
LOAD VIDEO ? INTO room  =>  LOAD VIDEO ? INTO room
DROP VIDEO TABLE room
DROP VIDEO TABLE IF EXISTS room
CREATE FUNCTION redness FROM 'udfs/redness.py'
CREATE OR REPLACE FUNCTION redness FROM 'udfs/redness.py'
CREATE FUNCTION busy AS count_objects(frame, 'person') >= 2
CREATE FUNCTION crowded(frame, label) AS count_objects(frame, label) >= 3
DROP FUNCTION busy
DROP FUNCTION IF EXISTS busy
SHOW FUNCTIONS
SHOW TABLES
DESCRIBE room
SELECT congested FROM intersection WITH LATENCY 2s
SELECT congested FROM intersection WITH LATENCY 500ms
SELECT congested FROM intersection WITH LATENCY 1.5min
SELECT congested FROM intersection WITH LATENCY 2s AND ACCURACY 0.9
SELECT congested FROM intersection WITH ACCURACY 0.9 AND COST 0.05
SELECT frame_id, ts FROM room WHERE has_object(frame, 'person') SAMPLE 1 FPS
SELECT frame_id FROM room SAMPLE 0.5 FPS WITH LATENCY 10s
SELECT frame_id FROM room LIMIT 10 SAMPLE 2 FPS
SELECT frame_id FROM room AS r SAMPLE 2 FPS
SELECT frame_id FROM room r SAMPLE 2 FPS  =>  SELECT frame_id FROM room AS r SAMPLE 2 FPS
EXPLAIN SELECT congested FROM intersection
EXPLAIN ANALYZE SELECT count(*) FROM room  =>  EXPLAIN ANALYZE SELECT COUNT(*) FROM room
EXPLAIN SELECT congested FROM intersection WITH LATENCY 2s
-- Plain DuckDB SQL is untouched by the VQL additions.
SELECT 1
-- SQL's own functions print in upper case; VQL functions keep the case they were written in.
SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 1 ORDER BY a LIMIT 5  =>  SELECT a, COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > 1 ORDER BY a LIMIT 5
WITH x AS (SELECT 1 AS a) SELECT a FROM x
SELECT list_filter([1, 2, 3], lambda x: x > 1)  =>  SELECT LIST_FILTER([1, 2, 3], LAMBDA x : x > 1)
SELECT * FROM t USING SAMPLE 10%  =>  SELECT * FROM t USING SAMPLE SYSTEM (10 PERCENT)
SELECT sample FROM t
SELECT t.sample FROM t
SELECT * EXCLUDE (a) FROM t
CREATE TABLE events (t0 DOUBLE, t1 DOUBLE, name TEXT)
INSERT INTO events VALUES (1.0, 2.0, 'a')
SELECT a FROM t WHERE a = $1
WITH seen AS (SELECT frame_id, has_object(frame, 'person') AS p FROM room) SELECT frame_id FROM seen WHERE p SAMPLE 2 FPS
WITH a AS (SELECT 1 AS x) SELECT x FROM a WITH LATENCY 2s BEST EFFORT
RENDER 'out.mp4' AS SELECT path, frame_id FROM room LIMIT 3
RENDER TIMELINE 'plot.png' AS SELECT ts, brightness FROM room SAMPLE 1 FPS
-- Typed macro parameters (DuckDB types; printed as sqlglot names them, stored as DuckDB does).
CREATE FUNCTION atleast(frame, k INTEGER) AS count_objects(frame, 'car') >= k  =>  CREATE FUNCTION atleast(frame, k INT) AS count_objects(frame, 'car') >= k
CREATE FUNCTION near(frame, lo DOUBLE, labels VARCHAR[]) AS brightness(frame) > lo  =>  CREATE FUNCTION near(frame, lo DOUBLE, labels TEXT[]) AS brightness(frame) > lo
-- VQL's listings read as subqueries; SUMMARIZE with SAMPLE.
SELECT name FROM (SHOW FUNCTIONS) WHERE kind = 'udf'
WITH f AS (SHOW FUNCTIONS) SELECT * FROM f
SELECT * FROM (SHOW TABLES) AS t
SUMMARIZE room
SUMMARIZE SELECT brightness FROM room SAMPLE 1 FPS
-- The query of CREATE TABLE ... AS and INSERT may end in VQL's clauses (they apply to the statement).
CREATE TABLE s AS SELECT frame_id FROM room SAMPLE 1 FPS
INSERT INTO s SELECT frame_id FROM room SAMPLE 2 FPS
