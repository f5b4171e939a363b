"""runner='ray' (vql/batch/ray_runner.py, vql/session/runners.py): a plain query's frame
functions computed on a local Ray instance, a video per task, and the query answered in this
process from the result cache, with the answer it has without Ray."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import vql

QUERY = ("SELECT count(*) AS frames, sum(len(detect(frame))) AS boxes FROM clips "
         "WHERE frame_id < 4")


def _clips(con: vql.Connection, videos: Path) -> None:
    con.execute(f"CREATE VIDEO TABLE clips FROM '{videos / 'car-detection.mp4'}'")
    con.execute(f"LOAD VIDEO '{videos / 'bottle-detection.mp4'}' INTO clips")


def test_a_query_on_ray_answers_as_in_this_process_from_values_computed_there(
        videos: Path) -> None:
    pytest.importorskip("ray")
    with vql.connect() as here:
        _clips(here, videos)
        expected = here.execute(QUERY).fetchall()
    with vql.connect(runner="ray") as con:
        _clips(con, videos)
        cursor = con.execute(QUERY)
        assert cursor.fetchall() == expected
        assert cursor.stats is not None and cursor.stats.frames_decoded == 0  # all from Ray
        assert cursor.runner is not None
        assert (cursor.runner.runner, cursor.runner.videos, cursor.runner.failed) == \
            ("ray", 2, ())
        assert cursor.runner.where.endswith("on 1 Ray node")
        assert con.execute("SELECT sum(frames) FROM vql_catalog.result_entries").fetchall() \
            == [(8,)]


def test_set_runner_and_explain(videos: Path) -> None:
    with vql.connect() as con:
        _clips(con, videos)
        con.execute("SET runner = 'ray'")
        lines = [row[-1] for row in con.execute(f"EXPLAIN {QUERY}").fetchall()]
        at = lines.index("== Runner: ray ==")
        assert "over each of the 2 videos of clips, one video per task, on an actor pool of" \
            in lines[at + 1]
        with pytest.raises(vql.ProgrammingError, match="unknown runner 'spark': use 'local', "
                                                       "'ray'"):
            con.execute("SET runner = 'spark'")
        con.execute("SET runner = local")
        lines = [row[-1] for row in con.execute(f"EXPLAIN {QUERY}").fetchall()]
        assert not any(line.startswith("== Runner") for line in lines)
        con.execute("SET threads = 2")  # DuckDB's own settings are still DuckDB's
        assert con.execute("SELECT current_setting('threads')").fetchall() == [(2,)]


def test_a_query_ray_cannot_run_per_video_computes_here_and_says_why(videos: Path) -> None:
    with vql.connect(runner="ray") as con:
        _clips(con, videos)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cursor = con.execute(f"{QUERY} WITH ACCURACY 0.9 BEST EFFORT")
            cursor.fetchall()
        assert cursor.runner is None
        said = [str(w.message) for w in caught if issubclass(w.category, vql.Warning)]
        assert any("runner='ray' was not used: it has a target" in text for text in said)
        assert con.execute("SELECT 41 + 1").fetchall() == [(42,)]  # no video: nothing said
