"""``vql watch``: a file of continuous queries over a camera (the road video served on the
loopback interface), with status lines per camera."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import vql


def test_vql_watch_runs_continuous_queries_with_status_lines(tmp_path: Path, serve,
                                                             road_video: Path) -> None:
    sender = serve(road_video)
    queries = tmp_path / "watch.sql"
    queries.write_text(f"""
        CREATE VIDEO TABLE cam FROM '{sender.url}';
        CREATE TABLE alerts (span DOUBLE, frames BIGINT, most INTEGER);
        -- two queries on one camera: one connection to it, shared
        INSERT INTO alerts SELECT floor(ts / 2), count(*), max(vehicle_count) FROM cam GROUP BY 1;
        SELECT frame_id, ts, vehicle_count FROM cam WHERE frame_id % 10 = 0;
    """)
    database = tmp_path / "watch.duckdb"
    result = subprocess.run([sys.executable, "-m", "vql.cli", "watch", str(queries), "--db",
                             str(database), "--interval", "2", "--seconds", "7"],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert rows and all(r["query"] == 4 for r in rows)
    frames = [r["frame_id"] for r in rows]
    assert frames == list(range(0, 10 * len(rows), 10)) and len(rows) >= 3
    status = [line for line in result.stderr.splitlines() if line.startswith("cam: ")]
    assert len(status) >= 4  # every 2 s, a line per query reading the camera
    assert "frames in" in status[-1] and "latency p50" in status[-1]
    assert "Warning: vehicle_count counts moving objects" in result.stderr
    with vql.connect(str(database), read_only=True) as con:
        kept = con.execute("SELECT span, frames FROM alerts ORDER BY span").fetchall()
    assert kept[:2] == [(0.0, 25), (1.0, 25)]  # committed as each window closed


def test_vql_watch_says_when_no_query_reads_a_camera(tmp_path: Path) -> None:
    queries = tmp_path / "plain.sql"
    queries.write_text("SELECT 1;")
    result = subprocess.run([sys.executable, "-m", "vql.cli", "watch", str(queries)],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 1
    assert "no statement of the file reads a live or WATCH table" in result.stderr
