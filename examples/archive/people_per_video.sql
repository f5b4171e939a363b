-- A query file for `vql run`: it runs once per video of the archive (the table `videos`
-- holds that one video while it runs).
SELECT count(*) AS frames_seen,
       count(*) FILTER (WHERE has_object(frame, 'person')) AS frames_with_people,
       round(max(ts), 1) AS seconds
FROM videos SAMPLE 1 FPS;
